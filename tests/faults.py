"""Helpers for the fault-injection suite (tests/integration/test_faults.py).

Traffic with a known set of escalating sessions, the expected outcome computed offline by the
worker's own decision code (``workers.replay.Replayer``), and a registry of per-fault results
that ``tests/conftest.py`` prints as a table at the end of the run.
"""

import asyncio
import json
import os
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from schemas.escalation import Escalation
from schemas.inbound import InboundEvent
from tests.support import PARTITIONS, Deployment, wait_for
from workers.decision import DecisionEngine, SessionState
from workers.decision.policy import load_policy
from workers.embedded import WorkerProcess
from workers.intake import parse_record
from workers.queues.reader import queued_escalations
from workers.replay import Replayer

# The SLA watchdog would raise (and replace) an escalation nobody accepts within its queue's SLA
# (60-120 s by default); no desk runs here, so the suite's policy makes SLAs long.
FAULT_POLICY = """\
[handoff]
sla_seconds = 3600

[handoff.queue_sla_seconds]
fraud = 3600
care = 3600
claims = 3600
"""

ESCALATING_TEXT = "I want to speak to an agent now please"


def write_policy(directory: Path) -> Path:
    """The suite's policy file (long SLAs), for ESCALATOR_POLICY_FILE and the replay."""
    path = directory / "fault-policy.toml"
    path.write_text(FAULT_POLICY, encoding="utf-8")
    return path


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def traffic(
    prefix: str, sessions: int, turns: int, escalate_every: int = 3, start: datetime | None = None
) -> tuple[list[dict[str, Any]], set[str]]:
    """``sessions`` x ``turns`` events, turn-major (every session's turn n before any turn n+1),
    so a burst keeps every partition busy to the end. Every ``escalate_every``-th session asks
    for a person at a turn that varies by session; the others only ask distinct questions.

    Times are near the wall clock (the worker's ticks drop state idle for 30 minutes).
    """
    base = (start or datetime.now(UTC)).replace(microsecond=0)
    names = [f"{prefix}-s{n:03d}" for n in range(sessions)]
    escalating = {name for n, name in enumerate(names) if n % escalate_every == 0}
    events = []
    for turn in range(turns):
        for n, session in enumerate(names):
            trigger = session in escalating and turn == 1 + n % max(turns - 1, 1)
            text = ESCALATING_TEXT if trigger else f"question {turn} about order {n}{turn:02d}"
            role = "bot" if turn % 2 and not trigger else "customer"
            if role == "bot":
                text = f"Answer {turn}: here is item {n * 100 + turn} of the catalogue"
            events.append(
                {
                    "event_id": f"{session}-e{turn:03d}",
                    "session_id": session,
                    "ts": timestamp(base + timedelta(seconds=turn)),
                    "type": "message",
                    "role": role,
                    "text": text,
                }
            )
    return events, escalating


@dataclass
class Expected:
    """What the worker must end with, by the offline replay of the same events in order."""

    escalations: dict[str, Escalation]  # escalation id -> escalation
    states: dict[str, SessionState]

    @property
    def sessions(self) -> set[str]:
        return {escalation.session_id for escalation in self.escalations.values()}


def replay(events: list[dict[str, Any]], policy_file: Path) -> Expected:
    """Run the events through the worker's decision code offline (no Kafka, no Redis)."""
    replayer = Replayer(DecisionEngine(load_policy(policy_file)))
    found: dict[str, Escalation] = {}
    for raw in events:
        event: InboundEvent = parse_record(json.dumps(raw).encode(), None, 64 * 1024)
        escalation = replayer.step_event(event).escalation
        if escalation is not None:
            found[escalation.escalation_id] = escalation
    return Expected(escalations=found, states=dict(replayer.sessions))


@dataclass(frozen=True)
class Tally:
    delivered: int
    lost: int
    duplicated: int
    unexpected: int


def tally(expected: Expected, entries: list[tuple[str, Escalation]]) -> Tally:
    """Compare queue entries with the expected escalations. ``duplicated`` counts extra entries
    of one escalation and extra entries of one session (a session escalates at most once)."""
    ids = Counter(escalation.escalation_id for _, escalation in entries)
    per_session = Counter(escalation.session_id for _, escalation in entries)
    duplicated = sum(n - 1 for n in ids.values()) + sum(
        n - 1 for session, n in per_session.items() if n > 1 and session in expected.sessions
    )
    delivered = sum(1 for escalation_id in expected.escalations if ids[escalation_id])
    return Tally(
        delivered=delivered,
        lost=len(expected.escalations) - delivered,
        duplicated=duplicated,
        unexpected=sum(1 for escalation_id in ids if escalation_id not in expected.escalations),
    )


@dataclass(frozen=True)
class FaultResult:
    broker: str
    fault: str
    events_sent: int
    expected: int
    delivered: int
    lost: int
    duplicated: int
    read_back: int
    already_applied: int


RESULTS: list[FaultResult] = []
# What stalled workers were doing (``post_mortem``), printed at the end of the run, so that
# a failure reported as expected still shows it.
POST_MORTEMS: list[str] = []


def record_result(
    broker: str,
    fault: str,
    events_sent: int,
    expected: Expected,
    counted: Tally,
    repairs: dict[str, int],
) -> None:
    """Remember one fault test's outcome for the end-of-run table of its broker, with what
    the workers still running repaired: records read back (committed or passed over without
    being applied) and records handed over again that were applied already."""
    RESULTS.append(
        FaultResult(
            broker=broker,
            fault=fault,
            events_sent=events_sent,
            expected=len(expected.escalations),
            delivered=counted.delivered,
            lost=counted.lost,
            duplicated=counted.duplicated,
            read_back=repairs["records_read_back"],
            already_applied=repairs["records_already_applied"],
        )
    )


def results_table(results: list[FaultResult]) -> str:
    """A Markdown table, one row per fault test."""
    header = (
        "fault",
        "events sent",
        "escalations expected",
        "delivered",
        "lost",
        "duplicated",
        "read back",
        "skipped as applied",
    )
    rows = [
        (r.fault, str(r.events_sent), str(r.expected), str(r.delivered), str(r.lost),
         str(r.duplicated), str(r.read_back), str(r.already_applied))
        for r in results
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join("-" * (width + 1) + (":" if i else "-") for i, width in enumerate(widths))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def assert_exactly_once(
    fault: str, sent: int, expected: Expected, deployment: Deployment, client: "redis.Redis"
) -> None:
    """Wait for every expected escalation, then check none is lost or duplicated; record it."""
    assert wait_until(
        lambda: tally(expected, queued_escalations(client, deployment.keys)).lost == 0,
        timeout=60,
    )
    counted = tally(expected, queued_escalations(client, deployment.keys))
    running = [worker for worker in deployment.workers if not worker.exited]
    repairs = {
        name: sum(stat(worker, name) for worker in running)
        for name in ("records_read_back", "records_already_applied")
    }
    record_result(deployment.broker.profile, fault, sent, expected, counted, repairs)
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0


@dataclass(frozen=True)
class RestartTiming:
    """A worker restart under traffic (tests/integration/test_kafka.py): how long until every
    request sent meanwhile was escalated, and how often the other worker's group rebalanced."""

    membership: str
    seconds: float
    generations: int


RESTART_TIMINGS: list[RestartTiming] = []


def stat(worker: WorkerProcess, name: str) -> int:
    """One /stats counter of a running worker (0 when absent or unreachable)."""
    try:
        status, body = worker.get_json("/stats")
    except (OSError, ValueError):
        return 0
    return int(body.get(name, 0)) if status == 200 else 0


def post_mortem(worker: WorkerProcess, log_lines: int = 150) -> str:
    """What a worker that stopped making progress was doing, for a failing assertion's
    message: its counters, its consumer's offsets, and the stacks of its threads and tasks
    (SIGUSR1 makes the worker write them to its log)."""
    parts = []
    try:
        parts.append(f"/stats: {json.dumps(worker.get_json('/stats')[1], sort_keys=True)}")
        with urllib.request.urlopen(worker.web_url + "/metrics", timeout=5) as response:
            offsets = [
                line
                for line in response.read().decode().splitlines()
                if line.startswith(("escalator_consumer_lag", "escalator_committed_offset"))
            ]
        parts.append("consumer offsets:\n" + "\n".join(offsets))
    except (OSError, ValueError) as exc:
        parts.append(f"the worker did not answer: {exc}")
    logged = worker.log_path.stat().st_size
    if worker.pid is not None:
        os.kill(worker.pid, signal.SIGUSR1)
        time.sleep(2)
    with worker.log_path.open("rb") as log:
        log.seek(logged)
        stacks = log.read().decode(errors="replace").splitlines()
    parts.append("stacks of the worker's threads and tasks (frames only):")
    parts.extend(line for line in stacks if line.lstrip().startswith(("TASK", 'File "')))
    lines = worker.log_path.read_text(errors="replace").splitlines()[: -len(stacks) or None]
    parts.append(f"the log before them ({log_lines} lines, {worker.log_path}):")
    parts.extend(lines[-log_lines:])
    POST_MORTEMS.append("\n".join(parts))
    return POST_MORTEMS[-1]


def session_state(worker: WorkerProcess, session: str) -> SessionState | None:
    try:
        status, body = worker.get_json(f"/sessions/{session}")
    except (OSError, ValueError):
        return None
    return SessionState.from_json_dict(body) if status == 200 else None


def without_worker_clock(state: SessionState | None) -> SessionState | None:
    """The state without what the worker's clock wrote (when it saw the session, when it
    enqueued the escalation): the offline replay has no such clock."""
    if state is None:
        return None
    return state.model_copy(update={"seen_at": None, "escalated_at": None})


def state_matches(worker: WorkerProcess, expected: Expected, session: str) -> bool:
    """The session's stored state equals the offline replay's, the worker's clock aside."""
    return without_worker_clock(session_state(worker, session)) == without_worker_clock(
        expected.states[session]
    )


def states_match(worker: WorkerProcess, expected: Expected, sessions: list[str]) -> bool:
    """Every sampled session's stored state equals the offline replay's."""
    return all(state_matches(worker, expected, s) for s in sessions)


def sample(expected: Expected, size: int = 24) -> list[str]:
    """A spread of sessions, escalating and not, for state comparisons."""
    names = sorted(expected.states)
    step = max(len(names) // size, 1)
    return names[::step][:size]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """``tests.support.wait_for`` with the suite's coarser polling (workers are busy)."""
    return wait_for(predicate, timeout, interval)


class _WorkerProtocolAssignor(RoundRobinPartitionAssignor):  # type: ignore[misc]
    """Round robin under the name of the worker's assignor: the broker remembers a group's
    protocol, so a member speaking another one is refused."""

    name = "faust"


def commit_past_everything(bootstrap: str, group: str, topic: str) -> int:
    """Commit ``group``'s offsets to the end of every partition of ``topic``, as a consumer
    that acknowledged records without handing them over would; the records passed over.
    Call it with no worker running (a stopped worker's membership may take a while to go)."""

    async def commit() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            partition_assignment_strategy=(_WorkerProtocolAssignor,),
        )
        await consumer.start()
        try:
            consumer.subscribe([topic])  # the broker takes commits from members only
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200, max_records=1)
            partitions = sorted(consumer.assignment())
            committed = {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
            # Read to the end: the embedded broker's end offsets count batches, not records.
            ends = dict(committed)
            await consumer.seek_to_beginning(*partitions)
            while batch := await consumer.getmany(timeout_ms=1_000):
                for tp, records in batch.items():
                    ends[tp] = max(ends[tp], records[-1].offset + 1)
            await consumer.commit(ends)
            return sum(ends[tp] - committed[tp] for tp in partitions)
        finally:
            await consumer.stop()

    return asyncio.run(commit())


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The sum of ``group``'s committed offsets over ``topic``'s partitions (a deployment's
    topics have ``PARTITIONS``; Apache Kafka tells a consumer only of topics it asked about)."""

    async def read() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
        await consumer.start()
        try:
            offsets = [
                await consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)
            ]
            return sum(offset or 0 for offset in offsets)
        finally:
            await consumer.stop()

    return asyncio.run(read())
