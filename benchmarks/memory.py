"""Worker memory per open session, and how long a new worker takes to get them all back.

Memory: a fresh worker, ready and idle, then ``sessions`` routine sessions (two events each)
through the real pipeline; per-session bytes = (RSS with them - RSS idle) / sessions.
Recovery: that worker is stopped (SIGTERM) and a new one started with the same app id, data
directory and store; timed from process start to ``/ready`` answering 200, and to the table
holding every session (``escalator_open_sessions`` on ``/metrics`` where the worker has it,
else every one of a sample of sessions answering on ``/sessions/{id}``).
"""

import random
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any, cast

from benchmarks.harness import (
    Bench,
    Deployment,
    event_times_start,
    produce,
    progress,
    rss_bytes,
    watch_progress,
)
from benchmarks.mix import opening_events, opening_session_id
from workers.embedded import WorkerProcess
from workers.embedded.feed import event_record

EVENTS_PER_SESSION = 2
SETTLE_SECONDS = 3.0
SAMPLE_SESSIONS = 50
SECONDS_PER_EVENT_ALLOWED = 0.05
RECOVERY_TIMEOUT_FLOOR_SECONDS = 300.0
OPEN_SESSIONS_METRIC = "escalator_open_sessions"


@dataclass
class MemoryResult:
    store: str
    sessions: int
    rss_idle_mb: float
    rss_mb: float
    bytes_per_session: float
    events_processed: int
    fill_seconds: float


@dataclass
class RecoveryResult:
    store: str
    sessions: int
    stop_seconds: float
    ready_seconds: float
    all_sessions_seconds: float
    checked_by: str
    rss_after_mb: float


def metric_value(process: WorkerProcess, name: str) -> float | None:
    """The sum of a metric's samples on the worker's /metrics; None without the endpoint or
    the metric (the worker may predate them)."""
    try:
        with urllib.request.urlopen(process.web_url + "/metrics", timeout=5) as response:
            text = response.read().decode()
    except (OSError, urllib.error.HTTPError):
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
    ]
    return sum(values) if values else None


def _wait_processed(worker: WorkerProcess, expected: int, label: str) -> float:
    """Seconds until the worker's /stats counts ``expected`` events."""
    started = time.monotonic()
    with progress() as bar:
        task = bar.add_task(label, total=expected)
        watch_progress(
            worker,
            expected,
            max(RECOVERY_TIMEOUT_FLOOR_SECONDS, expected * SECONDS_PER_EVENT_ALLOWED),
            lambda seen: bar.update(task, completed=seen),
        )
    return time.monotonic() - started


def fill(bench: Bench, store: str, sessions: int) -> tuple[Deployment, MemoryResult]:
    """A worker holding ``sessions`` open sessions (it keeps running for ``recover``)."""
    deployment = bench.deployment(f"memory-{store.split(':')[0]}", store=store)
    try:
        deployment.create_topics()
        worker = deployment.start_worker()
        worker.wait_ready()
        time.sleep(SETTLE_SECONDS)
        pid = cast(int, worker.pid)
        idle = rss_bytes(pid)
        events = sessions * EVENTS_PER_SESSION
        started = time.monotonic()
        produce(
            bench.broker.bootstrap,
            deployment.chat_topic,
            (event_record(event) for event in opening_events(sessions, event_times_start())),
            events,
            f"producing {sessions:,} sessions",
        )
        _wait_processed(worker, events, f"{sessions:,} sessions into the worker ({store})")
        fill_seconds = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        held = rss_bytes(pid)
    except BaseException:
        deployment.stop()
        raise
    result = MemoryResult(
        store=store,
        sessions=sessions,
        rss_idle_mb=idle / 2**20,
        rss_mb=held / 2**20,
        bytes_per_session=(held - idle) / sessions,
        events_processed=events,
        fill_seconds=fill_seconds,
    )
    return deployment, result


def _sample_ids(sessions: int) -> list[str]:
    """Session ids to look up: the first, the last and a seeded sample between."""
    between = random.Random(5).sample(range(sessions), min(sessions, SAMPLE_SESSIONS))
    return [opening_session_id(number) for number in sorted({0, sessions - 1, *between})]


def _holds_all(worker: WorkerProcess, sessions: int, sample: list[str]) -> tuple[bool, str]:
    counted = metric_value(worker, OPEN_SESSIONS_METRIC)
    if counted is not None:
        return counted >= sessions, f"/metrics {OPEN_SESSIONS_METRIC}"
    missing = []
    for session_id in sample:
        try:
            status, _ = worker.get_json(f"/sessions/{session_id}")
        except (OSError, ValueError):
            status = 0
        if status != 200:
            missing.append(session_id)
    return not missing, f"/sessions/{{id}} for {len(sample)} sessions"


def recover(deployment: Deployment, memory: MemoryResult) -> RecoveryResult:
    """Stop the deployment's worker, start a new one and time how long until it holds every
    session again."""
    old = deployment.processes[-1]
    started = time.monotonic()
    old.stop()
    stop_seconds = time.monotonic() - started
    timeout = max(RECOVERY_TIMEOUT_FLOOR_SECONDS, memory.sessions * SECONDS_PER_EVENT_ALLOWED)
    started = time.monotonic()
    worker = deployment.start_worker()
    with progress() as bar:
        bar.add_task(f"recovering {memory.sessions:,} sessions ({memory.store})", total=None)
        worker.wait_ready(timeout)
        ready_seconds = time.monotonic() - started
        sample = _sample_ids(memory.sessions)
        deadline = started + timeout
        holds, checked_by = _holds_all(worker, memory.sessions, sample)
        while not holds and time.monotonic() < deadline:
            time.sleep(0.2)
            holds, checked_by = _holds_all(worker, memory.sessions, sample)
    if not holds:
        raise TimeoutError(f"the new worker did not hold all {memory.sessions} sessions")
    all_seconds = time.monotonic() - started
    return RecoveryResult(
        store=memory.store,
        sessions=memory.sessions,
        stop_seconds=stop_seconds,
        ready_seconds=ready_seconds,
        all_sessions_seconds=all_seconds,
        checked_by=checked_by,
        rss_after_mb=rss_bytes(cast(int, worker.pid)) / 2**20,
    )


def measure(
    bench: Bench, stores: list[str], sizes: list[int], recovery_sizes: set[int]
) -> tuple[list[MemoryResult], list[RecoveryResult]]:
    """Each store and size on a fresh worker; recovery after the sizes that ask for it."""
    memory: list[MemoryResult] = []
    recovery: list[RecoveryResult] = []
    for store in stores:
        for size in sizes:
            deployment, result = fill(bench, store, size)
            try:
                memory.append(result)
                if size in recovery_sizes:
                    recovery.append(recover(deployment, result))
            finally:
                deployment.stop()
    return memory, recovery


def as_json(results: list[MemoryResult] | list[RecoveryResult]) -> list[dict[str, Any]]:
    return [asdict(result) for result in results]
