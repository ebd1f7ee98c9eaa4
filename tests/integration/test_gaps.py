"""Reading back records the consumer passed over, from the real broker
(workers/stream/gaps.py): ranges, limits, and a broker that has nothing to give."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from tests.support import Deployment
from workers.stream import gaps
from workers.stream.exceptions import ReadBackUnavailableError
from workers.stream.gaps import KafkaRangeReader

RECORDS = 10


async def fill_partition(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for offset in range(RECORDS):
            await producer.send_and_wait(topic, b"record %d" % offset, partition=0)
    finally:
        await producer.stop()


def test_ranges_are_read_in_order_up_to_a_limit_and_the_end_offset_follows(
    deployment: Deployment,
) -> None:
    async def run() -> None:
        await fill_partition(deployment.broker.bootstrap, deployment.chat_topic)
        reader = KafkaRangeReader(deployment.settings())
        try:
            first = await reader.read(deployment.chat_topic, 0, 2, 8, limit=4)
            rest = await reader.read(deployment.chat_topic, 0, first[-1].offset + 1, 8, 100)
            end = await reader.end_offset(deployment.chat_topic, 0)
        finally:
            await reader.close()
        assert [r.offset for r in first] == [2, 3, 4, 5]
        assert [r.offset for r in rest] == [6, 7]
        assert [r.value for r in rest] == [b"record 6", b"record 7"]
        assert all(r.partition == 0 and r.timestamp > 0 for r in first + rest)
        assert end == RECORDS

    asyncio.run(run())


def test_records_the_broker_does_not_return_in_time_raise(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked for offsets past the end of the log, the reader gives up after its timeout
    with an error the pipeline retries on, rather than return a short range as complete."""
    monkeypatch.setattr(gaps, "READ_TIMEOUT_MS", 500)

    async def run() -> None:
        await fill_partition(deployment.broker.bootstrap, deployment.chat_topic)
        reader = KafkaRangeReader(deployment.settings())
        try:
            with pytest.raises(ReadBackUnavailableError, match="no records at offset 10"):
                await reader.read(deployment.chat_topic, 0, 8, 12, limit=100)
        finally:
            await reader.close()

    asyncio.run(run())


def test_the_end_offset_counts_every_record_of_the_last_batch(deployment: Deployment) -> None:
    """The embedded broker reports the last batch's base offset + 1 as the end offset; a
    burst sends several records per batch, and every one of them must count."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=deployment.broker.bootstrap, linger_ms=50)
        await producer.start()
        try:
            sent = [
                await producer.send(deployment.chat_topic, b"burst %d" % n, partition=1)
                for n in range(RECORDS)
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        reader = KafkaRangeReader(deployment.settings())
        try:
            assert await reader.end_offset(deployment.chat_topic, 1) == RECORDS
            assert await reader.end_offset(deployment.chat_topic, 2) == 0  # empty
        finally:
            await reader.close()

    asyncio.run(run())
