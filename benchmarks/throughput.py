"""Throughput rows on the same pre-produced records: the raw consumer (the limit), the bare
Faust agent without writes (the engine's ceiling) and with one table write per event (the
engine baseline), and escalator's worker (the full pipeline)."""

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.harness import (
    Bench,
    Progressed,
    event_times_start,
    produce,
    progress,
    watch_progress,
)
from benchmarks.mix import generate
from workers.embedded import WorkerProcess
from workers.embedded.feed import event_record
from workers.queues.reader import queued_escalations

LIMIT = "raw aiokafka consumer + JSON decode (limit)"
ENGINE = "bare Faust agent, one table update per event (engine baseline)"
CEILING = "bare Faust agent, decode only, no table (engine ceiling)"
PIPELINE = "escalator worker, full pipeline"
SECONDS_PER_EVENT_ALLOWED = 0.05  # a run slower than 20 events/s is reported as failed
TIMEOUT_FLOOR_SECONDS = 180.0


@dataclass
class Run:
    """One timed pass over all the records."""

    events_per_second: float
    seconds: float
    processed: int
    escalations_in_redis: int | None = None


@dataclass
class Row:
    name: str
    runs: list[Run] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "runs": [asdict(run) for run in self.runs]}


@dataclass
class Input:
    """The records every row reads: one topic, produced once."""

    topic: str
    events: int


def prepare_input(bench: Bench, events: int) -> Input:
    """Produce ``events`` events of the seeded mix to a new topic (created first, with the
    worker's partition count)."""
    holder = bench.deployment("input")
    holder.create_topics()
    mix = list(itertools.islice(generate(events, start=event_times_start()), events))
    produce(
        bench.broker.bootstrap,
        holder.chat_topic,
        (event_record(event) for event in mix),
        len(mix),
        f"producing {len(mix):,} events",
    )
    return Input(holder.chat_topic, len(mix))


def _timeout(events: int) -> float:
    return max(TIMEOUT_FLOOR_SECONDS, events * SECONDS_PER_EVENT_ALLOWED)


async def _raw_consume(bench: Bench, source: Input) -> Run:
    consumer = AIOKafkaConsumer(bootstrap_servers=bench.broker.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # metadata for every topic
        partitions = [
            TopicPartition(source.topic, partition)
            for partition in sorted(consumer.partitions_for_topic(source.topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        started = time.monotonic()
        deadline = started + _timeout(source.events)
        while count < source.events and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    json.loads(message.value)
                count += len(messages)
        seconds = time.monotonic() - started
    finally:
        await consumer.stop()
    if count < source.events:
        raise TimeoutError(f"raw consumer read {count} of {source.events} records")
    return Run(count / seconds, seconds, count)


def raw_consumer_run(bench: Bench, source: Input) -> Run:
    """The limit: read and JSON-decode every record, the partitions assigned by hand (no group
    to join), timed from the first fetch to the last record decoded."""
    return asyncio.run(_raw_consume(bench, source))


def _watched(process: WorkerProcess, source: Input, label: str) -> Progressed:
    with progress() as bar:
        task = bar.add_task(label, total=source.events)
        return watch_progress(
            process,
            source.events,
            _timeout(source.events),
            lambda seen: bar.update(task, completed=seen),
        )


def bare_agent_run(bench: Bench, source: Input, writes: bool = True) -> Run:
    """The engine baseline on the same records, from its first processed event to the last
    (without ``writes``: the ceiling, Faust's per-record machinery alone)."""
    deployment = bench.deployment("bare" if writes else "ceiling", chat_topic=source.topic)
    try:
        agent = deployment.start_bare_agent(writes)
        seen = _watched(agent, source, "bare Faust agent" + ("" if writes else ", no writes"))
    finally:
        deployment.stop()
    return Run(seen.rate, seen.done - seen.first_seen, seen.processed)


def pipeline_run(
    bench: Bench,
    source: Input,
    attach: Callable[[WorkerProcess], Callable[[], None]] | None = None,
) -> Run:
    """The worker on the same records (its own app id, topics and Redis prefix); ``attach``
    is called once the worker is ready (the profiler) and what it returns once all are in."""
    deployment = bench.deployment("pipeline", chat_topic=source.topic)
    try:
        deployment.create_topics()
        worker = deployment.start_worker()
        detach = None
        if attach is not None:
            worker.wait_ready()
            detach = attach(worker)
        seen = _watched(worker, source, "escalator worker")
        if detach is not None:
            detach()
        escalations = len(queued_escalations(bench.redis, deployment.keys))
    finally:
        deployment.stop()
    return Run(seen.rate, seen.done - seen.first_seen, seen.processed, escalations)


def measure(bench: Bench, source: Input, runs: int) -> list[Row]:
    """Every row ``runs`` times, interleaved (limit, ceiling, engine, pipeline, limit, ...),
    so a slow spell of the shared machine does not land on one row only."""
    rows = [Row(LIMIT), Row(CEILING), Row(ENGINE), Row(PIPELINE)]
    for _ in range(runs):
        rows[0].runs.append(raw_consumer_run(bench, source))
        rows[1].runs.append(bare_agent_run(bench, source, writes=False))
        rows[2].runs.append(bare_agent_run(bench, source))
        rows[3].runs.append(pipeline_run(bench, source))
    return rows
