"""When the worker writes its state (workers/stream/state_writer.py), against the real Redis
and a broker whose acknowledgements the test releases: a timed write never makes the agent
wait for the broker, a checkpoint follows its states, and neither outlives a generation."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import faust

from tests.pipelines import CHAT, Broker, Record, Store, escalating, pipeline, records
from workers.queues import QueueKeys
from workers.settings import Settings
from workers.stream.app import build_app
from workers.stream.state_writer import StateWriter


@dataclass(frozen=True)
class GenerationRecord(Record):
    generation_id: int = 0


@dataclass(frozen=True)
class Event:
    message: GenerationRecord


class Acknowledgements:
    """The broker's acknowledgements of what was produced, released by the test."""

    def __init__(self) -> None:
        self.acknowledge = asyncio.Event()
        self.waits = 0

    async def wait_written(self) -> None:
        self.waits += 1
        await self.acknowledge.wait()


class Harness:
    def __init__(self, redis_url: str, queue_keys: QueueKeys, flush_seconds: float = 0.0) -> None:
        self.app = SimpleNamespace(consumer_generation_id=1, rebalancing=False)
        self.broker = Acknowledgements()
        self.log = Broker()  # what read-back would read
        self.sessions, self.offsets = Store(), Store()
        self.pipeline = pipeline(
            redis_url, queue_keys, self.sessions, self.offsets, self.log, self.broker.wait_written
        )
        self.writer = StateWriter(
            cast(faust.App, self.app), self.pipeline, flush_seconds, max_unflushed=1_000
        )
        self._next_offset = 0

    async def batch(self, session: str) -> None:
        """One batch of ``session``'s escalating conversation, in the current generation."""
        batch = [
            Event(GenerationRecord(**vars(r), generation_id=self.app.consumer_generation_id))
            for r in records(escalating(session), first_offset=self._next_offset)
        ]
        self._next_offset += len(batch)
        async with self.writer.batch(cast(Any, batch)) as current:
            await self.pipeline.handle_batch(current)


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run (Redis round trips included) until ``condition`` holds (5 s
    at most)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true within 5 s")


def test_a_timed_write_does_not_wait_for_the_broker(queue_keys: QueueKeys, redis_url: str) -> None:
    async def run() -> None:
        harness = Harness(redis_url, queue_keys)
        await asyncio.wait_for(harness.batch("a"), timeout=5)
        assert harness.sessions.writes == ["a"]  # handed to the table at once
        assert harness.offsets.writes == []  # the checkpoint waits for the broker
        await asyncio.wait_for(harness.batch("b"), timeout=5)
        # Due again, but the last checkpoint is not written: the writes wait for it.
        assert harness.sessions.writes == ["a"]
        assert harness.pipeline.stats["flushes"] == 1
        # The checkpoint on its way counts as applied: nothing is read back meanwhile.
        assert harness.log.reads == []

        harness.broker.acknowledge.set()
        await until(lambda: harness.offsets.data == {f"{CHAT}:0": b"2"})  # the first batch's
        await harness.batch("c")
        assert harness.sessions.writes == ["a", "b", "c"]
        assert harness.pipeline.stats["flushes"] == 2

    asyncio.run(run())


def test_a_checkpoint_is_dropped_when_the_group_moves_on(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    """The states reached the broker, but the partition may have a new owner by then: the
    checkpoint is not written, and what was not written is dropped (it is read back)."""

    async def run() -> None:
        harness = Harness(redis_url, queue_keys, flush_seconds=3600)
        harness.writer._flushed_at -= 3600  # the first batch is due
        await harness.batch("d")
        await harness.batch("e")  # not due: pending
        assert harness.pipeline.unflushed_sessions == 1
        harness.app.consumer_generation_id = 2
        next_batch = asyncio.create_task(harness.batch("f"))
        await asyncio.sleep(0.2)
        assert not next_batch.done()  # waits for the task of the old generation
        harness.broker.acknowledge.set()
        await asyncio.wait_for(next_batch, timeout=5)
        assert harness.offsets.writes == []
        assert harness.pipeline.stats["unflushed_sessions_discarded"] == 1
        assert harness.pipeline.unflushed_sessions == 1  # "f", of the new generation

    asyncio.run(run())


def test_a_rebalance_writes_everything_before_the_batch_is_done(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    async def run() -> None:
        harness = Harness(redis_url, queue_keys, flush_seconds=3600)
        harness.app.rebalancing = True
        batch = asyncio.create_task(harness.batch("g"))
        await until(lambda: harness.sessions.writes == ["g"])
        await asyncio.sleep(0.2)
        assert not batch.done()  # the batch is not acknowledged before the broker has it
        harness.broker.acknowledge.set()
        await asyncio.wait_for(batch, timeout=5)
        assert harness.offsets.data == {f"{CHAT}:0": b"2"}
        assert harness.broker.waits == 2  # the states, then the checkpoint

    asyncio.run(run())


def test_a_clean_stop_writes_what_is_pending(queue_keys: QueueKeys, redis_url: str) -> None:
    async def run() -> None:
        harness = Harness(redis_url, queue_keys, flush_seconds=3600)
        await harness.batch("h")
        assert harness.sessions.writes == []
        harness.broker.acknowledge.set()
        await asyncio.wait_for(harness.writer.on_stop(), timeout=5)
        assert harness.sessions.writes == ["h"]
        assert harness.offsets.data == {f"{CHAT}:0": b"2"}

    asyncio.run(run())


def test_the_producer_buffer_takes_a_whole_state_write_without_stalling_the_stream() -> None:
    """Faust stops feeding agents while its producer buffer holds more than its bound; a
    state write puts every unwritten session there at once, so the bound fits one write."""
    settings = Settings(max_unflushed_sessions=1_000, batch_max_records=50, partitions=4)
    app = build_app(settings).app
    assert app.producer.buffer.max_messages == 1_000 + 50 + 2 * 4
