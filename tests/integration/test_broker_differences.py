"""What the embedded broker (Tansu) and Apache Kafka do differently, found out on each: the
reason each workaround in workers/stream/ is kept for one broker or both (docs/reliability.md).
"""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.support import Deployment

pytestmark = pytest.mark.integration

BURST = 20


async def _burst_in_one_batch(bootstrap: str, topic: str, partition: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, b"burst %d" % n, partition=partition) for n in range(BURST)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def test_the_reported_end_of_a_partition(deployment: Deployment) -> None:
    """After one batch of 20 records, Apache Kafka reports the partition's end as 20 (the
    offset after its last record); the embedded broker reports 1 (the batch's first offset
    + 1). Only the embedded profile reads the last batch to find the real end
    (workers/stream/transport.py ``end_offsets``, used by table recovery and read-back)."""

    async def reported_end() -> int:
        await _burst_in_one_batch(deployment.broker.bootstrap, deployment.chat_topic, 1)
        consumer = AIOKafkaConsumer(bootstrap_servers=deployment.broker.bootstrap)
        await consumer.start()
        try:
            tp = TopicPartition(deployment.chat_topic, 1)
            return int((await consumer.end_offsets([tp]))[tp])
        finally:
            await consumer.stop()

    expected = {"kafka": BURST, "embedded": 1}[deployment.broker.profile]
    assert asyncio.run(reported_end()) == expected
