"""A fetch is handed to the agent a partition at a time, and acknowledging the batch commits
every record in it (Faust's own commit arithmetic, on a worker app that is never started)."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from faust.types import TP, ConsumerMessage

from workers.settings import load_settings
from workers.stream.app import build_app
from workers.stream.batching import BatchingConsumer, RecordBatch, records_of
from workers.stream.transport import EmbeddedTransport, KafkaTransport

CHAT = "chat-events"


def message(offset: int, topic: str = CHAT, partition: int = 0) -> ConsumerMessage:
    return ConsumerMessage(
        topic,
        partition,
        offset,
        1_700_000_000.0 + offset,
        0,
        None,
        f"s-{offset}".encode(),
        b"{}",
        None,
        4,
        2,
        TP(topic, partition),
        generation_id=7,
    )


def acknowledge(consumer: BatchingConsumer, delivered: ConsumerMessage) -> bool:
    """What the agent's stream does once it is done with a message: a batch is acknowledged
    by its own offset, like any message (Faust's stream iterator does it inline)."""
    delivered.incref()
    return bool(delivered.ack(consumer))


def with_consumer(
    test: Callable[[BatchingConsumer], Coroutine[Any, Any, None]], **overrides: Any
) -> None:
    async def run() -> None:
        settings = load_settings(chat_events_topic=CHAT, **overrides)
        app = build_app(settings).app
        consumer = app.consumer
        assert isinstance(consumer, BatchingConsumer)
        # What subscribing the agent to its topics does when the worker starts.
        app.topics._acking_topics.add(CHAT)  # type: ignore[attr-defined]
        await test(consumer)

    asyncio.run(run())


@pytest.mark.parametrize(
    ("profile", "transport"), [("embedded", EmbeddedTransport), ("kafka", KafkaTransport)]
)
def test_the_worker_batches_its_input_topics_on_either_broker(
    profile: str, transport: type
) -> None:
    async def check(consumer: BatchingConsumer) -> None:
        settings = load_settings(chat_events_topic=CHAT)
        assert isinstance(consumer.transport, transport)
        assert consumer.batched_topics == {
            CHAT,
            settings.handoff_events_topic,
            settings.ticks_topic,
        }

    with_consumer(check, broker_profile=profile)


def test_a_batch_acknowledged_commits_up_to_its_last_record() -> None:
    async def check(consumer: BatchingConsumer) -> None:
        tp = TP(CHAT, 0)
        batch = await consumer._batch(tp, [message(o) for o in range(5)])
        assert isinstance(batch, RecordBatch)
        assert (batch.offset, batch.generation_id) == (4, 7)
        assert [m.offset for m in records_of([batch])] == [0, 1, 2, 3, 4]
        consumer.track_message(batch)
        assert acknowledge(consumer, batch)
        assert not acknowledge(consumer, batch)  # twice: nothing more
        assert batch not in consumer.unacked
        assert consumer._new_offset(tp) == 5
        consumer._committed_offset[tp] = 5  # what the commit then records
        consumer._read_offset[tp] = 4
        following = await consumer._batch(tp, [message(o) for o in range(5, 9)])
        assert following is not None
        assert acknowledge(consumer, following)
        assert consumer._new_offset(tp) == 9

    with_consumer(check)


def test_offsets_missing_from_a_fetch_do_not_hold_the_commit_back() -> None:
    """Compaction or transaction markers leave holes in a partition's offsets."""

    async def check(consumer: BatchingConsumer) -> None:
        tp = TP(CHAT, 0)
        first = await consumer._batch(tp, [message(o) for o in (0, 1, 3, 4)])
        assert first is not None
        consumer._read_offset[tp] = first.offset  # what Faust's fetch loop does next
        second = await consumer._batch(tp, [message(o) for o in (8, 9)])
        assert second is not None
        assert acknowledge(consumer, first)
        assert acknowledge(consumer, second)
        assert consumer._new_offset(tp) == 10

    with_consumer(check)


def test_records_below_the_read_position_are_dropped_as_faust_drops_them() -> None:
    async def check(consumer: BatchingConsumer) -> None:
        tp = TP(CHAT, 0)
        consumer._read_offset[tp] = 10
        batch = await consumer._batch(tp, [message(o) for o in range(8, 13)])
        assert batch is not None
        assert [m.offset for m in batch.records] == [10, 11, 12]
        assert await consumer._batch(tp, [message(o) for o in range(5, 9)]) is None

    with_consumer(check)


def test_a_single_message_is_acknowledged_the_faust_way() -> None:
    async def check(consumer: BatchingConsumer) -> None:
        single = message(0)
        consumer.track_message(single)
        assert acknowledge(consumer, single)
        assert consumer._new_offset(TP(CHAT, 0)) == 1
        assert records_of([single]) == [single]

    with_consumer(check)
