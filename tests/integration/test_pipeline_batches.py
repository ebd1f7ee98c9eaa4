"""The pipeline's batches and read-back against the real Redis (no broker): one state write
per session per batch, the same decisions as one event at a time, and records the consumer
passed over applied in offset order."""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import redis

from tests.pipelines import CHAT, TICKS, Broker, Record, Store, escalating, pipeline, records
from workers.decision import SessionState
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations
from workers.stream import codec
from workers.stream import pipeline as pipeline_module
from workers.stream.exceptions import EndOffsetUnavailableError, ReadBackUnavailableError


@dataclass
class Unanswering(Broker):
    """A broker that lets the first ``unanswered`` reads, and the first ``unanswered_ends``
    end-offset lookups, time out."""

    unanswered: int = 0
    unanswered_ends: int = 0

    async def end_offset(self, topic: str, partition: int) -> int:
        if self.unanswered_ends:
            self.unanswered_ends -= 1
            raise EndOffsetUnavailableError("no last batch within the test's patience")
        return await super().end_offset(topic, partition)

    async def read(
        self, topic: str, partition: int, start: int, end: int, limit: int
    ) -> Sequence[Record]:
        if self.unanswered:
            self.unanswered -= 1
            raise ReadBackUnavailableError("no records within the test's patience")
        return await super().read(topic, partition, start, end, limit)


def test_a_batch_writes_each_session_once_and_decides_as_one_by_one(
    queue_keys: QueueKeys, redis_url: str, redis_client: "redis.Redis"
) -> None:
    events = escalating("a") + escalating("b")
    batched_sessions, batched_offsets, single_sessions = Store(), Store(), Store()
    # The same worker clock for both runs: the states keep when the worker took each event.
    taken = datetime.fromisoformat(events[-1]["ts"])

    def clock() -> datetime:
        return taken

    async def run() -> None:
        batched = pipeline(
            redis_url, queue_keys, batched_sessions, batched_offsets, None, clock=clock
        )
        # Two batches, one flush: a session's events across both share one write.
        first, second = records(events)[:4], records(events)[4:]
        await batched.handle_batch(first)
        assert batched_sessions.writes == []
        await batched.handle_batch(second)
        await batched.flush()
        single = pipeline(redis_url, queue_keys, single_sessions, Store(), None, clock=clock)
        for record in records(events):
            await single.handle(record)

    asyncio.run(run())

    assert sorted(batched_sessions.writes) == ["a", "b"]
    assert len(single_sessions.writes) == len(events)
    for session in ("a", "b"):
        assert codec.decode_state(batched_sessions.data[session]) == codec.decode_state(
            single_sessions.data[session]
        )
    assert batched_offsets.data == {f"{CHAT}:0": b"5"}
    entries = queued_escalations(redis_client, queue_keys)
    assert sorted(e.session_id for _, e in entries) == ["a", "b"]


def test_records_passed_over_are_read_back_in_offset_order(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    events = escalating("c")
    log = records(events, first_offset=10)
    broker = Broker(log=log)
    offsets = Store(data={f"{CHAT}:0": b"9"})
    sessions = Store()
    worker = pipeline(redis_url, queue_keys, sessions, offsets, broker)
    # The consumer hands over only the last record: 10 and 11 were passed over.
    asyncio.run(worker.handle(log[-1]))
    assert broker.reads == [(10, 12)]
    assert worker.stats["records_read_back"] == 2
    assert worker.stats["events"] == 3
    state = codec.decode_state(sessions.data["c"])
    assert isinstance(state, SessionState)
    assert state.escalated_at is not None
    assert offsets.data[f"{CHAT}:0"] == b"12"


def test_a_quiet_tick_reads_back_what_the_consumer_never_handed_over(
    queue_keys: QueueKeys,
    redis_url: str,
) -> None:
    """Records past the last applied one on the broker, and none handed over since the last
    tick (passed over, or a new partition the consumer does not deliver): read back."""
    events = escalating("d")
    log = records(events, first_offset=4)
    broker = Broker(log=log)  # end offset 7
    offsets = Store(data={f"{CHAT}:0": b"3"})
    sessions = Store()
    worker = pipeline(redis_url, queue_keys, sessions, offsets, broker)
    tick = {"type": "tick", "tick_id": "t-1", "ts": events[0]["ts"]}
    asyncio.run(worker.handle(Record(TICKS, 0, 0, None, json.dumps(tick).encode())))
    assert broker.reads == [(4, 7)]
    assert worker.stats["events"] == 3
    assert "d" in sessions.data
    assert offsets.data[f"{CHAT}:0"] == b"6"


def test_a_busy_partition_is_not_asked_for_its_end_offset(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    """A record since the last tick had its offset checked: the tick skips the round trip to
    the broker. A tick with no record since asks, and reads back what was passed over."""
    events = escalating("u")
    log = records(events)
    broker = Broker(log=log)
    worker = pipeline(redis_url, queue_keys, Store(), Store(), broker)

    def tick(number: int) -> Record:
        value = {"type": "tick", "tick_id": f"t-{number}", "ts": events[0]["ts"]}
        return Record(TICKS, 0, number, None, json.dumps(value).encode())

    async def run() -> None:
        await worker.handle_batch([log[0], tick(0)])  # busy: not asked
        assert broker.end_asked == 0
        await worker.handle_batch([tick(1)])  # quiet since: asked; offsets 1, 2 read back
        assert broker.end_asked == 1
        assert broker.reads == [(1, 3)]

    asyncio.run(run())
    assert worker.stats["events"] == 3


def test_nothing_is_read_back_when_offsets_follow_on(queue_keys: QueueKeys, redis_url: str) -> None:
    broker = Broker(end=6)
    offsets = Store(data={f"{CHAT}:0": b"2"})
    worker = pipeline(redis_url, queue_keys, Store(), offsets, broker)
    tick = {"type": "tick", "tick_id": "t-2", "ts": escalating("e")[0]["ts"]}

    async def run() -> None:
        await worker.handle_batch(records(escalating("e"), first_offset=3))
        await worker.flush()
        await worker.handle_batch([Record(TICKS, 0, 0, None, json.dumps(tick).encode())])

    asyncio.run(run())
    assert broker.reads == []
    assert worker.stats["records_read_back"] == 0


def test_records_at_or_below_the_last_applied_offset_are_skipped(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    """A record the consumer hands over after it was read back, or redelivered from an older
    committed offset, is not applied twice (event-id dedup would catch it too, but only
    within its bounded window)."""
    log = records(escalating("v"))
    worker = pipeline(redis_url, queue_keys, Store(), Store(), Broker(log=log))

    async def run() -> None:
        await worker.handle_batch(log)
        await worker.flush()
        await worker.handle_batch(log[1:])

    asyncio.run(run())
    assert worker.stats["events"] == 3
    assert worker.stats["records_already_applied"] == 2
    assert worker.stats["duplicates"] == 0


def test_discarded_changes_are_never_written(queue_keys: QueueKeys, redis_url: str) -> None:
    """After a rebalance the unflushed records are read again; their writes must not land."""
    sessions, offsets = Store(), Store()
    worker = pipeline(redis_url, queue_keys, sessions, offsets, None)
    asyncio.run(worker.handle_batch(records(escalating("f"))))
    assert worker.unflushed_sessions == 1
    worker.discard()
    asyncio.run(worker.flush())
    assert sessions.writes == []
    assert offsets.writes == []
    assert worker.unflushed_sessions == 0
    assert worker.current_state("f") is None


def test_the_current_state_includes_what_is_not_written_yet(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    sessions = Store()
    worker = pipeline(redis_url, queue_keys, sessions, Store(), None)
    asyncio.run(worker.handle_batch(records(escalating("g"))))
    unwritten = worker.current_state("g")
    assert unwritten is not None
    assert unwritten.events_applied == 3
    asyncio.run(worker.flush())
    assert worker.current_state("g") == unwritten == codec.decode_state(sessions.data["g"])


def test_records_gone_from_the_broker_are_counted_and_passed(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    """Retention removed records a read-back wants: they cannot be applied; the worker counts
    them (the reader logs the range) and goes on with the record in hand."""
    log = records(escalating("r"))
    broker = Broker(log=[log[0]])  # offsets 1 and 2 are gone
    worker = pipeline(redis_url, queue_keys, Store(), Store(data={f"{CHAT}:0": b"0"}), broker)
    asyncio.run(worker.handle_batch([log[2]]))
    assert worker.stats["records_lost_to_retention"] == 1
    assert worker.stats["events"] == 1


def test_a_read_back_the_broker_does_not_answer_is_retried(
    queue_keys: QueueKeys, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition waits (with backoff) rather than skip records it could not read."""
    monkeypatch.setattr(pipeline_module, "FIRST_RETRY_SECONDS", 0.01)
    log = records(escalating("s"))
    broker = Unanswering(log=log, unanswered=2)
    worker = pipeline(redis_url, queue_keys, Store(), Store(data={f"{CHAT}:0": b"0"}), broker)
    asyncio.run(worker.handle_batch([log[2]]))
    assert worker.stats["read_back_retries"] == 2
    assert worker.stats["records_read_back"] == 1
    assert worker.stats["events"] == 2


def test_an_end_offset_the_broker_does_not_answer_is_retried(
    queue_keys: QueueKeys, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet tick waits for the partition's end (with backoff), then reads back up to it."""
    monkeypatch.setattr(pipeline_module, "FIRST_RETRY_SECONDS", 0.01)
    events = escalating("u")
    broker = Unanswering(log=records(events, first_offset=4), unanswered_ends=2)
    worker = pipeline(redis_url, queue_keys, Store(), Store(data={f"{CHAT}:0": b"3"}), broker)
    tick = {"type": "tick", "tick_id": "t-1", "ts": events[0]["ts"]}
    asyncio.run(worker.handle_batch([Record(TICKS, 0, 0, None, json.dumps(tick).encode())]))
    assert worker.stats["read_back_retries"] == 2
    assert broker.reads == [(4, 7)]
    assert worker.stats["events"] == 3


def test_a_partition_without_a_checkpoint_is_read_back_from_its_start(
    queue_keys: QueueKeys,
    redis_url: str,
) -> None:
    """A crash before a partition's first flush, with offsets already committed: the next
    record is not the first, and everything before it is read back."""
    log = records(escalating("h"))
    broker = Broker(log=log)
    sessions, offsets = Store(), Store()
    worker = pipeline(redis_url, queue_keys, sessions, offsets, broker)
    asyncio.run(worker.handle(log[-1]))
    assert broker.reads == [(0, 2)]
    assert worker.stats["events"] == 3
    assert offsets.data[f"{CHAT}:0"] == b"2"


def test_a_long_gap_is_read_back_in_chunks(
    queue_keys: QueueKeys, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_module, "READ_BACK_CHUNK", 2)
    log = records(escalating("i") + escalating("j"))
    broker = Broker(log=log)
    worker = pipeline(redis_url, queue_keys, Store(), Store(data={f"{CHAT}:0": b"0"}), broker)
    asyncio.run(worker.handle(log[-1]))
    assert broker.reads == [(1, 5), (3, 5)]
    assert worker.stats["records_read_back"] == 4
    assert worker.stats["events"] == 5


def test_a_flush_writes_the_checkpoint_only_after_the_states_are_written(
    queue_keys: QueueKeys,
    redis_url: str,
) -> None:
    """The applied offset is what read-back starts from: it must never be on the broker
    while the states it covers are not."""
    sessions, offsets = Store(), Store()
    seen: list[tuple[int, int]] = []

    async def wait_written() -> None:
        seen.append((len(sessions.writes), len(offsets.writes)))

    worker = pipeline(redis_url, queue_keys, sessions, offsets, None, wait_written)
    asyncio.run(worker.handle_batch(records(escalating("k") + escalating("l"))))
    asyncio.run(worker.flush())
    assert seen == [(2, 0), (2, 1)]
    assert worker.stats["flushes"] == 1


def test_open_sessions_count_what_is_not_written_yet(queue_keys: QueueKeys, redis_url: str) -> None:
    worker = pipeline(redis_url, queue_keys, Store(), Store(), None)
    counts: list[tuple[int, int]] = []

    async def run() -> None:
        await worker.handle_batch(records(escalating("m")))
        counts.append((worker.open_sessions({0}), worker.open_sessions({1})))
        await worker.flush()
        await worker.handle_batch(records(escalating("n"), first_offset=3))
        counts.append((worker.open_sessions({0}), worker.open_sessions({1})))

    asyncio.run(run())
    assert counts == [(1, 0), (2, 0)]


def test_ticks_find_due_sessions_without_walking_the_table(
    queue_keys: QueueKeys, redis_url: str
) -> None:
    """The table is walked once, to build the session index; flushes keep it up to date."""
    sessions = Store()
    worker = pipeline(redis_url, queue_keys, sessions, Store(), None)
    later = datetime.fromisoformat(escalating("o")[0]["ts"]) + timedelta(days=2)

    def tick(number: int) -> Record:
        ts = (later + timedelta(days=2 * number)).isoformat()
        value = {"type": "tick", "tick_id": f"t-{number}", "ts": ts}
        return Record(TICKS, 0, number, None, json.dumps(value).encode())

    async def run() -> None:
        await worker.handle_batch(records(escalating("o")))
        await worker.flush()
        await worker.handle_batch([tick(0)])  # builds the index; "o" has long expired
        await worker.flush()
        await worker.handle_batch(records(escalating("q"), first_offset=3))
        await worker.flush()
        await worker.handle_batch([tick(1)])
        await worker.flush()

    asyncio.run(run())
    assert sessions.data == {}
    assert worker.stats["sessions_dropped"] == 2
    assert sessions.scans == 1
    assert worker.stats["session_index_builds"] == 1
