"""What only Apache Kafka does, on the suite's Kafka broker: changelogs compacted for real while
the worker runs, and static group membership across a worker's restart."""

import asyncio
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.faults import (
    ESCALATING_TEXT,
    RESTART_TIMINGS,
    RestartTiming,
    assert_exactly_once,
    replay,
    stat,
    states_match,
    traffic,
    wait_until,
    write_policy,
)
from tests.support import PARTITIONS, TEST_BROKERS, Deployment, chat
from workers.embedded import WorkerProcess, free_port
from workers.embedded.feed import produce
from workers.stream.app import APPLIED_OFFSETS_TABLE, SESSIONS_TABLE

pytestmark = pytest.mark.integration

ESCALATOR = str(Path(sys.executable).parent / "escalator")

# Settings that make the log cleaner compact a changelog within seconds: a segment rolls every
# half second (the active one is never cleaned), any share of superseded records is worth a
# pass, and nothing waits before it may be compacted.
EAGER_COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": "500",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
}


@pytest.fixture
def kafka(deployment: Deployment, tmp_path: Path) -> Deployment:
    """The deployment, on the suite's Apache Kafka broker only."""
    if deployment.broker.profile != "kafka":
        pytest.skip("Apache Kafka only: the embedded broker neither compacts nor keeps members")
    deployment.extra_env["ESCALATOR_POLICY_FILE"] = str(write_policy(tmp_path))
    return deployment


def changelog(deployment: Deployment, table: str) -> str:
    return f"{deployment.name}-{table}-changelog"


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = described[0].resources[0][4]
        return {name: value for name, value, *_ in entries}
    finally:
        await admin.close()


async def _alter_topic(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


async def _records_and_span(bootstrap: str, topic: str) -> tuple[int, int]:
    """(records the topic serves, offsets its partitions span): fewer records than offsets
    means the cleaner removed superseded ones."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        served = 0
        while batch := await consumer.getmany(timeout_ms=1_000):
            served += sum(len(records) for records in batch.values())
        return served, sum(ends.values())
    finally:
        await consumer.stop()


def _processed(worker: WorkerProcess, count: int) -> bool:
    return stat(worker, "events") >= count


def test_compacted_changelogs_recover_the_exact_session_states(kafka: Deployment) -> None:
    """The worker creates its changelogs compacted. With the cleaner made eager, superseded
    state records are really removed while traffic flows; a worker started afresh (its table
    in memory, so all it knows comes from the changelog) holds every session's exact state."""
    kafka.extra_env["ESCALATOR_STATE_FLUSH_SECONDS"] = "0"  # a state record per batch
    policy = Path(kafka.extra_env["ESCALATOR_POLICY_FILE"])
    events, _ = traffic("compact", 80, 12)
    expected = replay(events, policy)
    first = kafka.start_worker()
    bootstrap = kafka.broker.bootstrap
    for table in (SESSIONS_TABLE, APPLIED_OFFSETS_TABLE):
        topic = changelog(kafka, table)
        assert asyncio.run(_topic_config(bootstrap, topic))["cleanup.policy"] == "compact"
        asyncio.run(_alter_topic(bootstrap, topic, EAGER_COMPACTION))

    # A turn at a time, so every session's state is written many times over rolled segments.
    per_turn = len(events) // 12
    for sent in range(per_turn, len(events) + 1, per_turn):
        kafka.send(events[sent - per_turn : sent], burst=True)
        wait_until(partial(_processed, first, sent), timeout=30)
        time.sleep(0.6)
    assert wait_until(lambda: stat(first, "events") >= len(events), timeout=60)
    sessions_log = changelog(kafka, SESSIONS_TABLE)

    def compacted() -> bool:
        kafka.send([chat("compact-roll", f"roll-{time.monotonic()}", "hello")])  # rolls segments
        served, span = asyncio.run(_records_and_span(bootstrap, sessions_log))
        return served < span * 0.6

    assert wait_until(compacted, timeout=60, interval=1.0), asyncio.run(
        _records_and_span(bootstrap, sessions_log)
    )
    first.kill()

    recovered = kafka.start_worker()
    everyone = sorted(expected.states)
    assert wait_until(lambda: states_match(recovered, expected, everyone), timeout=60)
    assert_exactly_once("changelogs compacted, worker restarted", len(events), expected, kafka,
                        kafka.redis)  # fmt: skip


def _escalating_on_every_partition(prefix: str) -> list[dict[str, object]]:
    """A request for a person in sessions spread over every partition (16 sessions, 4
    partitions: murmur2 leaves none empty in practice)."""
    return [chat(f"{prefix}-{n:02d}", f"{prefix}-{n:02d}-e1", ESCALATING_TEXT) for n in range(16)]


def _restart_to_escalation(kafka: Deployment, static: bool) -> tuple[float, int, int]:
    """Two workers; the first stopped and started again while requests for a person arrive on
    every partition. Returns (seconds from the stop to the last of them in its queue, the
    second worker's generation change, the restarted worker's partitions before minus after)."""
    names = ("static-a", "static-b") if static else ("", "")
    workers: list[WorkerProcess] = []
    for name in names:
        kafka.extra_env["ESCALATOR_GROUP_INSTANCE_ID"] = name
        workers.append(kafka.start_worker(wait=False))
    for worker in workers:
        worker.wait_ready()
    first, second = workers
    assert wait_until(
        lambda: len(_assigned(first)) + len(_assigned(second)) == 3 * PARTITIONS, timeout=30
    )
    owned_before = _assigned(first)
    generation_before = _generation(second)

    stopped_at = time.monotonic()
    first.stop()
    # The same environment: a static member comes back under the same web URL (Faust checks
    # that its stored assignment names it), as a StatefulSet's pod does.
    restarted = first.start()
    requests = _escalating_on_every_partition("restart-static" if static else "restart-dynamic")
    kafka.send(requests)
    assert wait_until(
        lambda: len({e.session_id for _, e in kafka.queue_entries()}) == len(requests), 90
    )
    seconds = time.monotonic() - stopped_at
    restarted.wait_ready()
    moved = len(owned_before ^ _assigned(restarted))
    return seconds, _generation(second) - generation_before, moved


def _assigned(worker: WorkerProcess) -> set[str]:
    """The worker's input partitions, as topic:partition."""
    status, body = worker.get_json("/assignment")
    if status != 200:
        return set()
    return {f"{topic}:{p}" for topic, partitions in body["partitions"].items() for p in partitions}


def _generation(worker: WorkerProcess) -> int:
    status, body = worker.get_json("/assignment")
    assert status == 200
    return int(body["generation"])


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
def test_static_membership_takes_partitions_back_without_a_rebalance(
    kafka: Deployment, static: bool
) -> None:
    """With ``group.instance.id`` a stopped worker does not leave the group: back within the
    session timeout, it gets its own partitions again and the other worker is not disturbed
    (its generation stays). Without it, the stop and the return are two rebalances."""
    kafka.extra_env["ESCALATOR_SESSION_TIMEOUT_SECONDS"] = "30"
    kafka.extra_env["ESCALATOR_REBALANCE_TIMEOUT_SECONDS"] = "30"
    seconds, generations, moved = _restart_to_escalation(kafka, static)
    RESTART_TIMINGS.append(RestartTiming("static" if static else "dynamic", seconds, generations))
    if static:
        assert generations == 0, "the other worker went through a rebalance"
        assert moved == 0, "the restarted worker came back with other partitions"
    else:
        assert generations >= 1


@pytest.mark.skipif("kafka" not in TEST_BROKERS, reason="runs Apache Kafka, not in this run")
def test_escalator_broker_kafka_serves_until_interrupted_and_keeps_its_topics(
    tmp_path: Path,
) -> None:
    """``escalator broker --kafka`` in the foreground: it says where it listens, takes
    records, stops on Ctrl-C, and a second start finds the topic it had."""
    port = free_port()
    data = tmp_path / "kafka"

    def run_broker() -> subprocess.Popen[str]:
        broker = subprocess.Popen(
            [ESCALATOR, "broker", "--kafka", "--port", str(port), "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert broker.stdout is not None
        for line in broker.stdout:
            if "Apache Kafka listening" in line:
                assert f"ESCALATOR_BROKER_URL=kafka://127.0.0.1:{port}" in line
                assert "ESCALATOR_BROKER_PROFILE=kafka" in line
                return broker
        pytest.fail(f"the broker ended before listening (exit {broker.wait()})")

    async def produce_and_count(topic: str) -> int:
        await produce(f"127.0.0.1:{port}", topic, [(b"k", b"v")], burst=True)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=f"127.0.0.1:{port}", auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            received = 0
            while batch := await consumer.getmany(timeout_ms=3_000):
                received += sum(len(records) for records in batch.values())
            return received
        finally:
            await consumer.stop()

    for expected in (1, 2):  # the second run finds the first run's record
        broker = run_broker()
        try:
            assert asyncio.run(produce_and_count("cli-topic")) == expected
        finally:
            broker.send_signal(signal.SIGINT)
            assert broker.wait(timeout=60) == 0
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the broker still listens"
