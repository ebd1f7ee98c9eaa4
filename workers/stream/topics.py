"""Create the topics the worker reads and writes, with the configured partitions."""

import asyncio
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from workers.errors import ServiceUnavailableError
from workers.settings import Settings

log = logging.getLogger(__name__)

# Apache Kafka answers a topic creation once its controller has it; its brokers learn of it a
# moment later. Until then clients are told the topic does not exist.
TOPICS_VISIBLE_TIMEOUT_SECONDS = 15.0


def topic_names(settings: Settings) -> list[str]:
    """Every topic escalator needs before it starts (Faust creates its changelogs itself)."""
    return [
        settings.chat_events_topic,
        settings.handoff_events_topic,
        settings.ticks_topic,
        settings.escalations_topic,
        settings.dead_letter_topic,
        settings.bot_control_topic,
    ]


async def ensure_topics(settings: Settings) -> None:
    """Create missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=10_000,
        **settings.kafka_client_kwargs(),
    )
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise ServiceUnavailableError(
            f"no Kafka broker answers at {settings.broker_url}; start one with `escalator broker`"
        ) from exc
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topic_names(settings) if name not in existing]
        if missing:
            new_topics = [
                NewTopic(
                    name,
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication_factor,
                )
                for name in missing
            ]
            try:
                await admin.create_topics(new_topics)
            except TopicAlreadyExistsError:
                log.info("topics were created concurrently: %s", missing)
            log.info("created topics %s with %d partitions", missing, settings.partitions)
            await _wait_until_served(admin, missing)
    finally:
        await admin.close()


async def _wait_until_served(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Wait until the broker's metadata has a leader for every partition of ``topics``, so
    what runs next (a worker, a producer, a reader) finds them."""
    deadline = time.monotonic() + TOPICS_VISIBLE_TIMEOUT_SECONDS
    while True:
        described = await admin.describe_topics(topics)
        pending = [
            topic["topic"]
            for topic in described
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(partition["leader"] < 0 for partition in topic["partitions"])
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise ServiceUnavailableError(
                f"the broker created {pending} but has no leader for them after "
                f"{TOPICS_VISIBLE_TIMEOUT_SECONDS:.0f}s"
            )
        await asyncio.sleep(0.1)
