"""What the agent does with each record: intake, decide, keep state, deliver.

Ordering: one agent instance per partition (``concurrency=1``) handles a session's events in
offset order. Delivery: an escalation reaches Redis before the agent moves on, so an offset is
never committed past an escalation that is not in its queue; Redis writes are idempotent by
``escalation_id``, so redelivered events cannot duplicate it.
"""

import asyncio
import base64
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel

from schemas.dead_letter import DeadLetter
from schemas.escalation import Escalation
from workers.decision import DecisionEngine, Outcome, SessionState
from workers.intake import RejectedRecordError, parse_record
from workers.queues import AgentQueueWriter, QueueUnavailableError

log = logging.getLogger("escalator.pipeline")

FIRST_RETRY_SECONDS = 0.1
# Stored beside the session state: the partition it lives on (ticks are per partition) and
# when it next needs a look (epoch seconds), so a tick skips sessions without parsing them.
PARTITION_FIELD = "_partition"
DUE_FIELD = "_due"
T = TypeVar("T")

# (key, value) -> awaitable: how the pipeline produces to a Kafka topic.
Send = Callable[[bytes | None, bytes], Awaitable[Any]]


class SessionStore(Protocol):
    """Where session state lives between events (a Faust table in the worker)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def __setitem__(self, key: str, value: Any) -> None: ...

    def pop(self, key: str) -> None: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...


class Tick(BaseModel):
    """A clock tick for one partition (see the app's timer)."""

    type: Literal["tick"]
    tick_id: str
    ts: AwareDatetime


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
        send_command: Send,
        ticks_topic: str,
        max_record_bytes: int,
        max_word_chars: int,
        retry_ceiling_seconds: float,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._writer = writer
        self._send_escalation = send_escalation
        self._send_dead_letter = send_dead_letter
        self._send_command = send_command
        self._ticks_topic = ticks_topic
        self._max_record_bytes = max_record_bytes
        self._max_word_chars = max_word_chars
        self._retry_ceiling = retry_ceiling_seconds
        self.stats: Counter[str] = Counter()

    async def handle(self, record: SourceRecord) -> None:
        """Process one consumed record completely (including delivery) before returning."""
        if record.topic == self._ticks_topic:
            await self._tick(record)
            return
        try:
            event = parse_record(
                record.value, record.key, self._max_record_bytes, self._max_word_chars
            )
        except RejectedRecordError as exc:
            await self._dead_letter(record, exc)
            return
        stored = self._sessions.get(event.session_id)
        state = SessionState.from_json_dict(stored) if stored else None
        outcome = self._engine.apply(state, event)
        self.stats["events"] += 1
        self.stats["duplicates"] += outcome.duplicate
        await self._settle(outcome, record.partition, changed=True)

    async def _tick(self, record: SourceRecord) -> None:
        """Run the SLA watchdog and expiry over this partition's sessions that are due."""
        try:
            tick = Tick.model_validate_json(record.value or b"")
        except ValueError:
            log.warning(
                "ignored a malformed tick at %s[%d]@%d",
                record.topic,
                record.partition,
                record.offset,
            )
            return
        now = tick.ts.timestamp()
        for session_id, stored in list(self._sessions.items()):
            if stored.get(PARTITION_FIELD) != record.partition or stored.get(DUE_FIELD, 0.0) > now:
                continue
            state = SessionState.from_json_dict(stored)
            outcome = self._engine.tick(state, tick.ts, tick.tick_id)
            await self._settle(outcome, record.partition, changed=outcome.state is not state)
            log.debug("tick %s session=%s", tick.tick_id, session_id)

    async def _settle(self, outcome: Outcome, partition: int, changed: bool) -> None:
        """Store (or drop) the state, then carry out every effect, each idempotent."""
        session_id = outcome.session_id
        if outcome.dropped:
            self.stats["sessions_dropped"] += 1
            self._sessions.pop(session_id)
            log.info("session %s state dropped", session_id)
        elif changed and not outcome.duplicate:
            # Reassign, never mutate: only assignment reaches the changelog.
            stored = outcome.state.to_json_dict()
            stored[PARTITION_FIELD] = partition
            due = self._engine.next_check(outcome.state)
            stored[DUE_FIELD] = due.timestamp() if due else None
            self._sessions[session_id] = stored
        if outcome.withdraw is not None:
            await self._with_redis(self._writer.withdraw, outcome.withdraw)
        if outcome.deliver is not None:
            await self._deliver(outcome.deliver, outcome.replaces)
        for command in outcome.commands:
            self.stats[f"bot_commands.{command.command.value}"] += 1
            log.info("bot command %s session=%s (%s)", command.command, session_id, command.reason)
            await self._send_command(session_id.encode(), command.model_dump_json().encode())

    async def _with_redis(self, operation: Callable[..., Awaitable[T]], *args: Escalation) -> T:
        """Run a Redis operation on escalations (the last one is the one it is about),
        retrying with backoff for as long as Redis is away: the partition waits, so no offset
        is committed past an effect that did not happen."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                return await operation(*args)
            except QueueUnavailableError as exc:
                log.warning(
                    "waiting for Redis to %s escalation %s of session %s (%s); retry in %.1fs",
                    operation.__name__,
                    args[-1].escalation_id,
                    args[-1].session_id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_ceiling)

    async def _deliver(self, escalation: Escalation, replaces: Escalation | None) -> None:
        """Enqueue (or requeue in place of ``replaces``) and publish the escalation."""
        if replaces is not None:
            result = await self._with_redis(self._writer.requeue, replaces, escalation)
        else:
            result = await self._with_redis(self._writer.enqueue, escalation)
        self.stats[
            "escalations_enqueued" if result.created else "escalations_already_enqueued"
        ] += 1
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
        self.stats["dead_letters"] += 1
        self.stats[f"dead_letters.{error.reason.value}"] += 1
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
