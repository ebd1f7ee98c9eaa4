"""What the agent does with each record: intake, decide, keep state, deliver.

Ordering: one agent instance per partition (``concurrency=1``) handles a session's events in
offset order. Delivery: an escalation reaches Redis before the agent moves on, so an offset is
never committed past an escalation that is not in its queue; Redis writes are idempotent by
``escalation_id``, so redelivered events cannot duplicate it.
"""

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.dead_letter import DeadLetter
from schemas.escalation import Escalation
from workers.decision import DecisionEngine, SessionState
from workers.intake import RejectedRecordError, parse_record
from workers.queues import AgentQueueWriter, QueueUnavailableError

log = logging.getLogger("escalator.pipeline")

FIRST_RETRY_SECONDS = 0.1

# (key, value) -> awaitable: how the pipeline produces to a Kafka topic.
Send = Callable[[bytes | None, bytes], Awaitable[Any]]


class SessionStore(Protocol):
    """Where session state lives between events (a Faust table in the worker)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def __setitem__(self, key: str, value: Any) -> None: ...


class SourceRecord(Protocol):
    """The parts of a consumed Kafka message the pipeline uses."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Pipeline:
    """Glue between Faust and the pure core; holds no state of its own."""

    def __init__(
        self,
        *,
        engine: DecisionEngine,
        sessions: SessionStore,
        writer: AgentQueueWriter,
        send_escalation: Send,
        send_dead_letter: Send,
        max_record_bytes: int,
        retry_ceiling_seconds: float,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._writer = writer
        self._send_escalation = send_escalation
        self._send_dead_letter = send_dead_letter
        self._max_record_bytes = max_record_bytes
        self._retry_ceiling = retry_ceiling_seconds
        self.dead_letters = 0

    async def handle(self, record: SourceRecord) -> None:
        """Process one consumed record completely (including delivery) before returning."""
        try:
            event = parse_record(record.value, record.key, self._max_record_bytes)
        except RejectedRecordError as exc:
            await self._dead_letter(record, exc)
            return
        stored = self._sessions.get(event.session_id)
        state = SessionState.from_json_dict(stored) if stored else None
        outcome = self._engine.apply(state, event)
        if not outcome.duplicate:
            # Reassign, never mutate: only assignment reaches the changelog.
            self._sessions[event.session_id] = outcome.state.to_json_dict()
        if outcome.deliver is not None:
            await self._deliver(outcome.deliver)

    async def _deliver(self, escalation: Escalation) -> None:
        """Enqueue in Redis, retrying with backoff for as long as Redis is away."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                result = await self._writer.enqueue(escalation)
                break
            except QueueUnavailableError as exc:
                log.warning(
                    "escalation %s for session %s waits for Redis (%s); retry in %.1fs",
                    escalation.escalation_id,
                    escalation.session_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_ceiling)
        log.info(
            "escalation %s session=%s queue=%s priority=%d reasons=%s %s",
            escalation.escalation_id,
            escalation.session_id,
            escalation.queue,
            escalation.priority,
            ",".join(escalation.reasons),
            "enqueued" if result.created else "already enqueued",
        )
        await self._send_escalation(
            escalation.session_id.encode(), escalation.model_dump_json().encode()
        )

    async def _dead_letter(self, record: SourceRecord, error: RejectedRecordError) -> None:
        self.dead_letters += 1
        letter = DeadLetter(
            reason=error.reason,
            error=str(error),
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
            value_b64=base64.b64encode(record.value or b"").decode(),
            received_at=datetime.now(UTC).isoformat(),
        )
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            error.reason,
            error,
        )
        await self._send_dead_letter(record.key, letter.model_dump_json().encode())
