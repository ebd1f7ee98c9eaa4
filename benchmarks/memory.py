"""Worker memory per open session, and how long a new worker takes to get them all back.

Memory: a fresh worker, ready and idle, then ``sessions`` routine sessions (two events each)
through the real pipeline; per-session bytes = (RSS with them - RSS idle) / sessions. Above
``PIPELINE_FILL_MAX`` sessions the states (computed by the decision core from the same two
events) are written straight to the table's changelog instead, and a new worker recovers
them: the same bytes in the table, without an hour of filling; that first recovery is timed
too (``fill_seconds``).
Recovery: that worker is stopped (SIGTERM) and a new one started with the same app id, data
directory and store; timed from process start to ``/ready`` answering 200, and to the table
holding every session (``escalator_open_sessions`` on ``/metrics`` where the worker has it,
else every one of a sample of sessions answering on ``/sessions/{id}``).
"""

import asyncio
import functools
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

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
from workers.decision import DecisionEngine, SessionState
from workers.decision.policy import load_policy
from workers.embedded import WorkerProcess
from workers.embedded.feed import event_record
from workers.intake import parse_record
from workers.stream import codec
from workers.stream.app import SESSIONS_TABLE

EVENTS_PER_SESSION = 2
SETTLE_SECONDS = 3.0
SAMPLE_SESSIONS = 50
SECONDS_PER_EVENT_ALLOWED = 0.05
RECOVERY_TIMEOUT_FLOOR_SECONDS = 300.0
OPEN_SESSIONS_METRIC = "escalator_open_sessions"
# Larger sizes are written to the changelog directly (filling through the pipeline would take
# about an hour per million sessions at the worker's rate).
PIPELINE_FILL_MAX = 100_000
MAX_RECORD_BYTES = 64 * 1024


@dataclass
class MemoryResult:
    store: str
    sessions: int
    rss_idle_mb: float
    rss_mb: float
    bytes_per_session: float
    events_processed: int
    fill_seconds: float
    filled_by: str

    @classmethod
    def measured(
        cls,
        store: str,
        sessions: int,
        idle: int,
        held: int,
        events: int,
        fill_seconds: float,
        filled_by: str,
    ) -> "MemoryResult":
        """The row for RSS ``idle`` (bytes) before and ``held`` with ``sessions`` open."""
        return cls(
            store=store,
            sessions=sessions,
            rss_idle_mb=idle / 2**20,
            rss_mb=held / 2**20,
            bytes_per_session=(held - idle) / sessions,
            events_processed=events,
            fill_seconds=fill_seconds,
            filled_by=filled_by,
        )


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
    result = MemoryResult.measured(store, sessions, idle, held, events, fill_seconds, "pipeline")
    return deployment, result


@functools.lru_cache(maxsize=1)
def stored_states(sessions: int, partitions: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, stored bytes) of each opening session, as the worker would store it
    after the session's two opening events: the decision core's state, encoded by the codec
    with its partition (Kafka's default partitioner on the session id) and next due time.
    Kept for the next store's row (computing a million takes minutes)."""
    return list(_computed_states(sessions, partitions))


def _computed_states(sessions: int, partitions: int) -> Iterator[tuple[int, bytes, bytes]]:
    engine = DecisionEngine(load_policy())
    session_id, state = None, None
    for event in opening_events(sessions, event_times_start()):
        parsed = parse_record(json.dumps(event).encode(), None, MAX_RECORD_BYTES)
        if parsed.session_id != session_id:
            if state is not None:
                yield _stored(engine, state, partitions)
            session_id, state = parsed.session_id, None
        # The worker's clock at each event is the event's time (ahead of the wall clock, see
        # EVENT_TIME_LEAD): the state carries the arrival time a worker stores, and nothing
        # computed here expires while the bench runs.
        state = engine.apply(state, parsed, parsed.ts).state
    if state is not None:
        yield _stored(engine, state, partitions)


def _stored(
    engine: DecisionEngine, state: SessionState, partitions: int
) -> tuple[int, bytes, bytes]:
    key = state.session_id.encode()
    every = list(range(partitions))
    partition = int(DefaultPartitioner()(key, every, every))
    due = engine.next_check(state)
    return partition, key, codec.encode(state, partition, due.timestamp() if due else None)


async def _write_changelog(bootstrap: str, topic: str, sessions: int, partitions: int) -> None:
    """Many records per batch, as the worker's producer batches them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        pending = []
        for partition, key, value in stored_states(sessions, partitions):
            pending.append(await producer.send(topic, key=key, value=value, partition=partition))
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def fill_changelog(bench: Bench, store: str, sessions: int) -> tuple[Deployment, MemoryResult]:
    """A worker that recovered ``sessions`` states written straight to its changelog."""
    deployment = bench.deployment(f"memory-{store.split(':')[0]}", store=store)
    try:
        deployment.create_topics()
        empty = deployment.start_worker()  # creates the changelog topics, holds nothing
        empty.wait_ready()
        time.sleep(SETTLE_SECONDS)
        idle = rss_bytes(cast(int, empty.pid))
        empty.stop()
        deployment.processes.clear()
        with progress() as bar:
            bar.add_task(f"writing {sessions:,} states to the changelog", total=None)
            asyncio.run(
                _write_changelog(
                    bench.broker.bootstrap,
                    f"{deployment.name}-{SESSIONS_TABLE}-changelog",
                    sessions,
                    bench.partitions,
                )
            )
        started = time.monotonic()
        worker = deployment.start_worker()
        _wait_holding(worker, sessions, started, "first recovery", store)
        fill_seconds = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        held = rss_bytes(cast(int, worker.pid))
    except BaseException:
        deployment.stop()
        raise
    result = MemoryResult.measured(store, sessions, idle, held, 0, fill_seconds, "changelog")
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


def _wait_holding(
    worker: WorkerProcess, sessions: int, started: float, label: str, store: str
) -> tuple[float, str]:
    """Wait until the worker is ready and holds every session; seconds from ``started`` to
    ready, and how holding was checked."""
    timeout = max(RECOVERY_TIMEOUT_FLOOR_SECONDS, sessions * SECONDS_PER_EVENT_ALLOWED)
    with progress() as bar:
        bar.add_task(f"{label}: {sessions:,} sessions ({store})", total=None)
        worker.wait_ready(timeout)
        ready_seconds = time.monotonic() - started
        sample = _sample_ids(sessions)
        deadline = started + timeout
        holds, checked_by = _holds_all(worker, sessions, sample)
        while not holds and time.monotonic() < deadline:
            time.sleep(0.2)
            holds, checked_by = _holds_all(worker, sessions, sample)
    if not holds:
        raise TimeoutError(f"the new worker did not hold all {sessions} sessions")
    return ready_seconds, checked_by


def recover(deployment: Deployment, memory: MemoryResult) -> RecoveryResult:
    """Stop the deployment's worker, start a new one and time how long until it holds every
    session again."""
    old = deployment.processes[-1]
    started = time.monotonic()
    old.stop()
    stop_seconds = time.monotonic() - started
    started = time.monotonic()
    worker = deployment.start_worker()
    ready_seconds, checked_by = _wait_holding(
        worker, memory.sessions, started, "recovering", memory.store
    )
    return RecoveryResult(
        store=memory.store,
        sessions=memory.sessions,
        stop_seconds=stop_seconds,
        ready_seconds=ready_seconds,
        all_sessions_seconds=time.monotonic() - started,
        checked_by=checked_by,
        rss_after_mb=rss_bytes(cast(int, worker.pid)) / 2**20,
    )


def measure(
    bench: Bench,
    stores: list[str],
    sizes: list[int],
    recovery_sizes: set[int],
    pipeline_fill_max: int = PIPELINE_FILL_MAX,
) -> tuple[list[MemoryResult], list[RecoveryResult]]:
    """Each store and size on a fresh worker; recovery after the sizes that ask for it."""
    memory: list[MemoryResult] = []
    recovery: list[RecoveryResult] = []
    for store in stores:
        for size in sizes:
            filler = fill if size <= pipeline_fill_max else fill_changelog
            deployment, result = filler(bench, store, size)
            try:
                memory.append(result)
                if size in recovery_sizes:
                    recovery.append(recover(deployment, result))
            finally:
                deployment.stop()
    return memory, recovery


def as_json(results: list[MemoryResult] | list[RecoveryResult]) -> list[dict[str, Any]]:
    return [asdict(result) for result in results]
