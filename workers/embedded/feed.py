"""Produce chat events to Kafka: used by the demo and the integration tests."""

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

Record = tuple[bytes | None, bytes]


def event_record(event: Mapping[str, Any]) -> Record:
    """A chat event as a Kafka record keyed by its session id."""
    return str(event["session_id"]).encode(), json.dumps(event).encode()


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[Record],
    delay_seconds: float = 0.0,
    burst: bool = False,
    security: Mapping[str, Any] | None = None,
) -> int:
    """Send records in order and return how many were sent.

    By default each record is acknowledged before the next is sent; ``burst`` queues them all
    at once (still in order per partition), as a busy producer would. ``security`` carries
    TLS/SASL keyword arguments (``Settings.kafka_client_kwargs()``); none by default.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **(security or {}))
    await producer.start()
    sent = 0
    try:
        if burst:
            pending = [await producer.send(topic, key=key, value=value) for key, value in records]
            await asyncio.gather(*pending)
            return len(pending)
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
            sent += 1
            if delay_seconds:
                await asyncio.sleep(delay_seconds)
    finally:
        await producer.stop()
    return sent
