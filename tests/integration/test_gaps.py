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


def test_a_range_is_read_in_order_up_to_its_limit(deployment: Deployment) -> None:
    async def run() -> None:
        await fill_partition(deployment.broker.bootstrap, deployment.chat_topic)
        reader = KafkaRangeReader(deployment.settings())
        try:
            first = await reader.read(deployment.chat_topic, 0, 2, 8, limit=4)
            rest = await reader.read(deployment.chat_topic, 0, first[-1].offset + 1, 8, 100)
        finally:
            await reader.close()
        assert [r.offset for r in first] == [2, 3, 4, 5]
        assert [r.offset for r in rest] == [6, 7]
        assert [r.value for r in rest] == [b"record 6", b"record 7"]
        assert all(r.partition == 0 and r.timestamp > 0 for r in first + rest)

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
