"""Helpers for tests that run against the real embedded broker and the suite's real Redis."""

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from aiokafka import AIOKafkaConsumer

from schemas.escalation import Escalation
from workers.embedded import BrokerProcess, WorkerProcess, free_port
from workers.embedded.feed import Record, event_record, produce
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations
from workers.settings import Settings, load_settings
from workers.stream.topics import ensure_topics

PARTITIONS = 4
# Every test that takes the ``broker`` fixture (``deployment`` does) runs on each broker named
# here: the embedded Tansu and Apache Kafka. ESCALATOR_TEST_BROKERS=tansu (or kafka) narrows a
# local run to one.
TEST_BROKERS = os.environ.get("ESCALATOR_TEST_BROKERS", "tansu,kafka").split(",")
# On Apache Kafka, the embedded profile's group timeouts rather than production's 60 s: a
# SIGKILLed worker's partitions move within seconds, as the fault tests expect on both brokers.
KAFKA_TEST_TIMEOUTS = {
    "ESCALATOR_REBALANCE_TIMEOUT_SECONDS": "10",
    "ESCALATOR_SESSION_TIMEOUT_SECONDS": "10",
    "ESCALATOR_HEARTBEAT_INTERVAL_SECONDS": "1",
}


def environment_with_redis(url: str) -> dict[str, str]:
    """This process's environment for a child command, with ``url`` as its Redis."""
    env = {name: value for name, value in os.environ.items() if name != "ESCALATOR_REDIS_URL"}
    return {**env, "REDIS_URL": url}


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    """Poll until ``predicate`` holds; False on timeout (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass
class Deployment:
    """An isolated escalator deployment on the shared broker and Redis: its own app id,
    topics and Redis prefix, so tests never see each other's data."""

    broker: BrokerProcess
    redis_url: str
    redis: "redis.Redis"
    workdir: Path
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    workers: list[WorkerProcess] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def chat_topic(self) -> str:
        return f"{self.name}-chat-events"

    @property
    def escalations_topic(self) -> str:
        return f"{self.name}-escalations"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.name}-dead-letters"

    @property
    def handoff_topic(self) -> str:
        return f"{self.name}-handoff-events"

    @property
    def bot_control_topic(self) -> str:
        return f"{self.name}-bot-control"

    @property
    def ticks_topic(self) -> str:
        return f"{self.name}-ticks"

    @property
    def keys(self) -> QueueKeys:
        return QueueKeys(self.name)

    def env(self, web_port: int) -> dict[str, str]:
        return {
            "ESCALATOR_APP_ID": self.name,
            "ESCALATOR_BROKER_URL": self.broker.url,
            "ESCALATOR_BROKER_PROFILE": self.broker.profile,
            **(KAFKA_TEST_TIMEOUTS if self.broker.profile == "kafka" else {}),
            "ESCALATOR_REDIS_URL": self.redis_url,
            "ESCALATOR_REDIS_PREFIX": self.name,
            "ESCALATOR_CHAT_EVENTS_TOPIC": self.chat_topic,
            "ESCALATOR_ESCALATIONS_TOPIC": self.escalations_topic,
            "ESCALATOR_DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "ESCALATOR_HANDOFF_EVENTS_TOPIC": self.handoff_topic,
            "ESCALATOR_BOT_CONTROL_TOPIC": self.bot_control_topic,
            "ESCALATOR_TICKS_TOPIC": self.ticks_topic,
            "ESCALATOR_TICK_INTERVAL_SECONDS": "0.5",
            **self.extra_env,
            "ESCALATOR_PARTITIONS": str(PARTITIONS),
            "ESCALATOR_WEB_HOST": "127.0.0.1",
            "ESCALATOR_WEB_PORT": str(web_port),
            "ESCALATOR_DATA_DIR": str(self.workdir / "data"),
            "ESCALATOR_LOG_LEVEL": "info",
        }

    def settings(self) -> Settings:
        """The settings a worker of this deployment runs with."""
        return load_settings(
            **{k.removeprefix("ESCALATOR_").lower(): v for k, v in self.env(1).items()}
        )

    def create_topics(self) -> None:
        asyncio.run(ensure_topics(self.settings()))

    def start_worker(self, wait: bool = True) -> WorkerProcess:
        """A new worker process of this deployment, ready to consume."""
        index = len(self.workers)
        worker = WorkerProcess(self.env(free_port()), self.workdir / f"worker-{index}.log").start()
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def send(self, events: list[dict[str, Any]], burst: bool = False) -> None:
        self.send_raw([event_record(event) for event in events], burst=burst)

    def send_raw(
        self, records: list[Record], burst: bool = False, topic: str | None = None
    ) -> None:
        asyncio.run(produce(self.broker.bootstrap, topic or self.chat_topic, records, burst=burst))

    def queue_entries(self) -> list[tuple[str, Escalation]]:
        """(stream, escalation) for every entry in every queue stream of this deployment."""
        return queued_escalations(self.redis, self.keys)

    def read_topic(
        self, topic: str, minimum: int, timeout: float = 20.0
    ) -> list[tuple[bytes | None, bytes]]:
        return asyncio.run(_read_topic(self.broker.bootstrap, topic, minimum, timeout))

    def cleanup(self) -> None:
        for worker in self.workers:
            worker.stop()
        stale = list(self.redis.scan_iter(match=self.keys.pattern, count=500))
        if stale:
            self.redis.delete(*stale)


async def _read_topic(
    bootstrap: str, topic: str, minimum: int, seconds: float
) -> list[tuple[bytes | None, bytes]]:
    """Every record of ``topic`` from the beginning, once at least ``minimum`` are there.
    Subscribed without a group, the consumer is given every partition once the broker's
    metadata has the topic (Apache Kafka has it a moment after the topic is created)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes]] = []
    try:
        deadline = time.monotonic() + seconds
        while len(records) < minimum and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend((message.key, message.value) for message in messages)
    finally:
        await consumer.stop()
    return records


# Event times near the wall clock, as live traffic has them (the worker measures SLAs and
# idleness on its own clock, so the tests of old event times set theirs on purpose).
class _Clock:
    """The start of the current test; reset before each test (see conftest.py), so event
    times stay near the wall clock however long the suite runs."""

    start = datetime.now(UTC).replace(microsecond=0)


def restart_clock() -> None:
    """Make the current test's events start now."""
    _Clock.start = datetime.now(UTC).replace(microsecond=0)


def at(second: int) -> str:
    """An RFC 3339 time ``second`` seconds after the current test started."""
    return (_Clock.start + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


def chat(
    session: str, event_id: str, text: str, role: str = "customer", second: int = 0
) -> dict[str, Any]:
    """A message event in the inbound contract's shape."""
    return {
        "event_id": event_id,
        "session_id": session,
        "ts": at(second),
        "type": "message",
        "role": role,
        "text": text,
    }


def action(session: str, event_id: str, name: str, status: str, second: int = 0) -> dict[str, Any]:
    """An action event in the inbound contract's shape."""
    return {
        "event_id": event_id,
        "session_id": session,
        "ts": at(second),
        "type": "action",
        "role": "bot",
        "action": {"name": name, "status": status},
    }


def as_json(value: bytes) -> Any:
    return json.loads(value)
