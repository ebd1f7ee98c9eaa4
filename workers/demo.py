"""``escalator demo``: the whole pipeline on the embedded defaults, watched live.

Starts the embedded broker (or, with ``--broker kafka``, a single-node Apache Kafka), uses the
Redis at ``REDIS_URL`` (or starts a private one when none answers there), starts a worker,
replays the bundled sample conversations into the chat-events topic and shows each escalation
as it lands in Redis. Everything it started is stopped at the end; logs stay under
``.escalator/logs``.
"""

import asyncio
import json
import shutil
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import redis
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from schemas.escalation import Escalation
from workers.decision import DecisionEngine
from workers.embedded import BrokerProcess, EmbeddedBroker, KafkaBroker, WorkerProcess, free_port
from workers.embedded.feed import event_record, produce
from workers.embedded.kafka_broker import kafka_libs
from workers.intake import parse_record
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations
from workers.redis_clients import sync_client
from workers.replay import Replayer
from workers.services import answering_redis
from workers.settings import BrokerProfile, Settings, load_settings
from workers.stream.topics import ensure_topics

RUN_DIR = Path(".escalator")
DEMO_PREFIX = "escalator-demo"
DEMO_PARTITIONS = 4
SEND_DELAY_SECONDS = 0.05
POLL_SECONDS = 0.25


def sample_events(now: datetime | None = None) -> list[dict[str, object]]:
    """The bundled sample conversations, interleaved by time as they would arrive live, and
    moved in time so the first starts now (the worker's clock expires stale sessions)."""
    text = (
        resources.files("workers")
        .joinpath("samples/conversations.jsonl")
        .read_text(encoding="utf-8")
    )
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    events.sort(key=lambda event: str(event["ts"]))
    shift = (now or datetime.now(UTC)) - datetime.fromisoformat(str(events[0]["ts"]))
    for event in events:
        moved = datetime.fromisoformat(str(event["ts"])) + shift
        event["ts"] = moved.isoformat().replace("+00:00", "Z")
    return events


def expected_escalations(events: list[dict[str, object]]) -> dict[str, Escalation]:
    """What the decision core escalates for these events: the worker's own code, offline."""
    replayer = Replayer(DecisionEngine())
    found: dict[str, Escalation] = {}
    for event in events:
        record = replayer.step_event(parse_record(json.dumps(event).encode(), None, 64 * 1024))
        if record.escalation is not None:
            found[record.escalation.escalation_id] = record.escalation
    return found


def clear_prefix(client: "redis.Redis", keys: QueueKeys) -> None:
    """Remove what an earlier demo left under the demo prefix."""
    stale = list(client.scan_iter(match=keys.pattern, count=500))
    if stale:
        client.delete(*stale)


def render(
    escalations: list[tuple[str, Escalation]], expected: int, sent: int, total: int, started: float
) -> Group:
    """The live view: one row per escalation in Redis, and a status line."""
    table = Table(title="Escalations in Redis agent queues", expand=True)
    for column in ("session", "queue", "prio", "reasons", "why (first evidence)", "trigger"):
        table.add_column(column, overflow="fold")
    for _stream, escalation in escalations:
        first = escalation.evidence[0]
        table.add_row(
            escalation.session_id,
            escalation.queue,
            str(escalation.priority),
            ", ".join(escalation.reasons),
            f"{first.cue}: \u201c{first.excerpt}\u201d",
            escalation.trigger_event_id,
        )
    status = Text(
        f"events sent {sent}/{total}   escalations {len(escalations)}/{expected} expected   "
        f"{time.monotonic() - started:4.1f}s",
        style="bold",
    )
    return Group(table, status)


async def _feed(settings: Settings, events: list[dict[str, object]], progress: list[int]) -> None:
    for event in events:
        await produce(
            settings.bootstrap_servers[0], settings.chat_events_topic, [event_record(event)]
        )
        progress[0] += 1
        await asyncio.sleep(SEND_DELAY_SECONDS)


async def _watch(
    client: "redis.Redis",
    keys: QueueKeys,
    live: Live,
    expected: dict[str, Escalation],
    events: list[dict[str, object]],
    settings: Settings,
    timeout_seconds: float,
) -> list[tuple[str, Escalation]]:
    progress = [0]
    started = time.monotonic()
    feeder = asyncio.create_task(_feed(settings, events, progress))
    seen: list[tuple[str, Escalation]] = []
    try:
        while time.monotonic() - started < timeout_seconds:
            seen = queued_escalations(client, keys)
            live.update(render(seen, len(expected), progress[0], len(events), started))
            if feeder.done() and {e.escalation_id for _, e in seen} >= set(expected):
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        if not feeder.done():
            feeder.cancel()
    await asyncio.gather(feeder, return_exceptions=True)
    return seen


def run_demo(
    timeout_seconds: float = 120.0,
    console: Console | None = None,
    broker_profile: BrokerProfile = BrokerProfile.EMBEDDED,
) -> int:
    """Run the demo; 0 when every expected escalation reached Redis exactly once."""
    console = console or Console()
    broker_port = free_port()
    configured = load_settings(
        app_id="escalator-demo",
        broker_url=f"kafka://127.0.0.1:{broker_port}",
        broker_profile=broker_profile,
        redis_prefix=DEMO_PREFIX,
        partitions=DEMO_PARTITIONS,
        web_port=free_port(),
        data_dir=RUN_DIR / "demo-data",
    )
    with answering_redis(configured, RUN_DIR / "redis", console.print) as settings:
        started = "broker, worker and Redis" if settings is not configured else "broker and worker"
        return _run(settings, broker_port, timeout_seconds, console, started)


def _run(
    settings: Settings, broker_port: int, timeout_seconds: float, console: Console, started: str
) -> int:
    logs = RUN_DIR / "logs"
    keys = QueueKeys(settings.redis_prefix)
    client = sync_client(settings)
    clear_prefix(client, keys)
    events = sample_events()
    expected = expected_escalations(events)
    sessions = sorted({str(event["session_id"]) for event in events})
    console.print(
        f"[bold]escalator demo[/]: {len(events)} events in {len(sessions)} sample conversations; "
        f"Redis {settings.redis_url_for_display} (keys under '{DEMO_PREFIX}:')"
    )
    env = {
        "ESCALATOR_APP_ID": settings.app_id,
        "ESCALATOR_BROKER_URL": settings.broker_url,
        "ESCALATOR_BROKER_PROFILE": settings.broker_profile.value,
        **settings.redis_environment(),
        "ESCALATOR_REDIS_PREFIX": settings.redis_prefix,
        "ESCALATOR_PARTITIONS": str(settings.partitions),
        "ESCALATOR_WEB_HOST": settings.web_host,
        "ESCALATOR_WEB_PORT": str(settings.web_port),
        "ESCALATOR_DATA_DIR": str(settings.data_dir),
    }
    with _broker(settings.broker_profile, broker_port, logs, console) as broker:
        asyncio.run(ensure_topics(settings))
        with WorkerProcess(env, logs / "worker.log") as worker:
            console.print("worker starting (joining its consumer group takes a few seconds)...")
            worker.wait_ready()
            with Live(console=console, refresh_per_second=8) as live:
                seen = asyncio.run(
                    _watch(client, keys, live, expected, events, settings, timeout_seconds)
                )
    client.close()
    console.print()
    seen_ids = [escalation.escalation_id for _, escalation in seen]
    escalated = {escalation.session_id for _, escalation in seen}
    stayed = [session for session in sessions if session not in escalated]
    console.print(f"stayed with the bot: {', '.join(stayed) or 'none'}")
    ok = sorted(seen_ids) == sorted(expected)
    verdict = (
        "[green]all expected escalations arrived, once each[/]"
        if ok
        else "[red]escalations differ from the offline replay[/]"
    )
    console.print(f"{verdict}; {started} stopped. Logs: {logs / 'worker.log'}, {broker.log_path}")
    return 0 if ok else 1


def _broker(profile: BrokerProfile, port: int, logs: Path, console: Console) -> BrokerProcess:
    """The demo's broker, not started yet: Tansu, or a fresh one-node Apache Kafka (its log
    formatted anew under .escalator/kafka)."""
    if profile is BrokerProfile.KAFKA:
        kafka_libs(announce=console.print)
        workdir = RUN_DIR / "kafka"
        shutil.rmtree(workdir, ignore_errors=True)
        console.print(f"Apache Kafka (KRaft, one node) starting on 127.0.0.1:{port}...")
        return KafkaBroker(workdir, port=port)
    console.print(f"embedded broker (Tansu) on 127.0.0.1:{port}")
    return EmbeddedBroker(port=port, log_path=logs / "broker.log")
