"""The Faust app: one table of session state and one thin agent over the chat-events topic."""

import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.types import ConsumerT, ProducerT, StreamT, TableT, TransportT
from faust.web import Request, Response, View

from schemas.escalation import ReasonCode
from workers.decision import DecisionEngine, Policy, SessionState
from workers.decision.policy import load_policy
from workers.logs import LogRedaction
from workers.metrics import CONTENT_TYPE, WorkerMetrics, consumer_offsets
from workers.queues import AgentQueueWriter, QueueKeys
from workers.redis_clients import CHECK_TIMEOUT_SECONDS, async_client
from workers.settings import BrokerProfile, Settings
from workers.stream.batching import BatchingConsumer
from workers.stream.gaps import KafkaRangeReader
from workers.stream.pipeline import Pipeline
from workers.stream.state_writer import StateWriter
from workers.stream.transport import SCHEME, EmbeddedTransport, KafkaTransport, embedded_url

log = logging.getLogger("escalator.app")

SESSIONS_TABLE = "sessions"
APPLIED_OFFSETS_TABLE = "applied-offsets"
# Fetched batches the agent's queue holds per input partition before fetching pauses.
BATCHES_BUFFERED_PER_PARTITION = 2
# The evidence a session holds, by reason, as ``GET /sessions/{id}`` groups it.
EVIDENCE_FIELDS = {
    ReasonCode.FRUSTRATION: "negative_run",
    ReasonCode.LOOP: "loop_evidence",
    ReasonCode.CAPABILITY_GAP: "gap_evidence",
    ReasonCode.HIGH_STAKES: "topic_evidence",
}


@dataclass(frozen=True, slots=True)
class Worker:
    """The app and the pieces tests and tools reach for."""

    app: faust.App
    pipeline: Pipeline
    sessions: TableT[bytes, Any]


def faust_options(settings: Settings) -> dict[str, Any]:
    """The broker, group and web settings of a Faust app for ``settings`` (the benchmark's
    bare agent uses the same ones, so the two are measured on equal terms)."""
    embedded = settings.broker_profile is BrokerProfile.EMBEDDED
    rebalance, session, heartbeat = settings.group_timeouts
    return {
        "broker": embedded_url(settings.broker_url) if embedded else settings.broker_url,
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "web_host": settings.web_host,
        "web_bind": settings.web_host,
        "web_port": settings.web_port,
        "canonical_url": settings.web_canonical_url,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "broker_rebalance_timeout": rebalance,
        "broker_session_timeout": session,
        "broker_heartbeat_interval": heartbeat,
        "consumer_group_instance_id": settings.group_instance_id,
        "consumer_auto_offset_reset": "earliest",
        "broker_max_poll_records": settings.batch_max_records,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "autodiscover": False,
        "broker_credentials": settings.faust_broker_credentials(),
    }


def build_app(settings: Settings, policy: Policy | None = None) -> Worker:
    """Wire the Faust app for ``settings``; nothing connects until the worker starts."""
    # One stream, co-partitioned by session id: chat events, desks' reports and clock ticks,
    # so one agent instance sees everything about a session in order.
    inbound_topics = (
        settings.chat_events_topic,
        settings.handoff_events_topic,
        settings.ticks_topic,
    )
    # The agent's queue holds fetched batches, not records (workers/stream/batching.py):
    # a few per input partition bound what waits in memory.
    app = _App(
        settings.app_id,
        **faust_options(settings),
        stream_buffer_maxsize=(
            BATCHES_BUFFERED_PER_PARTITION * len(inbound_topics) * settings.partitions
        ),
    )
    app.batched_topics = frozenset(inbound_topics)
    # One write: the unwritten sessions (a batch may add some past the bound) and a
    # checkpoint record per input partition.
    app.producer_buffer_limit = (
        settings.max_unflushed_sessions + settings.batch_max_records + 2 * settings.partitions
    )
    policy = policy or load_policy(settings.policy_file)
    # Faust's worker replaces the root log handlers; put the redacting filter on its own.
    app.add_dependency(LogRedaction(policy.redaction.logs, settings.log_format))
    inbound = app.topic(*inbound_topics, key_type=bytes, value_type=bytes)
    ticks = app.topic(settings.ticks_topic, key_type=bytes, value_type=bytes)
    bot_control = app.topic(settings.bot_control_topic, key_type=bytes, value_type=bytes)
    escalations = app.topic(settings.escalations_topic, key_type=bytes, value_type=bytes)
    dead_letters = app.topic(settings.dead_letter_topic, key_type=bytes, value_type=bytes)
    sessions = app.Table(
        SESSIONS_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        help="Per-session decision state (workers.decision.SessionState).",
    )
    applied_offsets = app.Table(
        APPLIED_OFFSETS_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        help="Per input partition, the offset of the last record applied (ASCII integer).",
    )
    writer = AgentQueueWriter.from_settings(settings)

    async def send_escalation(key: bytes | None, value: bytes) -> None:
        await escalations.send(key=key, value=value)

    async def send_dead_letter(key: bytes | None, value: bytes) -> None:
        await dead_letters.send(key=key, value=value)

    async def send_command(key: bytes | None, value: bytes) -> None:
        await bot_control.send(key=key, value=value)

    async def wait_written() -> None:
        """Until everything produced so far (table changelogs included) is on the broker."""
        await app.producer.flush()

    engine = DecisionEngine(policy)
    metrics = WorkerMetrics()
    # Its own client with short timeouts: a scrape must answer even while Redis is away.
    depth_client = async_client(settings, timeout=CHECK_TIMEOUT_SECONDS)
    pipeline = Pipeline(
        engine=engine,
        sessions=_PartitionedTable(sessions, settings.chat_events_topic),
        applied_offsets=_PartitionedTable(applied_offsets, settings.chat_events_topic),
        input_topics=(settings.chat_events_topic, settings.handoff_events_topic),
        reader=KafkaRangeReader(settings),
        wait_written=wait_written,
        writer=writer,
        send_escalation=send_escalation,
        send_dead_letter=send_dead_letter,
        send_command=send_command,
        ticks_topic=settings.ticks_topic,
        max_record_bytes=settings.max_record_bytes,
        max_word_chars=settings.max_word_chars,
        retry_ceiling_seconds=settings.redis_retry_max_seconds,
        metrics=metrics,
    )

    @app.timer(settings.tick_interval_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def clock() -> None:
        """Timers cannot write tables, so the time goes through the agent as one tick per
        partition; the agent runs the SLA watchdog and expiry on that partition's sessions."""
        now = datetime.now(UTC)
        for partition in range(settings.partitions):
            tick = {
                "type": "tick",
                "tick_id": f"tick-{now.timestamp():.3f}-{partition}",
                "ts": now.isoformat(),
            }
            await ticks.send(value=json.dumps(tick).encode(), partition=partition)

    writer_of_state = StateWriter(
        app, pipeline, settings.state_flush_seconds, settings.max_unflushed_sessions
    )
    app.before_stop = writer_of_state.on_stop

    @app.agent(inbound, concurrency=1)
    async def decide(stream: StreamT[bytes]) -> None:
        """One fetched batch of one partition at a time, in offset order: per-session order
        is the partition's order; state is written by ``StateWriter``."""
        async for event in stream.events():
            async with writer_of_state.batch((event,)) as current:
                await pipeline.handle_batch(current)

    @app.page("/sessions/{session_id}")
    @app.table_route(table=sessions, match_info="session_id")
    async def session_state(web: View, request: Request, **params: Any) -> Response:
        """The stored state of one session and its decision trace, redacted as a handoff
        packet is, answered by the worker that owns it (a request to another is forwarded)."""
        session_id = str(params["session_id"])
        state = pipeline.current_state(session_id)
        if state is None:
            return web.json({"error": "unknown session", "session_id": session_id}, status=404)
        return web.json(session_view(state, engine))

    @app.page("/stats")
    async def stats(web: View, request: Request) -> Response:
        """Counters since start: events, duplicates, dead letters by reason, escalations."""
        return web.json(dict(pipeline.stats))

    @app.page("/assignment")
    async def assignment(web: View, request: Request) -> Response:
        """The input partitions this worker owns, and the consumer group's generation (it
        moves at every rebalance of the group, so a restart that caused none shows here)."""
        owned: dict[str, list[int]] = {}
        for tp in sorted(app.assignor.assigned_actives()):
            if tp.topic in inbound_topics:
                owned.setdefault(tp.topic, []).append(tp.partition)
        return web.json({"generation": app.consumer_generation_id, "partitions": owned})

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        """200 once partitions are assigned and tables recovered; 503 before or in a rebalance."""
        recovered = cast(Any, app.tables).recovery.completed.is_set()
        is_ready = recovered and not app.rebalancing and not app.in_recovery
        return web.json({"ready": is_ready}, status=200 if is_ready else 503)

    @app.page("/health")
    async def health(web: View, request: Request) -> Response:
        """Liveness: answered whenever the event loop runs, ready or not."""
        return web.json({"alive": True})

    @app.page("/metrics")
    async def metrics_page(web: View, request: Request) -> Response:
        """Prometheus exposition; open sessions, consumer offsets and queue depth are read
        now (queue depth is left out, and a Redis error counted, while Redis is away)."""
        actives = {
            tp.partition
            for tp in app.assignor.assigned_actives()
            if tp.topic == settings.chat_events_topic
        }
        if cast(Any, app.tables).recovery.completed.is_set():  # else the last count stands
            metrics.observe_open_sessions(pipeline.open_sessions(actives))
        metrics.observe_offsets(consumer_offsets(app.consumer, inbound_topics))
        await metrics.refresh_queue_depths(depth_client, QueueKeys(settings.redis_prefix))
        return web.bytes(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    from workers.board import install_board

    install_board(app, settings, policy)
    return Worker(app=app, pipeline=pipeline, sessions=sessions)


def session_view(state: SessionState, engine: DecisionEngine) -> dict[str, Any]:
    """A session's state as ``GET /sessions/{id}`` shows it: the stored fields (which
    ``SessionState.from_json_dict`` reads back) with text redacted by the policy's packet
    redaction and the fact kinds a packet leaves out dropped, plus ``decision``: the matrix
    computed now, the evidence held by reason, the open escalation and the next timed check."""
    redaction = engine.policy.redaction
    redact = redaction.packets.redact
    view = state.to_json_dict()
    if "goal" in view:
        view["goal"] = redact(view["goal"])
    if "transcript" in view:
        view["transcript"] = [
            [event_id, ts, role, redact(text)] for event_id, ts, role, text in view["transcript"]
        ]
    if "facts" in view:
        view["facts"] = {
            kind: [redact(value) for value in values]
            for kind, values in view["facts"].items()
            if kind not in redaction.drop_fact_kinds
        }
    if "metadata" in view:
        view["metadata"] = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in view["metadata"].items()
        }
    for field in ("customer_prints", "bot_prints"):
        if field in view:
            view[field] = [[redact(token) for token in tokens] for tokens in view[field]]
    if "bot_links" in view:
        view["bot_links"] = [redact(link) for link in view["bot_links"]]
    for field in EVIDENCE_FIELDS.values():
        if field in view:
            view[field] = [{**item, "excerpt": redact(item["excerpt"])} for item in view[field]]
    escalation = state.escalation
    next_check = engine.next_check(state)
    view["decision"] = {
        "matrix": engine.matrix(state)._asdict(),
        "evidence": {
            reason.value: view.get(field, []) for reason, field in EVIDENCE_FIELDS.items()
        },
        "escalation": None
        if escalation is None
        else {
            "escalation_id": escalation.escalation_id,
            "reasons": escalation.reasons,
            "queue": escalation.queue,
            "priority": escalation.priority,
            "handoff": state.handoff,
            "owner": state.owner,
            "escalated_at": view.get("escalated_at"),
            "sla_breaches": state.sla_breaches,
        },
        "closed_escalations": state.closed_escalations,
        "cooldown_until": view.get("cooldown_until"),
        "next_check": next_check.isoformat() if next_check else None,
    }
    return view


class _App(faust.App):
    """A Faust app that lets the worker write its state while it still owns its partitions
    at a clean stop (before Faust pauses the consumer and stops the tables), and that sizes
    the producer's buffer for the worker's state writes.

    Faust stops handing records to agents while its producer buffer holds more than 100
    messages, a bound meant for agents that write a table key per event. A state write
    hands every changed session to the buffer at once (hundreds a second at moderate
    traffic), so that bound stalled the stream after every write. The ``StateWriter``
    bounds the buffer itself (a write waits until the last one reached the broker), hence
    ``producer_buffer_limit``."""

    before_stop: Callable[[], Awaitable[None]] | None = None
    producer_buffer_limit: int = 100
    batched_topics: frozenset[str] = frozenset()

    async def on_stop(self) -> None:
        if self.before_stop is not None:
            await self.before_stop()
        await super().on_stop()

    def _new_transport(self) -> TransportT:
        urls = self.conf.broker_consumer
        transport = EmbeddedTransport if urls[0].scheme == SCHEME else KafkaTransport
        return cast(TransportT, transport(urls, self))

    def _new_consumer(self) -> ConsumerT:
        consumer = super()._new_consumer()
        if isinstance(consumer, BatchingConsumer):
            consumer.batched_topics = self.batched_topics
        return consumer

    def _new_producer(self) -> ProducerT:
        producer = super()._new_producer()
        producer.buffer.max_messages = self.producer_buffer_limit
        return producer


class _PartitionMarker:
    """Stands for "an event of this partition" while the pipeline writes a batch's state:
    Faust picks a table write's changelog partition (and a RocksDB store its database) from
    the event being processed, and a batch spans partitions."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


class _PartitionedTable:
    """A table keyed by raw bytes on the wire, seen as keyed by strings, each access made on
    behalf of an input partition (see ``_PartitionMarker``)."""

    def __init__(self, table: TableT[bytes, Any], source_topic: str) -> None:
        self._table = table
        self._markers: dict[int, _PartitionMarker] = {}
        self._source_topic = source_topic

    def _on_behalf_of(self, partition: int) -> None:
        marker = self._markers.get(partition)
        if marker is None:
            marker = self._markers[partition] = _PartitionMarker(self._source_topic, partition)
        _current_event.set(weakref.ref(cast(Any, marker)))

    def get(self, key: str, partition: int) -> bytes | None:
        self._on_behalf_of(partition)
        value: bytes | None = self._table.get(key.encode())
        return value

    def read(self, key: str) -> bytes | None:
        value: bytes | None = self._table.get(key.encode())
        return value

    def put(self, key: str, value: bytes, partition: int) -> None:
        self._on_behalf_of(partition)
        self._table[key.encode()] = value

    def delete(self, key: str, partition: int) -> None:
        self._on_behalf_of(partition)
        if key.encode() in self._table:
            del self._table[key.encode()]

    def items(self) -> Iterator[tuple[str, bytes]]:
        for key, value in self._table.items():
            yield key.decode(), value
