"""End-to-end latency at a steady offered rate: from the moment an event is produced to the
moment its escalation is in a Redis queue stream.

The producer is paced (event i is sent at start + i / rate) and remembers each event's send
time (wall clock, ms) by event id. An escalation's ``trigger_event_id`` names the event that
raised it, and the millisecond part of its stream entry id is the Redis server's clock at the
XADD: same machine, same clock. Event times are the send times, so the worker's SLA and
expiry checks see live traffic.
"""

import asyncio
import itertools
import json
import math
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiokafka import AIOKafkaProducer

from benchmarks.harness import (
    Bench,
    cpu_seconds,
    processed,
    progress,
    rss_bytes,
    watch_progress,
)
from benchmarks.mix import generate
from workers.queues import QueueKeys

RSS_SAMPLE_SECONDS = 1.0
# Latency medians are also reported per window of send time, so growth shows its shape.
WINDOW_SECONDS = 10.0
DRAIN_TIMEOUT_SECONDS = 300.0


@dataclass
class LatencyResult:
    rate: float
    seconds: float
    events_sent: int
    events_processed: int
    escalations: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_third_p50_ms: float
    last_third_p50_ms: float
    drain_seconds: float
    rss_mb_over_time: list[tuple[float, float]] = field(default_factory=list)
    p50_ms_by_window: list[float] = field(default_factory=list)
    # CPU used per window, in cores (1.0: one core busy for the whole window).
    worker_cpu_by_window: list[float] = field(default_factory=list)
    broker_cpu_by_window: list[float] = field(default_factory=list)

    @property
    def grows(self) -> bool:
        """Latency grows over the run: the last third's median is over twice the first's
        (and more than 50 ms above it, so scheduling noise on a fast run does not count)."""
        return (
            self.last_third_p50_ms > 2 * self.first_third_p50_ms
            and self.last_third_p50_ms - self.first_third_p50_ms > 50
        )

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "grows": self.grows}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (share in 0..1)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[rank]


async def _paced(
    bootstrap: str, topic: str, events: list[dict[str, Any]], rate: float
) -> dict[str, float]:
    """Send ``events`` at ``rate`` per second; returns each event's send time (epoch ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent_at: dict[str, float] = {}
    pending = []
    try:
        started = time.monotonic()
        for index, event in enumerate(events):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            event["ts"] = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
            sent_at[event["event_id"]] = now * 1000
            pending.append(
                await producer.send(
                    topic, key=event["session_id"].encode(), value=json.dumps(event).encode()
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent_at


@dataclass
class Samples:
    """Taken every second while events are offered: the worker's RSS, and the CPU time the
    worker and the broker used so far (seconds since start, then the reading)."""

    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    worker_cpu: list[tuple[float, float]] = field(default_factory=list)
    broker_cpu: list[tuple[float, float]] = field(default_factory=list)


def _sample(
    worker: int, broker: int, started: float, samples: Samples, stop: threading.Event
) -> None:
    while not stop.is_set():
        at = round(time.monotonic() - started, 1)
        try:
            samples.rss_mb.append((at, rss_bytes(worker) / 2**20))
            samples.worker_cpu.append((at, cpu_seconds(worker)))
            samples.broker_cpu.append((at, cpu_seconds(broker)))
        except (OSError, ValueError):
            return
        stop.wait(RSS_SAMPLE_SECONDS)


def cores_by_window(readings: list[tuple[float, float]]) -> list[float]:
    """CPU time used in each WINDOW_SECONDS window, as a share of one core."""
    used: list[float] = []
    edge, base = WINDOW_SECONDS, readings[0] if readings else (0.0, 0.0)
    for at, total in readings:
        if at >= edge:
            used.append((total - base[1]) / (at - base[0]))
            edge, base = edge + WINDOW_SECONDS, (at, total)
    return used


def _escalation_times(bench: Bench, keys: QueueKeys) -> dict[str, float]:
    """trigger_event_id -> XADD time (ms) of every first escalation in the queue streams
    (SLA re-escalations replace entries later; they are not produced events' latencies)."""
    found: dict[str, float] = {}
    for stream in cast(set[bytes], bench.redis.smembers(keys.queue_index)):
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], bench.redis.xrange(stream))
        for entry_id, fields in entries:
            escalation = json.loads(fields[b"payload"])
            if "sla_breach" in escalation["reasons"]:
                continue
            found[escalation["trigger_event_id"]] = float(entry_id.split(b"-")[0])
    return found


def measure(bench: Bench, rate: float, seconds: float) -> LatencyResult:
    """Run a worker, offer ``rate`` events/s of the mix for ``seconds``, and read the
    escalations back from Redis."""
    total = int(rate * seconds)
    events = list(itertools.islice(generate(total, seed=23), total))
    deployment = bench.deployment("latency")
    try:
        deployment.create_topics()
        worker = deployment.start_worker()
        worker.wait_ready()
        pids = (cast(int, worker.pid), cast(int, bench.broker.pid))
        samples = Samples()
        stop = threading.Event()
        started = time.monotonic()
        sampler = threading.Thread(target=_sample, args=(*pids, started, samples, stop))
        sampler.start()
        try:
            with progress() as bar:
                bar.add_task(f"offering {rate:.0f} events/s for {seconds:.0f}s", total=None)
                sent_at = asyncio.run(
                    _paced(bench.broker.bootstrap, deployment.chat_topic, events, rate)
                )
            produced_in = time.monotonic() - started
            drained = watch_progress(worker, len(events), DRAIN_TIMEOUT_SECONDS)
            drain_seconds = max(0.0, drained.done - started - produced_in)
        finally:
            stop.set()
            sampler.join()
        escalated = _escalation_times(bench, deployment.keys)
        events_processed = processed(worker) or 0
    finally:
        deployment.stop()
    return summarise(rate, seconds, sent_at, escalated, events_processed, drain_seconds, samples)


def summarise(
    rate: float,
    seconds: float,
    sent_at: dict[str, float],
    escalated: dict[str, float],
    events_processed: int,
    drain_seconds: float,
    samples: Samples,
) -> LatencyResult:
    timed = sorted(
        (sent_at[event_id], added - sent_at[event_id])
        for event_id, added in escalated.items()
        if event_id in sent_at
    )
    if not timed:
        raise RuntimeError("no escalation of the offered events reached Redis")
    latencies = [latency for _, latency in timed]
    third = max(1, len(timed) // 3)
    first_sent = min(sent_at.values())
    windows: dict[int, list[float]] = {}
    for sent, latency in timed:
        windows.setdefault(int((sent - first_sent) / 1000 / WINDOW_SECONDS), []).append(latency)
    return LatencyResult(
        rate=rate,
        seconds=seconds,
        events_sent=len(sent_at),
        events_processed=events_processed,
        escalations=len(timed),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies),
        first_third_p50_ms=statistics.median(latencies[:third]),
        last_third_p50_ms=statistics.median(latencies[-third:]),
        drain_seconds=drain_seconds,
        rss_mb_over_time=samples.rss_mb,
        p50_ms_by_window=[statistics.median(windows[n]) for n in sorted(windows)],
        worker_cpu_by_window=cores_by_window(samples.worker_cpu),
        broker_cpu_by_window=cores_by_window(samples.broker_cpu),
    )
