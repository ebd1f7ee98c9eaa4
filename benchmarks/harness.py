"""What every benchmark section shares: one embedded broker, one Redis, names that
never collide, records produced in bulk, and child processes watched from outside."""

import asyncio
import itertools
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from workers.embedded import EmbeddedBroker, WorkerProcess, free_port
from workers.embedded.feed import Record
from workers.queues import QueueKeys
from workers.redis_clients import sync_client
from workers.services import answering_redis
from workers.settings import Settings, load_settings
from workers.stream.topics import ensure_topics

# Records pre-produced for the throughput and memory runs carry event times this far ahead of
# the wall clock, and the states the memory bench writes straight to the changelog take them as
# their arrival times: no session may expire or breach its SLA while the bench runs, or runs
# would do unequal work. (Through a worker, the SLA counts from the enqueue and idleness from
# the arrival, on its clock: 60 s and 30 min at the least, longer than a throughput run.)
EVENT_TIME_LEAD = timedelta(hours=2)
PRODUCE_CHUNK = 5_000
POLL_SECONDS = 0.05

stderr = Console(stderr=True)


def progress() -> Progress:
    """A progress display on stderr, shown only when stderr is a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=not stderr.is_terminal,
        transient=True,
    )


def event_times_start() -> datetime:
    """Where the event times of pre-produced records start (see EVENT_TIME_LEAD)."""
    return datetime.now(UTC).replace(microsecond=0) + EVENT_TIME_LEAD


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, user and system (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BareAgentProcess(WorkerProcess):
    """The engine baseline (benchmarks/bare_agent.py) as a child process; the same web
    interface as the worker's (/ready, /stats with an ``events`` counter)."""

    def start(self) -> "BareAgentProcess":
        self._spawn([sys.executable, "-m", "benchmarks.bare_agent"], self.log_path, self.env)
        return self


def processed(process: WorkerProcess) -> int | None:
    """The ``events`` counter of a worker's (or the bare agent's) /stats; None while it does
    not answer."""
    try:
        status, body = process.get_json("/stats")
    except (OSError, ValueError):
        return None
    return int(body.get("events", 0)) if status == 200 else None


@dataclass(frozen=True)
class Progressed:
    """When a process was first seen making progress, and when it had processed everything."""

    first_seen: float
    processed_at_first_seen: int
    done: float
    processed: int

    @property
    def rate(self) -> float:
        """Events per second between the two observations."""
        return (self.processed - self.processed_at_first_seen) / max(
            self.done - self.first_seen, 1e-9
        )


def watch_progress(
    process: WorkerProcess,
    expected: int,
    timeout: float,
    on_progress: Callable[[int], None] | None = None,
) -> Progressed:
    """Poll /stats until ``expected`` events are processed: the clock starts at the first poll
    that sees a processed event (what was processed by then is not counted), so neither the
    process start nor the group join is in the rate."""
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    count = 0
    while time.monotonic() < deadline:
        if process.exited:
            raise RuntimeError(f"{process.log_path.stem} exited early; see {process.log_path}")
        seen = processed(process)
        now = time.monotonic()
        if seen:
            count = seen
            if first is None:
                first = (now, seen)
            if on_progress:
                on_progress(seen)
            if seen >= expected:
                return Progressed(first[0], first[1], now, seen)
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{count} of {expected} events processed after {timeout:.0f}s")


async def _produce(
    bootstrap: str, topic: str, records: Iterable[Record], advance: Callable[[int], None]
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        chunk = iter(records)
        while batch := list(itertools.islice(chunk, PRODUCE_CHUNK)):
            pending = [await producer.send(topic, key=key, value=value) for key, value in batch]
            await asyncio.gather(*pending)
            sent += len(batch)
            advance(len(batch))
    finally:
        await producer.stop()
    return sent


def produce(bootstrap: str, topic: str, records: Iterable[Record], total: int, label: str) -> int:
    """Send records in order (a busy producer: many in flight), with a progress bar."""
    with progress() as bar:
        task = bar.add_task(label, total=total)
        return asyncio.run(_produce(bootstrap, topic, records, lambda n: bar.advance(task, n)))


@dataclass
class Deployment:
    """One isolated escalator (or bare-agent) deployment on the bench's broker and Redis."""

    bench: "Bench"
    name: str
    chat_topic: str
    store: str = "memory://"
    processes: list[WorkerProcess] = field(default_factory=list)

    @property
    def keys(self) -> QueueKeys:
        return QueueKeys(self.name)

    @property
    def data_dir(self) -> Path:
        return self.bench.workdir / f"{self.name}-data"

    def env(self, web_port: int) -> dict[str, str]:
        """What tests/support.py gives a worker, with the worker's default partitions and tick
        interval: an own app id, topics and Redis prefix, an explicit web host and port."""
        return {
            "ESCALATOR_APP_ID": self.name,
            "ESCALATOR_BROKER_URL": self.bench.broker.url,
            **self.bench.redis_environment,
            "ESCALATOR_REDIS_PREFIX": self.name,
            "ESCALATOR_CHAT_EVENTS_TOPIC": self.chat_topic,
            "ESCALATOR_ESCALATIONS_TOPIC": f"{self.name}-escalations",
            "ESCALATOR_DEAD_LETTER_TOPIC": f"{self.name}-dead-letters",
            "ESCALATOR_HANDOFF_EVENTS_TOPIC": f"{self.name}-handoff-events",
            "ESCALATOR_BOT_CONTROL_TOPIC": f"{self.name}-bot-control",
            "ESCALATOR_TICKS_TOPIC": f"{self.name}-ticks",
            "ESCALATOR_PARTITIONS": str(self.bench.partitions),
            "ESCALATOR_STORE": self.store,
            "ESCALATOR_WEB_HOST": "127.0.0.1",
            "ESCALATOR_WEB_PORT": str(web_port),
            "ESCALATOR_DATA_DIR": str(self.data_dir),
            "ESCALATOR_LOG_LEVEL": "warning",
        }

    def settings(self) -> Settings:
        return load_settings(
            **{k.removeprefix("ESCALATOR_").lower(): v for k, v in self.env(1).items()}
        )

    def create_topics(self) -> None:
        """The worker's topics (the input topic too, when it is new)."""
        asyncio.run(ensure_topics(self.settings()))

    def start_worker(self) -> WorkerProcess:
        """A new escalator worker process of this deployment (not waited for)."""
        log = self.bench.workdir / "logs" / f"{self.name}-worker-{len(self.processes)}.log"
        worker = WorkerProcess(self.env(free_port()), log).start()
        self.processes.append(worker)
        return worker

    def start_bare_agent(self, writes: bool = True) -> BareAgentProcess:
        """The engine baseline process for this deployment (not waited for); without
        ``writes``, the engine ceiling (decode only)."""
        log = self.bench.workdir / "logs" / f"{self.name}-bare-agent.log"
        env = {**self.env(free_port()), "BARE_AGENT_WRITES": "1" if writes else "0"}
        agent = BareAgentProcess(env, log).start()
        self.processes.append(agent)
        return agent

    def stop(self) -> None:
        """Stop every process (SIGTERM) and remove the deployment's Redis keys."""
        for process in self.processes:
            process.stop()
        self.processes.clear()
        self.bench.forget_keys(self.keys.pattern)


@dataclass
class Bench:
    """The shared services of one bench run: a Tansu broker of its own, the Redis at
    ``REDIS_URL`` (or a private one), a working directory for logs and table data, and a
    unique name for everything."""

    broker: EmbeddedBroker
    redis_environment: dict[str, str]
    redis: "redis.Redis"
    workdir: Path
    partitions: int
    run_id: str = field(default_factory=lambda: f"b{uuid.uuid4().hex[:8]}")
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    @property
    def redis_url(self) -> str:
        """The URL of the run's Redis."""
        return self.redis_environment["ESCALATOR_REDIS_URL"]

    def name(self, label: str) -> str:
        """A name no other deployment, topic or consumer group of any run uses."""
        return f"{self.run_id}-{label}-{next(self._numbers)}"

    def deployment(
        self, label: str, chat_topic: str | None = None, store: str = "memory://"
    ) -> Deployment:
        name = self.name(label)
        return Deployment(self, name, chat_topic or f"{name}-chat-events", store)

    def forget_keys(self, pattern: str) -> None:
        """Delete the Redis keys matching ``pattern``."""
        stale = list(self.redis.scan_iter(match=pattern, count=1_000))
        for start in range(0, len(stale), 1_000):
            self.redis.delete(*stale[start : start + 1_000])


@contextmanager
def bench_services(
    workdir: Path, partitions: int, announce: Callable[[str], None]
) -> Iterator[Bench]:
    """Start a broker for this run and use the Redis at ``REDIS_URL``, or a private one when
    none answers there (``announce`` is told); stop and clean up afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        answering_redis(load_settings(), workdir / "redis", announce) as settings,
        EmbeddedBroker(log_path=workdir / "logs" / "tansu.log") as broker,
    ):
        client = sync_client(settings)
        bench = Bench(
            broker=broker,
            redis_environment=settings.redis_environment(),
            redis=client,
            workdir=workdir,
            partitions=partitions,
        )
        try:
            yield bench
        finally:
            bench.forget_keys(f"{bench.run_id}-*")
            client.close()
