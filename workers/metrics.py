"""Prometheus metrics of one worker, in a registry of its own (several apps share a process in
tests and tools; the global registry would make their series collide).

Counters and histograms move as the pipeline reports what it did (``PipelineObserver``);
gauges that describe the present (open sessions, queue depth, consumer lag) are read when
``/metrics`` is scraped. Names and labels are a contract with the alerts and dashboards:
docs/observability.md.
"""

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

import redis.asyncio as aioredis
from faust.exceptions import ConsumerNotStarted
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.exceptions import RedisError

from schemas.escalation import Escalation, ReasonCode
from schemas.inbound import InboundEvent
from schemas.lifecycle import HandoffEvent, HandoffStatus
from schemas.trace import Verdict
from workers.decision import Outcome, Removal
from workers.queues import QueueKeys

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
PREFIX: Final = "escalator"
# The decision core takes tens of microseconds per event; the top buckets catch stalls.
DECISION_BUCKETS: Final = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.1,
)
# Record produced -> escalation in Redis: milliseconds when healthy, seconds when behind.
PRODUCE_TO_QUEUE_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
# Desks report ``returned_to_bot``; the metric's label is the short form.
HANDOFF_OUTCOME_LABELS: Final = {
    HandoffStatus.ACCEPTED: "accepted",
    HandoffStatus.RESOLVED: "resolved",
    HandoffStatus.RETURNED_TO_BOT: "returned",
    HandoffStatus.ABANDONED: "abandoned",
}
QUEUE_DEPTH_OPERATION: Final = "queue_depth"


class PipelineObserver(Protocol):
    """What the pipeline reports as it goes; every call is cheap and never raises."""

    def applied(self, event: InboundEvent, outcome: Outcome, seconds: float) -> None:
        """An inbound event went through the decision core in ``seconds``."""

    def settled(self, outcome: Outcome) -> None:
        """An outcome's state was stored or dropped, and its bot commands are being sent."""

    def enqueued(
        self, escalation: Escalation, replaces: Escalation | None, produced_at: float | None
    ) -> None:
        """An escalation entry was created in Redis (``replaces``: the one an SLA breach
        supersedes; ``produced_at``: the triggering record's Kafka timestamp in seconds)."""

    def withdrawn(self, removal: Removal) -> None:
        """An escalation's entry was taken out of its queue (or replaced by its re-raise)."""

    def dead_lettered(self, reason: str) -> None:
        """A record was sent to the dead-letter topic."""

    def redis_error(self, operation: str) -> None:
        """A Redis attempt failed (it is retried)."""


class _NoMetrics:
    """The observer of unit tests and benchmarks: measures nothing."""

    def applied(self, event: InboundEvent, outcome: Outcome, seconds: float) -> None:
        """Nothing to record."""

    def settled(self, outcome: Outcome) -> None:
        """Nothing to record."""

    def enqueued(
        self, escalation: Escalation, replaces: Escalation | None, produced_at: float | None
    ) -> None:
        """Nothing to record."""

    def withdrawn(self, removal: Removal) -> None:
        """Nothing to record."""

    def dead_lettered(self, reason: str) -> None:
        """Nothing to record."""

    def redis_error(self, operation: str) -> None:
        """Nothing to record."""


NO_METRICS: Final[PipelineObserver] = _NoMetrics()


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """Where the consumer stands on one assigned partition; None where it does not know yet."""

    topic: str
    partition: int
    highwater: int | None
    committed: int | None


class WorkerMetrics:
    """The registry and every metric of one worker (implements ``PipelineObserver``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.events = Counter(
            f"{PREFIX}_events",
            "Accepted inbound events (passed intake) by type.",
            ["type"],
            registry=registry,
        )
        self.duplicates = Counter(
            f"{PREFIX}_duplicate_events",
            "Redelivered events dropped as duplicates.",
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.decisions = Counter(
            f"{PREFIX}_decisions",
            "Events applied (duplicates excepted), by the session's matrix verdict after each.",
            ["verdict"],
            registry=registry,
        )
        self.escalations = Counter(
            f"{PREFIX}_escalations",
            "Escalations raised and enqueued, one increment per reason code.",
            ["reason", "queue"],
            registry=registry,
        )
        self.sla_breaches = Counter(
            f"{PREFIX}_sla_breaches",
            "Escalations raised again for waiting past their SLA, by the queue they waited in.",
            ["queue"],
            registry=registry,
        )
        self.handoff_outcomes = Counter(
            f"{PREFIX}_handoff_outcomes",
            "Desk reports on open escalations, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.sessions_ended = Counter(
            f"{PREFIX}_sessions_ended",
            'Sessions ended or expired; contained="true" if never escalated.',
            ["contained"],
            registry=registry,
        )
        self.sessions_dropped = Counter(
            f"{PREFIX}_sessions_dropped",
            "Session states dropped, by reason (idle_expired, session_ended).",
            ["reason"],
            registry=registry,
        )
        self.escalations_withdrawn = Counter(
            f"{PREFIX}_escalations_withdrawn",
            "Escalation entries the worker took out of their queue, by reason.",
            ["reason"],
            registry=registry,
        )
        self.containment_ratio = Gauge(
            f"{PREFIX}_containment_ratio",
            "Contained sessions over ended sessions since start (1 before any ended).",
            registry=registry,
        )
        self.containment_ratio.set_function(self._containment)
        self.open_sessions = Gauge(
            f"{PREFIX}_open_sessions",
            "Sessions in this worker's table.",
            registry=registry,
        )
        self.queue_depth = Gauge(
            f"{PREFIX}_queue_depth",
            "Entries in each Redis queue stream not yet accepted by a desk (XLEN).",
            ["queue", "priority"],
            registry=registry,
        )
        self.decision_seconds = Histogram(
            f"{PREFIX}_decision_seconds",
            "Time in the decision core per inbound event.",
            buckets=DECISION_BUCKETS,
            registry=registry,
        )
        self.produce_to_queue_seconds = Histogram(
            f"{PREFIX}_produce_to_queue_seconds",
            "Kafka timestamp of the triggering record to the escalation's entry in Redis.",
            buckets=PRODUCE_TO_QUEUE_BUCKETS,
            registry=registry,
        )
        self.redis_errors = Counter(
            f"{PREFIX}_redis_errors",
            "Failed Redis attempts (each is retried, or skipped for a scrape).",
            ["operation"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            f"{PREFIX}_consumer_lag",
            "High-water mark minus committed offset, per assigned input partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.committed_offset = Gauge(
            f"{PREFIX}_committed_offset",
            "Last committed offset per assigned input partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.bot_commands = Counter(
            f"{PREFIX}_bot_commands",
            "Commands sent to the bot, by command.",
            ["command"],
            registry=registry,
        )
        # Label children looked up once: the per-event calls are the hot path.
        self._events_by_type: dict[str, Counter] = {}
        self._decisions_by_verdict = {
            verdict: self.decisions.labels(verdict.value) for verdict in Verdict
        }
        self._ended = 0
        self._contained = 0

    # -- PipelineObserver ------------------------------------------------------------------

    def applied(self, event: InboundEvent, outcome: Outcome, seconds: float) -> None:
        """Count the event by type, and unless it is a duplicate, the verdict and handoff."""
        by_type = self._events_by_type.get(event.type)
        if by_type is None:
            by_type = self._events_by_type[event.type] = self.events.labels(event.type)
        by_type.inc()
        self.decision_seconds.observe(seconds)
        if outcome.duplicate:
            self.duplicates.inc()
            return
        self._decisions_by_verdict[outcome.matrix.verdict].inc()
        if isinstance(event, HandoffEvent):
            self.handoff_outcomes.labels(HANDOFF_OUTCOME_LABELS[event.status]).inc()

    def settled(self, outcome: Outcome) -> None:
        """Count ended sessions (contained: never escalated) and dropped ones by reason, and
        the bot commands sent."""
        if outcome.dropped:
            state = outcome.state
            contained = state.escalation is None and not state.closed_escalations
            self._ended += 1
            self._contained += contained
            self.sessions_ended.labels("true" if contained else "false").inc()
            self.sessions_dropped.labels(outcome.removal).inc()
        for command in outcome.commands:
            self.bot_commands.labels(command.command.value).inc()

    def enqueued(
        self, escalation: Escalation, replaces: Escalation | None, produced_at: float | None
    ) -> None:
        """A new escalation counts per reason; a re-raise counts as an SLA breach."""
        if ReasonCode.SLA_BREACH in escalation.reasons:
            self.sla_breaches.labels((replaces or escalation).queue).inc()
            return
        for reason in escalation.reasons:
            self.escalations.labels(reason.value, escalation.queue).inc()
        if produced_at is not None and produced_at > 0:
            self.produce_to_queue_seconds.observe(max(0.0, time.time() - produced_at))

    def withdrawn(self, removal: Removal) -> None:
        """Count one entry taken out of its queue."""
        self.escalations_withdrawn.labels(removal.value).inc()

    def dead_lettered(self, reason: str) -> None:
        """Count one dead letter."""
        self.dead_letters.labels(reason).inc()

    def redis_error(self, operation: str) -> None:
        """Count one failed Redis attempt."""
        self.redis_errors.labels(operation).inc()

    # -- read at scrape time -----------------------------------------------------------------

    def observe_open_sessions(self, count: int) -> None:
        """The number of sessions in this worker's table now."""
        self.open_sessions.set(count)

    def observe_offsets(self, partitions: Iterable[PartitionOffsets]) -> None:
        """Replace the lag and committed-offset series with the current assignment's."""
        self.consumer_lag.clear()
        self.committed_offset.clear()
        for tp in partitions:
            labels = (tp.topic, str(tp.partition))
            if tp.committed is not None:
                self.committed_offset.labels(*labels).set(tp.committed)
            if tp.highwater is not None:
                # Nothing committed yet: the consumer starts from the beginning.
                lag = max(0, tp.highwater - (tp.committed or 0))
                self.consumer_lag.labels(*labels).set(lag)

    def observe_queue_depths(self, depths: Mapping[tuple[str, int], int]) -> None:
        """Replace the queue-depth series with ``depths`` by (queue, priority)."""
        self.queue_depth.clear()
        for (queue, priority), depth in depths.items():
            self.queue_depth.labels(queue, str(priority)).set(depth)

    async def refresh_queue_depths(self, client: "aioredis.Redis", keys: QueueKeys) -> None:
        """Read every queue stream's length; if Redis does not answer, count the error and
        omit the series rather than fail the scrape."""
        try:
            depths = await read_queue_depths(client, keys)
        except (RedisError, OSError):
            self.redis_error(QUEUE_DEPTH_OPERATION)
            self.queue_depth.clear()
            return
        self.observe_queue_depths(depths)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)

    def _containment(self) -> float:
        return self._contained / self._ended if self._ended else 1.0


async def read_queue_depths(
    client: "aioredis.Redis", keys: QueueKeys
) -> dict[tuple[str, int], int]:
    """XLEN of every queue stream in the queue index, by (queue, priority). A stream holds the
    escalations not yet accepted: waiting, or claimed by a desk that has not accepted yet."""
    streams = sorted(cast(set[bytes], await client.smembers(keys.queue_index)))
    named = [(stream, keys.parse_queue_stream(stream.decode())) for stream in streams]
    known = [(stream, parsed) for stream, parsed in named if parsed is not None]
    if not known:
        return {}
    async with client.pipeline(transaction=False) as pipe:
        for stream, _parsed in known:
            pipe.xlen(stream)
        lengths = cast(list[int], await pipe.execute())
    return {parsed: length for (_stream, parsed), length in zip(known, lengths, strict=True)}


def consumer_offsets(consumer: Any, topics: Collection[str]) -> list[PartitionOffsets]:
    """The partitions of ``topics`` assigned to a Faust consumer (``app.consumer``), with the
    high-water mark the last fetch reported and the offset Faust last committed; empty while
    the consumer is not running. A partition taken away mid-read is left out."""
    try:
        assigned = consumer.assignment()
    except ConsumerNotStarted:
        return []
    committed: Mapping[Any, int | None] = consumer._committed_offset
    found = []
    for tp in sorted(tp for tp in assigned if tp.topic in topics):
        try:
            highwater = consumer.highwater(tp)
        except (ConsumerNotStarted, AssertionError):  # aiokafka asserts the assignment
            continue
        found.append(PartitionOffsets(tp.topic, tp.partition, highwater, committed.get(tp)))
    return found
