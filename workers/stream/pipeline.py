"""What the agent does with each batch of records: intake, decide, keep state, deliver.

Ordering: one agent instance (``concurrency=1``) handles a partition's records in offset
order, a batch at a time. Delivery: an escalation reaches Redis before the next record is
looked at, and nothing in a batch is acknowledged before the whole batch is done, so an offset
is never committed past an escalation that is not in its queue; Redis writes are idempotent by
``escalation_id``, so redelivered records cannot duplicate it. State: each session touched
between two flushes is written to the table once (several events of a session share one
changelog record). A flush is a checkpoint: the states first, then, once the broker has them,
the last offset applied per input partition. Records may be acknowledged, and committed, before
the flush that covers them: whatever lies between a partition's checkpoint and the next
record handed over (or, at a quiet tick, the partition's end) is read back from the broker
and applied (workers/stream/gaps.py), so a crash or a rebalance loses nothing; records at or
below the last applied offset are skipped, and an event applied twice is caught by its id."""

import asyncio
import base64
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel

from schemas.dead_letter import DeadLetter
from schemas.escalation import Escalation
from workers.decision import DecisionEngine, Outcome, Removal, SessionState
from workers.intake import RejectedRecordError, parse_record
from workers.metrics import NO_METRICS, PipelineObserver
from workers.queues import AgentQueueWriter, QueueUnavailableError
from workers.stream import codec
from workers.stream.exceptions import EndOffsetUnavailableError, ReadBackUnavailableError

log = logging.getLogger("escalator.pipeline")

FIRST_RETRY_SECONDS = 0.1
T = TypeVar("T")

# (key, value) -> awaitable: how the pipeline produces to a Kafka topic.
Send = Callable[[bytes | None, bytes], Awaitable[Any]]
# Records read back from the broker per request, so a long gap never sits in memory whole.
READ_BACK_CHUNK = 2_000


def utc_now() -> datetime:
    """The worker's clock: when it takes an event (``DecisionEngine.apply``'s ``seen_at``)."""
    return datetime.now(UTC)


def _to_the_second(moment: datetime | None) -> str:
    """A time for a log line: microseconds read as a phone number to the log redaction."""
    return moment.isoformat(timespec="seconds") if moment else "never"


class SessionStore(Protocol):
    """Where session state lives between batches: the worker's changelog-backed table, keyed
    by session id, holding ``codec.encode`` bytes. Writes name the input partition they
    belong to, which is the changelog partition they go to."""

    def get(self, key: str, partition: int) -> bytes | None: ...

    def read(self, key: str) -> bytes | None:
        """A read from outside the stream (a web request), partition unknown."""
        ...

    def put(self, key: str, value: bytes, partition: int) -> None: ...

    def delete(self, key: str, partition: int) -> None: ...

    def items(self) -> Iterable[tuple[str, bytes]]: ...


class RangeReader(Protocol):
    """Reads back records the consumer passed over (see workers/stream/gaps.py)."""

    async def read(
        self, topic: str, partition: int, start: int, end: int, limit: int
    ) -> Sequence["SourceRecord"]:
        """Up to ``limit`` records from ``start`` (or the log's start, if later) to ``end``
        (exclusive), in order; empty when none of them is on the broker any more."""
        ...

    async def end_offset(self, topic: str, partition: int) -> int:
        """The offset the partition's next record will have."""
        ...


class Tick(BaseModel):
    """A clock tick for one partition (see the app's timer)."""

    type: Literal["tick"]
    tick_id: str
    ts: AwareDatetime


class SourceRecord(Protocol):
    """The parts of a consumed Kafka message the pipeline uses."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def timestamp(self) -> float:
        """The Kafka record's timestamp, in seconds since the epoch."""
        ...


@dataclass(slots=True)
class _Pending:
    """What a batch changed and has not yet written: the latest state of each session it
    touched (``None``: drop it) and the last offset it applied per input partition."""

    states: dict[str, tuple[SessionState | None, int]] = field(default_factory=dict)
    applied: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last offset applied per input partition by the records whose states were just
    written (``states`` of them)."""

    applied: dict[tuple[str, int], int]
    states: int


class Pipeline:
    """Glue between Faust and the pure core; holds no state of its own between batches."""

    def __init__(
        self,
        *,
        engine: DecisionEngine,
        sessions: SessionStore,
        applied_offsets: SessionStore,
        writer: AgentQueueWriter,
        send_escalation: Send,
        send_dead_letter: Send,
        send_command: Send,
        ticks_topic: str,
        max_record_bytes: int,
        max_word_chars: int,
        retry_ceiling_seconds: float,
        input_topics: Sequence[str] = (),
        reader: RangeReader | None = None,
        wait_written: Callable[[], Awaitable[None]] | None = None,
        metrics: PipelineObserver = NO_METRICS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._applied_offsets = applied_offsets
        self._input_topics = sorted(input_topics)
        self._reader = reader
        self._wait_written = wait_written
        self._writer = writer
        self._send_escalation = send_escalation
        self._send_dead_letter = send_dead_letter
        self._send_command = send_command
        self._ticks_topic = ticks_topic
        self._max_record_bytes = max_record_bytes
        self._max_word_chars = max_word_chars
        self._retry_ceiling = retry_ceiling_seconds
        self._metrics = metrics
        self._clock = clock
        self._dirty = _Pending()
        # Input partitions that took a record since their last tick (see _read_back_quiet).
        self._took_records: set[tuple[str, int]] = set()
        # Offsets of a checkpoint whose states are written but which is not yet stored.
        self._checkpointing: dict[tuple[str, int], int] = {}
        self._index: dict[int, dict[str, float | None]] | None = None
        self.stats: Counter[str] = Counter()

    async def handle(self, record: SourceRecord) -> None:
        """Process one consumed record completely, its state written, before returning."""
        await self.handle_batch((record,))
        await self.flush()

    async def handle_batch(self, records: Sequence[SourceRecord]) -> None:
        """Process consumed records in order, each with its effects delivered before the
        next. State is written by ``flush``, so several events of a session, across batches,
        share one changelog record; after a crash, what no flush covered is read again."""
        self.stats["batches"] += 1
        for record in records:
            if record.topic == self._ticks_topic:
                await self._tick(record)
                continue
            last = self._last_applied(record.topic, record.partition, self._dirty)
            if last is not None and record.offset <= last:
                # Redelivered after a restart, or read back first: applied already.
                self.stats["records_already_applied"] += 1
                continue
            await self._read_back(record.topic, record.partition, last, record.offset)
            await self._apply(record, self._dirty)

    @property
    def unflushed_sessions(self) -> int:
        """Sessions changed since the last flush (what a flush will write)."""
        return len(self._dirty.states)

    def open_sessions(self, partitions: set[int]) -> int:
        """Sessions held for ``partitions``, written or not."""
        index = self._session_index()
        held = sum(len(index.get(partition, {})) for partition in partitions)
        for session_id, (state, partition) in self._dirty.states.items():
            if partition in partitions:
                held += (state is not None) - (session_id in index.get(partition, {}))
        return held

    def current_state(self, session_id: str) -> SessionState | None:
        """The session's latest state, written or not (None: unknown or dropped)."""
        if session_id in self._dirty.states:
            return self._dirty.states[session_id][0]
        stored = self._sessions.read(session_id)
        return codec.decode_state(stored) if stored is not None else None

    async def flush(self) -> None:
        """Write every session state changed since the last flush and, once the broker has
        them, the last offset applied per input partition: the checkpoint read-back starts
        from. Returns when both are on the broker."""
        checkpoint = self.write_states()
        await self.wait_states_written(checkpoint)
        await self.write_checkpoint(checkpoint)

    def write_states(self) -> Checkpoint:
        """Hand every session state changed since the last call to the table (the producer
        sends them on); returns the checkpoint they make good once the broker has them. The
        agent goes on while they travel, so a flush costs it the table writes only."""
        pending, self._dirty = self._dirty, _Pending()
        self.stats["flushes"] += 1
        self.stats["state_writes"] += len(pending.states)
        for session_id, (state, partition) in pending.states.items():
            due_at = None
            if state is None:
                self._sessions.delete(session_id, partition)
            else:
                due = self._engine.next_check(state)
                due_at = due.timestamp() if due else None
                self._sessions.put(session_id, codec.encode(state, partition, due_at), partition)
            if self._index is not None:
                on_partition = self._index.setdefault(partition, {})
                if state is None:
                    on_partition.pop(session_id, None)
                else:
                    on_partition[session_id] = due_at
        self._checkpointing.update(pending.applied)
        return Checkpoint(applied=pending.applied, states=len(pending.states))

    async def wait_states_written(self, checkpoint: Checkpoint) -> None:
        """Until the broker has the states written before ``checkpoint`` (and anything
        produced before them)."""
        if checkpoint.states and self._wait_written is not None:
            await self._wait_written()

    async def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Record ``checkpoint``'s offsets; call it once ``wait_states_written`` returned,
        never before (read-back would then skip records whose states the broker lacks)."""
        for (topic, partition), offset in checkpoint.applied.items():
            self._applied_offsets.put(f"{topic}:{partition}", b"%d" % offset, partition)
            if self._checkpointing.get((topic, partition)) == offset:
                del self._checkpointing[(topic, partition)]
        if checkpoint.applied and self._wait_written is not None:
            await self._wait_written()

    def discard(self) -> None:
        """Forget what was not flushed: after a rebalance the records behind it are read
        again (they were never acknowledged), by this worker or the partition's new owner,
        which must not find writes of a worker that no longer owns the partition."""
        self.stats["unflushed_sessions_discarded"] += len(self._dirty.states)
        self._dirty = _Pending()
        self._checkpointing = {}  # not to be stored: read-back starts from the stored one
        self._took_records.clear()  # a new owner's first tick checks every partition's end
        self._index = None  # the table may have changed under new ownership: rebuilt on demand

    async def _apply(self, record: SourceRecord, pending: _Pending) -> None:
        pending.applied[(record.topic, record.partition)] = record.offset
        self._took_records.add((record.topic, record.partition))
        try:
            event = parse_record(
                record.value, record.key, self._max_record_bytes, self._max_word_chars
            )
        except RejectedRecordError as exc:
            await self._dead_letter(record, exc)
            return
        if event.session_id in pending.states:
            state, _ = pending.states[event.session_id]
        else:
            stored = self._sessions.get(event.session_id, record.partition)
            state = codec.decode_state(stored) if stored is not None else None
        seen_at = self._clock()
        started = time.perf_counter()
        outcome = self._engine.apply(state, event, seen_at)
        self._metrics.applied(event, outcome, time.perf_counter() - started)
        self.stats["events"] += 1
        self.stats["duplicates"] += outcome.duplicate
        if outcome.dropped and state is None:
            # The end of a session this worker holds no state of (it expired already, or was
            # never seen): nothing to drop, and an expired one was counted as it expired.
            self.stats["ends_of_unknown_sessions"] += 1
            return
        await self._settle(
            outcome, record.partition, pending, changed=True, produced_at=record.timestamp
        )

    async def _read_back(self, topic: str, partition: int, last: int | None, offset: int) -> None:
        """Apply, first, any records between the last one applied on this partition and
        ``offset`` that the consumer passed over (workers/stream/gaps.py says why)."""
        # No checkpoint yet: everything the log still holds before ``offset`` is unapplied.
        start = 0 if last is None else last + 1
        if self._reader is None or offset <= start:
            return
        applied = 0
        while start < offset:
            missed = await self._read_range(topic, partition, start, offset)
            if not missed:  # gone from the broker (retention); the reader said which
                self.stats["records_lost_to_retention"] += offset - start
                break
            for record in missed:
                await self._apply(record, self._dirty)
            applied += len(missed)
            start = missed[-1].offset + 1
        self.stats["records_read_back"] += applied
        if applied:
            log.warning(
                "%s[%d]: read back and applied %d records before offset %d (after a crash, "
                "a rebalance or records the consumer passed over)",
                topic,
                partition,
                applied,
                offset,
            )

    async def _read_range(
        self, topic: str, partition: int, start: int, offset: int
    ) -> Sequence[SourceRecord]:
        """The next chunk of ``start``..``offset`` (exclusive)."""
        assert self._reader is not None
        return await self._from_broker(
            "read back", self._reader.read, topic, partition, start, offset, READ_BACK_CHUNK
        )

    async def _from_broker(self, what: str, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``call(*args)``, retried with backoff for as long as the broker does not answer
        it: the partition waits rather than skip records."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                return await call(*args)
            except (ReadBackUnavailableError, EndOffsetUnavailableError) as exc:
                self.stats["read_back_retries"] += 1
                log.warning("waiting for the broker to %s (%s); retry in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_ceiling)

    def _last_applied(self, topic: str, partition: int, pending: _Pending) -> int | None:
        if (topic, partition) in pending.applied:
            return pending.applied[(topic, partition)]
        if (topic, partition) in self._checkpointing:
            return self._checkpointing[(topic, partition)]
        stored = self._applied_offsets.get(f"{topic}:{partition}", partition)
        return int(stored) if stored is not None else None

    async def _tick(self, record: SourceRecord) -> None:
        """Read back what a quiet partition's consumer passed over, then run the
        SLA watchdog and expiry over this partition's sessions that are due."""
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
        self.stats["ticks"] += 1
        await self._read_back_quiet(record.partition)
        for session_id, state in self._due_sessions(record.partition, tick.ts.timestamp()):
            outcome = self._engine.tick(state, tick.ts, tick.tick_id)
            await self._settle(
                outcome, record.partition, self._dirty, changed=outcome.state is not state
            )
            log.debug("tick %s session=%s", tick.tick_id, session_id)

    def _due_sessions(self, partition: int, now: float) -> list[tuple[str, SessionState]]:
        """The partition's sessions that need a look at ``now``: unflushed states first,
        then stored ones, found through the session index (none is parsed to find out)."""
        found: list[tuple[str, SessionState]] = []
        for session_id, (state, on) in self._dirty.states.items():
            if state is not None and on == partition:
                due = self._engine.next_check(state)
                if due is not None and due.timestamp() <= now:
                    found.append((session_id, state))
        stored = self._session_index().get(partition, {})
        for session_id in [key for key, due in stored.items() if due is not None and due <= now]:
            if session_id in self._dirty.states:
                continue
            value = self._sessions.get(session_id, partition)
            if value is None:
                del stored[session_id]
                continue
            found.append((session_id, codec.decode_state(value)))
        return found

    def _session_index(self) -> dict[int, dict[str, float | None]]:
        """Per partition, each stored session and when it is next due (None: never). Built
        by one pass over the table (its headers) after every change of ownership, then kept
        by ``flush``, so neither a tick nor a metrics scrape walks the whole table."""
        if self._index is None:
            self._index = {}
            for session_id, value in self._sessions.items():
                partition, due = codec.decode_header(value)
                self._index.setdefault(partition, {})[session_id] = due
            self.stats["session_index_builds"] += 1
        return self._index

    async def _read_back_quiet(self, partition: int) -> None:
        """An input partition that took no record since its last tick, while the broker
        holds records past the last one applied, has records the consumer passed over
        (acknowledged without handing them over, or never handed over after a rebalance):
        they are read back up to the partition's end. A partition that took records had
        their offsets checked already, so a busy partition costs no round trip to the
        broker; if the consumer hands over records read back meanwhile, they are skipped
        as already applied."""
        if self._reader is None:
            return
        for topic in self._input_topics:
            if (topic, partition) in self._took_records:
                self._took_records.discard((topic, partition))
                continue
            self.stats["end_offset_checks"] += 1
            end = await self._from_broker(
                "find the end of", self._reader.end_offset, topic, partition
            )
            last = self._last_applied(topic, partition, self._dirty)
            await self._read_back(topic, partition, last, end)

    async def _settle(
        self,
        outcome: Outcome,
        partition: int,
        pending: _Pending,
        changed: bool,
        produced_at: float | None = None,
    ) -> None:
        """Note the state to store (or drop), then carry out every effect, each idempotent;
        ``produced_at`` is the triggering record's timestamp (none for ticks)."""
        session_id = outcome.session_id
        self._metrics.settled(outcome)
        if outcome.dropped:
            self.stats["sessions_dropped"] += 1
            pending.states[session_id] = (None, partition)
            log.info(
                "session %s state dropped: %s (seen last at %s, latest event time %s)",
                session_id,
                outcome.removal,
                _to_the_second(outcome.state.seen_at),
                _to_the_second(outcome.state.last_ts),
                extra={"session_id": session_id},
            )
        elif changed and not outcome.duplicate:
            pending.states[session_id] = (outcome.state, partition)
        if outcome.withdraw is not None and await self._with_redis(
            self._writer.withdraw, outcome.withdraw
        ):
            self._withdrawn(outcome.withdraw, outcome.removal)
        if outcome.deliver is not None:
            replaced = await self._deliver(outcome.deliver, outcome.replaces, produced_at)
            if replaced is not None:
                self._withdrawn(replaced, outcome.removal)
        for command in outcome.commands:
            self.stats[f"bot_commands.{command.command.value}"] += 1
            log.info(
                "bot command %s session=%s (%s)",
                command.command,
                session_id,
                command.reason,
                extra={"session_id": session_id, "escalation_id": command.escalation_id},
            )
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
                self._metrics.redis_error(operation.__name__)
                log.warning(
                    "waiting for Redis to %s escalation %s of session %s (%s); retry in %.1fs",
                    operation.__name__,
                    args[-1].escalation_id,
                    args[-1].session_id,
                    exc,
                    delay,
                    extra={
                        "session_id": args[-1].session_id,
                        "escalation_id": args[-1].escalation_id,
                    },
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_ceiling)

    async def _deliver(
        self, escalation: Escalation, replaces: Escalation | None, produced_at: float | None
    ) -> Escalation | None:
        """Enqueue (or requeue in place of ``replaces``) and publish the escalation; returns
        ``replaces`` if this call put the escalation in its place."""
        if replaces is not None:
            result = await self._with_redis(self._writer.requeue, replaces, escalation)
        else:
            result = await self._with_redis(self._writer.enqueue, escalation)
        self.stats[
            "escalations_enqueued" if result.created else "escalations_already_enqueued"
        ] += 1
        if result.created:
            self._metrics.enqueued(escalation, replaces, produced_at)
        log.info(
            "escalation %s session=%s queue=%s priority=%d reasons=%s %s",
            escalation.escalation_id,
            escalation.session_id,
            escalation.queue,
            escalation.priority,
            ",".join(escalation.reasons),
            "enqueued" if result.created else "already enqueued",
            extra={"session_id": escalation.session_id, "escalation_id": escalation.escalation_id},
        )
        await self._send_escalation(
            escalation.session_id.encode(), escalation.model_dump_json().encode()
        )
        return replaces if result.created else None

    def _withdrawn(self, escalation: Escalation, removal: Removal | None) -> None:
        """Count and log an entry taken out of its queue, once: only the call that removed it
        (or put its successor in its place) gets here; a repeat finds nothing to do."""
        assert removal is not None, "the decision core says why an entry leaves its queue"
        self.stats["escalations_withdrawn"] += 1
        self._metrics.withdrawn(removal)
        log.info(
            "escalation %s session=%s withdrawn from queue=%s priority=%d: %s",
            escalation.escalation_id,
            escalation.session_id,
            escalation.queue,
            escalation.priority,
            removal,
            extra={"session_id": escalation.session_id, "escalation_id": escalation.escalation_id},
        )

    async def _dead_letter(self, record: SourceRecord, error: RejectedRecordError) -> None:
        self.stats["dead_letters"] += 1
        self.stats[f"dead_letters.{error.reason.value}"] += 1
        self._metrics.dead_lettered(error.reason.value)
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
