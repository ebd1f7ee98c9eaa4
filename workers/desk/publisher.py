"""Where desks publish their handoff reports: the handoff-events topic the worker consumes."""

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.lifecycle import HandoffEvent
from workers.desk.exceptions import DeskUnavailableError, PublisherNotStartedError
from workers.settings import Settings

# A desk command should fail within seconds, not hang, when the broker is away.
REQUEST_TIMEOUT_MS = 10_000


class HandoffPublisher(Protocol):
    """Delivers a desk's handoff report; returns once it is durably published."""

    async def publish(self, event: HandoffEvent) -> None:
        """Deliver one event."""
        ...


class KafkaHandoffPublisher:
    """Produces handoff events to Kafka keyed by session id (acks=all), so the worker reads
    each session's reports in order. An async context manager: started on enter."""

    def __init__(
        self,
        bootstrap_servers: list[str],
        topic: str,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self._bootstrap_servers = bootstrap_servers
        self._security = dict(security or {})
        self._producer: AIOKafkaProducer | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "KafkaHandoffPublisher":
        """A publisher to ``settings.handoff_events_topic`` on the configured broker."""
        return cls(
            settings.bootstrap_servers,
            settings.handoff_events_topic,
            settings.kafka_client_kwargs(),
        )

    async def start(self) -> None:
        """Connect to the broker."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            acks="all",
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            **self._security,
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise DeskUnavailableError(
                f"no Kafka broker answers at {';'.join(self._bootstrap_servers)}: "
                f"{type(exc).__name__}"
            ) from exc
        self._producer = producer

    async def stop(self) -> None:
        """Flush and disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, event: HandoffEvent) -> None:
        """Send the event and wait until every in-sync replica has it."""
        if self._producer is None:
            raise PublisherNotStartedError("start the publisher (async with) before publishing")
        try:
            await self._producer.send_and_wait(
                self.topic,
                key=event.session_id.encode(),
                value=event.model_dump_json().encode(),
            )
        except KafkaError as exc:
            raise DeskUnavailableError(
                f"handoff event not published to {self.topic}: {type(exc).__name__}"
            ) from exc

    async def __aenter__(self) -> "KafkaHandoffPublisher":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
