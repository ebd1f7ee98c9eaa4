"""The Faust app: one table of session state and one thin agent over the chat-events topic."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.types import StreamT, TableT
from faust.web import Request, Response, View

from workers.decision import DecisionEngine, Policy
from workers.decision.policy import load_policy
from workers.logs import LogRedaction
from workers.queues import AgentQueueWriter, QueueKeys
from workers.settings import BrokerProfile, Settings
from workers.stream.pipeline import Pipeline

# Tansu reports a partition's end offset as the last batch's base offset + 1, so table recovery
# would stop early unless every produced batch holds exactly one record.
EMBEDDED_MAX_BATCH_BYTES = 1
SESSIONS_TABLE = "sessions"


@dataclass(frozen=True, slots=True)
class Worker:
    """The app and the pieces tests and tools reach for."""

    app: faust.App
    pipeline: Pipeline
    sessions: TableT[bytes, Any]


def build_app(settings: Settings, policy: Policy | None = None) -> Worker:
    """Wire the Faust app for ``settings``; nothing connects until the worker starts."""
    embedded = settings.broker_profile is BrokerProfile.EMBEDDED
    rebalance, session, heartbeat = settings.group_timeouts
    extra: dict[str, Any] = (
        {"producer_max_batch_size": EMBEDDED_MAX_BATCH_BYTES} if embedded else {}
    )
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        store=settings.store,
        datadir=str(settings.data_dir),
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_rebalance_timeout=rebalance,
        broker_session_timeout=session,
        broker_heartbeat_interval=heartbeat,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
        broker_credentials=settings.faust_broker_credentials(),
        **extra,
    )
    # Faust's worker replaces the root log handlers; put the redacting filter on its own.
    app.add_dependency(LogRedaction((policy or load_policy(settings.policy_file)).redaction.logs))
    # One stream, co-partitioned by session id: chat events, desks' reports and clock ticks,
    # so one agent instance sees everything about a session in order.
    inbound = app.topic(
        settings.chat_events_topic,
        settings.handoff_events_topic,
        settings.ticks_topic,
        key_type=bytes,
        value_type=bytes,
    )
    ticks = app.topic(settings.ticks_topic, key_type=bytes, value_type=bytes)
    bot_control = app.topic(settings.bot_control_topic, key_type=bytes, value_type=bytes)
    escalations = app.topic(settings.escalations_topic, key_type=bytes, value_type=bytes)
    dead_letters = app.topic(settings.dead_letter_topic, key_type=bytes, value_type=bytes)
    sessions = app.Table(
        SESSIONS_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # raw keys; values are JSON (SessionState.to_json_dict)
        help="Per-session decision state (workers.decision.SessionState).",
    )
    writer = AgentQueueWriter.from_url(
        settings.redis_url.get_secret_value(),
        QueueKeys(settings.redis_prefix),
        **settings.redis_client_kwargs(),
    )

    async def send_escalation(key: bytes | None, value: bytes) -> None:
        await escalations.send(key=key, value=value)

    async def send_dead_letter(key: bytes | None, value: bytes) -> None:
        await dead_letters.send(key=key, value=value)

    async def send_command(key: bytes | None, value: bytes) -> None:
        await bot_control.send(key=key, value=value)

    pipeline = Pipeline(
        engine=DecisionEngine(policy or load_policy(settings.policy_file)),
        sessions=_DecodedKeys(sessions),
        writer=writer,
        send_escalation=send_escalation,
        send_dead_letter=send_dead_letter,
        send_command=send_command,
        ticks_topic=settings.ticks_topic,
        max_record_bytes=settings.max_record_bytes,
        max_word_chars=settings.max_word_chars,
        retry_ceiling_seconds=settings.redis_retry_max_seconds,
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

    @app.agent(inbound, concurrency=1)
    async def decide(stream: StreamT[bytes]) -> None:
        """One event at a time per partition: per-session order is the partition's order."""
        async for event in stream.events():
            await pipeline.handle(event.message)

    @app.page("/sessions/{session_id}")
    @app.table_route(table=sessions, match_info="session_id")
    async def session_state(web: View, request: Request, **params: Any) -> Response:
        """The stored state of one session, answered by the worker that owns it."""
        session_id = str(params["session_id"])
        stored = sessions.get(session_id.encode())
        if stored is None:
            return web.json({"error": "unknown session", "session_id": session_id}, status=404)
        return web.json(stored)

    @app.page("/stats")
    async def stats(web: View, request: Request) -> Response:
        """Counters since start: events, duplicates, dead letters by reason, escalations."""
        return web.json(dict(pipeline.stats))

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        """200 once partitions are assigned and tables recovered; 503 before or in a rebalance."""
        recovered = cast(Any, app.tables).recovery.completed.is_set()
        is_ready = recovered and not app.rebalancing and not app.in_recovery
        return web.json({"ready": is_ready}, status=200 if is_ready else 503)

    return Worker(app=app, pipeline=pipeline, sessions=sessions)


class _DecodedKeys:
    """The table, keyed by raw bytes on the wire, seen as keyed by session-id strings."""

    def __init__(self, table: TableT[bytes, Any]) -> None:
        self._table = table

    def get(self, key: str, default: Any = None) -> Any:
        return self._table.get(key.encode(), default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[key.encode()] = value

    def pop(self, key: str) -> None:
        if key.encode() in self._table:
            del self._table[key.encode()]

    def items(self) -> Iterator[tuple[str, Any]]:
        for key, value in self._table.items():
            yield key.decode(), value
