"""Faults injected for real: SIGKILLed workers, a rebalance onto a survivor, Redis going away,
a frozen and a restarted broker, out-of-order and redelivered events.

Each test sends traffic with a known set of escalating sessions, computes the expected
escalations offline with the worker's own decision code (``workers.replay.Replayer``), injects
the fault and checks that every expected escalation is in its Redis queue exactly once. The
outcome of each is printed as a table at the end of the run (see tests/conftest.py).
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.faults import (
    ESCALATING_TEXT,
    Expected,
    assert_exactly_once,
    commit_past_everything,
    committed_total,
    post_mortem,
    replay,
    sample,
    session_state,
    stat,
    state_matches,
    states_match,
    tally,
    timestamp,
    traffic,
    wait_until,
    write_policy,
)
from tests.support import TEST_BROKERS, Deployment
from workers.decision import SessionState
from workers.embedded import BrokerProcess, EmbeddedBroker, EmbeddedRedis, KafkaBroker

pytestmark = pytest.mark.integration

SESSIONS = 300
TURNS = 10  # 3,000 events, 100 escalating sessions


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_policy(tmp_path)


@pytest.fixture
def faulty(deployment: Deployment, policy_file: Path) -> Deployment:
    """The shared-broker deployment, on the suite's long-SLA policy."""
    deployment.extra_env["ESCALATOR_POLICY_FILE"] = str(policy_file)
    return deployment


# State written after every batch, and every 5 s (longer than the 1 s default): after the
# kill, what the last write did not cover is read back from the broker.
FLUSH_MODES = [pytest.param("0", id="flush-per-batch"), pytest.param("5", id="flush-every-5s")]


@contextmanager
def sending_in_tenths(deployment: Deployment, events: list[dict[str, Any]]) -> Iterator[None]:
    """Traffic that goes on arriving while a fault is injected, however fast the worker is:
    a tenth at a time, the producer waiting out a frozen broker as clients do. Leaving the
    block waits for the last tenth and raises what the sender raised."""

    def keep_sending() -> None:
        step = len(events) // 10
        for start in range(0, len(events), step):
            deployment.send(events[start : start + step], burst=True)
            time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(keep_sending)
        yield
        sending.result(timeout=90)


def flush_label(flush_seconds: str) -> str:
    if flush_seconds == "0":
        return " (state written after every batch)"
    return f" (state written every {flush_seconds} s)"


@pytest.mark.parametrize("flush_seconds", FLUSH_MODES)
def test_sigkill_mid_stream_then_restart(
    faulty: Deployment, policy_file: Path, flush_seconds: str
) -> None:
    faulty.extra_env["ESCALATOR_STATE_FLUSH_SECONDS"] = flush_seconds
    events, escalating = traffic("kill", SESSIONS, TURNS)
    expected = replay(events, policy_file)
    assert expected.sessions == escalating
    worker = faulty.start_worker()
    with sending_in_tenths(faulty, events):
        assert wait_until(lambda: stat(worker, "events") >= len(events) // 4, timeout=60)
        done_before_kill = stat(worker, "events")
        worker.kill()
    assert done_before_kill < len(events), "the kill must land mid-stream"

    worker = faulty.start_worker()
    watched = sample(expected)
    recovered = wait_until(lambda: states_match(worker, expected, watched), timeout=90)
    assert recovered, post_mortem(worker)
    fault = "worker SIGKILL mid-stream, restart" + flush_label(flush_seconds)
    assert_exactly_once(fault, len(events), expected, faulty, faulty.redis)
    # Re-processed events since the last committed offset are dropped as redeliveries.
    assert stat(worker, "events") + done_before_kill >= len(events)


@pytest.mark.parametrize("flush_seconds", FLUSH_MODES)
def test_sigkill_one_of_two_workers_survivor_takes_over(
    faulty: Deployment, policy_file: Path, flush_seconds: str
) -> None:
    faulty.extra_env["ESCALATOR_STATE_FLUSH_SECONDS"] = flush_seconds
    events, _ = traffic("rebalance", SESSIONS, TURNS)
    expected = replay(events, policy_file)
    first = faulty.start_worker(wait=False)
    second = faulty.start_worker(wait=False)
    first.wait_ready()
    second.wait_ready()
    with sending_in_tenths(faulty, events):
        assert wait_until(lambda: stat(first, "events") >= len(events) // 8, timeout=60)
        victim_done = stat(first, "events")
        first.kill()
    assert victim_done < len(events)

    watched = sample(expected)
    taken_over = wait_until(lambda: states_match(second, expected, watched), timeout=90)
    assert taken_over, post_mortem(second)
    fault = "1 of 2 workers SIGKILL, rebalance" + flush_label(flush_seconds)
    assert_exactly_once(fault, len(events), expected, faulty, faulty.redis)
    assert stat(second, "events") > len(events) - victim_done - 1


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of the test's own that keeps its queues through a SIGKILL (append-only file
    synced at every write), as a production Redis with persistence would."""
    server = EmbeddedRedis(tmp_path / "redis", durable=True)
    with server:
        yield server


def test_redis_outage_is_waited_out(
    faulty: Deployment, policy_file: Path, own_redis: EmbeddedRedis
) -> None:
    faulty.extra_env["ESCALATOR_REDIS_URL"] = own_redis.url
    faulty.extra_env["ESCALATOR_REDIS_RETRY_MAX_SECONDS"] = "1"
    client = own_redis.client()
    worker = faulty.start_worker()

    # Part 1: Redis killed while escalating events flow, back on the same port seconds later.
    # The second half is sent once Redis is down, so escalations are still to come however
    # fast the worker went through the first.
    events, _ = traffic("outage", 150, TURNS)
    expected = replay(events, policy_file)
    first_half, second_half = events[: len(events) // 2], events[len(events) // 2 :]
    faulty.send(first_half, burst=True)
    assert wait_until(lambda: stat(worker, "escalations_enqueued") >= 5, timeout=60)
    own_redis.kill()
    faulty.send(second_half, burst=True)
    stalled = stat(worker, "events")
    pending = len(expected.escalations) - stat(worker, "escalations_enqueued")
    assert pending > 0, "the outage must begin while escalations are still to come"
    assert wait_until(lambda: "waiting for Redis" in worker.log_path.read_text(), timeout=20)
    waiting_at = stat(worker, "events")
    time.sleep(4)  # Redis stays away for a while
    assert stat(worker, "events") == waiting_at, "the partition must wait, not skip"
    assert waiting_at < len(events)
    assert stalled <= waiting_at
    own_redis.start()
    assert_exactly_once("Redis SIGKILL + restart during traffic", len(events), expected, faulty,
                        client)  # fmt: skip

    client.close()


def test_redis_down_then_worker_crash_loses_nothing(
    faulty: Deployment, policy_file: Path, own_redis: EmbeddedRedis
) -> None:
    """Redis down, the worker stuck retrying an escalation, then the worker crashes. A new
    worker (after Redis is back) re-reads from the last committed offset: the escalation was
    never committed past, so it is still delivered."""
    faulty.extra_env["ESCALATOR_REDIS_URL"] = own_redis.url
    faulty.extra_env["ESCALATOR_REDIS_RETRY_MAX_SECONDS"] = "1"
    client = own_redis.client()
    worker = faulty.start_worker()
    own_redis.kill()
    later, _ = traffic("outage2", 30, 4, escalate_every=2)
    faulty.send(later, burst=True)
    assert wait_until(lambda: stat(worker, "events") > 0 and "waiting for Redis" in
                      worker.log_path.read_text(), timeout=20)  # fmt: skip
    time.sleep(3)
    assert stat(worker, "escalations_enqueued") == 0
    worker.kill()
    own_redis.start()
    faulty.start_worker()
    expected = replay(later, policy_file)
    assert_exactly_once(
        "Redis down, worker SIGKILL, both back", len(later), expected, faulty, client
    )
    client.close()


def test_records_committed_past_without_being_applied_are_read_back(
    faulty: Deployment, policy_file: Path
) -> None:
    """The consumer group commits past records the worker never applied (what Faust does
    with records it drops in a rebalance): at a quiet tick the worker finds records on the
    broker past the last one it applied, and reads them back."""
    # State written after every batch: the warm-up is wholly checkpointed before the stop,
    # so what is read back is exactly what was committed past (with the default interval,
    # the warm-up's tail since the last write would be read back too).
    faulty.extra_env["ESCALATOR_STATE_FLUSH_SECONDS"] = "0"
    warmup, _ = traffic("skip-a", 40, 2, escalate_every=10)
    worker = faulty.start_worker()
    faulty.send(warmup, burst=True)
    # Offsets are committed when Faust's next commit comes round.
    assert wait_until(
        lambda: (
            committed_total(faulty.broker.bootstrap, faulty.name, faulty.chat_topic) == len(warmup)
        ),
        timeout=60,
    )
    worker.stop()
    later, _ = traffic("skip-b", 30, 4, escalate_every=2)
    faulty.send(later, burst=True)
    assert commit_past_everything(faulty.broker.bootstrap, faulty.name, faulty.chat_topic) == len(
        later
    )
    restarted = faulty.start_worker()
    expected = replay(warmup + later, policy_file)
    assert_exactly_once(
        "records committed past, never applied",
        len(warmup + later),
        expected,
        faulty,
        faulty.redis,
    )
    assert stat(restarted, "records_read_back") == len(later)


def test_broker_frozen_for_seconds(
    faulty: Deployment, policy_file: Path, broker: BrokerProcess
) -> None:
    events, _ = traffic("freeze", SESSIONS, TURNS)
    expected = replay(events, policy_file)
    worker = faulty.start_worker()

    with sending_in_tenths(faulty, events):
        assert wait_until(lambda: stat(worker, "events") >= len(events) // 4, timeout=60)
        broker.pause()
        try:
            frozen_at = stat(worker, "events")
            time.sleep(6)
        finally:
            broker.resume()
    assert frozen_at < len(events)
    watched = sample(expected)
    assert wait_until(lambda: states_match(worker, expected, watched), timeout=90)
    assert_exactly_once("broker SIGSTOP 6 s, SIGCONT", len(events), expected, faulty,
                        faulty.redis)  # fmt: skip


@pytest.mark.skipif("tansu" not in TEST_BROKERS, reason="runs Tansu, not in this run")
def test_broker_restart_loses_in_memory_state(
    redis_url: str, redis_client: "redis.Redis", tmp_path: Path, policy_file: Path
) -> None:
    """Tansu only (Apache Kafka keeps its log: the next test). Tansu keeps everything in
    memory: a restart loses topics, committed offsets and the changelog. A worker running
    through it reconnects to a log that no longer has its records, and may stall or skip (not
    a guarantee). Guaranteed: restart the broker, create the topics, start the worker afresh:
    traffic is processed and escalated once, including traffic sent before the new worker
    started; state from before is lost."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as own_broker:
        deployment = Deployment(
            broker=own_broker, redis_url=redis_url, redis=redis_client, workdir=tmp_path
        )
        deployment.extra_env["ESCALATOR_POLICY_FILE"] = str(policy_file)
        try:
            deployment.create_topics()
            worker = deployment.start_worker()
            before, _ = traffic("brk-a", 60, 6)
            expected_before = replay(before, policy_file)
            deployment.send(before, burst=True)
            assert_exactly_once_quiet(expected_before, deployment)
            known = sorted(expected_before.states)[0]
            assert session_state(worker, known) is not None

            # 1. Restart under a running worker, traffic meanwhile, then the worker restarted.
            own_broker.stop()
            own_broker.start()  # same port, empty
            deployment.create_topics()  # before a producer could auto-create them
            during, _ = traffic("brk-b", 30, 6)
            expected_during = replay(during, policy_file)
            deployment.send(during, burst=True)
            worker.kill()
            worker = deployment.start_worker()
            assert_exactly_once_quiet(merged(expected_before, expected_during), deployment)

            # 2. The guaranteed path: broker restarted, topics created, worker started afresh.
            worker.kill()
            own_broker.stop()
            own_broker.start()
            deployment.create_topics()
            worker = deployment.start_worker()
            after, _ = traffic("brk-c", 60, 6)
            expected_after = replay(after, policy_file)
            deployment.send(after, burst=True)
            watched = sample(expected_after)
            assert wait_until(lambda: states_match(worker, expected_after, watched), timeout=60)
            all_expected = merged(expected_before, expected_during, expected_after)
            assert_exactly_once(
                "broker restart (in-memory Tansu) x2",
                len(before) + len(during) + len(after),
                all_expected,
                deployment,
                redis_client,
            )
            # The changelog went with the broker: sessions from before are unknown now.
            assert session_state(worker, known) is None
            assert session_state(worker, sorted(expected_during.states)[0]) is None
        finally:
            deployment.cleanup()


@pytest.mark.skipif("kafka" not in TEST_BROKERS, reason="runs Apache Kafka, not in this run")
def test_kafka_broker_sigkill_mid_stream_then_restart_keeps_everything(
    redis_url: str, redis_client: "redis.Redis", tmp_path: Path, policy_file: Path
) -> None:
    """Apache Kafka only (a restarted Tansu is empty: the previous test). The broker is
    SIGKILLed while traffic flows and the worker runs, and comes back on the same port with
    its log: the worker carries on, its states and offsets intact, every escalation once."""
    with KafkaBroker(tmp_path / "kafka") as own_broker:
        deployment = Deployment(
            broker=own_broker, redis_url=redis_url, redis=redis_client, workdir=tmp_path
        )
        deployment.extra_env["ESCALATOR_POLICY_FILE"] = str(policy_file)
        try:
            deployment.create_topics()
            events, _ = traffic("kbrk", SESSIONS, TURNS)
            expected = replay(events, policy_file)
            worker = deployment.start_worker()
            first, second = events[: len(events) // 2], events[len(events) // 2 :]
            deployment.send(first, burst=True)
            assert wait_until(lambda: stat(worker, "events") >= len(first) // 2, timeout=60)
            own_broker.kill()
            time.sleep(3)  # the worker's fetches and writes fail meanwhile
            own_broker.start()
            deployment.send(second, burst=True)
            watched = sample(expected)
            assert wait_until(lambda: states_match(worker, expected, watched), 120), post_mortem(
                worker
            )
            assert_exactly_once(
                "broker SIGKILL mid-stream, restart (log kept)",
                len(events),
                expected,
                deployment,
                redis_client,
            )
            assert not worker.exited, "the worker rides out the broker's restart"
        finally:
            deployment.cleanup()


def merged(*parts: Expected) -> Expected:
    return Expected(
        escalations={k: v for e in parts for k, v in e.escalations.items()},
        states={k: v for e in parts for k, v in e.states.items()},
    )


def assert_exactly_once_quiet(expected: Expected, deployment: Deployment) -> None:
    delivered = wait_until(lambda: tally(expected, deployment.queue_entries()).lost == 0, 45)
    assert delivered, (
        tally(expected, deployment.queue_entries()),
        [worker.get_json("/stats") for worker in deployment.workers if worker.pid],
    )
    counted = tally(expected, deployment.queue_entries())
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0)


def test_out_of_order_and_redelivered_events(faulty: Deployment, policy_file: Path) -> None:
    """Per session: partition order; duplicates dropped by event id (the last 64 ids are
    kept); last_ts is the latest time seen; an escalation is never raised twice."""
    worker = faulty.start_worker()
    session = "ooo-1"
    base = datetime.now(UTC).replace(microsecond=0)

    def message(event_id: str, second: int, text: str) -> dict[str, object]:
        return {
            "event_id": event_id,
            "session_id": session,
            "ts": timestamp(base + timedelta(seconds=second)),
            "type": "message",
            "role": "customer",
            "text": text,
        }

    first = [
        message("o1", 30, "my order 5511 never came"),
        message("o2", 10, "it was due last week"),  # earlier than o1
        message("o1", 30, "my order 5511 never came"),  # redelivered
        message("o3", 20, ESCALATING_TEXT),  # triggers; still earlier than o1
        message("o3", 20, ESCALATING_TEXT),  # the trigger redelivered
        message("o4", 5, "hello?"),
    ]
    # 70 more events push o3 out of the 64 remembered ids; then o3 comes once more.
    filler = [message(f"f{n}", 40 + n, f"detail {n} about 5511") for n in range(70)]
    late = [message("o3", 20, ESCALATING_TEXT), message("f69", 109, "detail 69 about 5511")]
    events = first + filler + late
    expected = replay(events, policy_file)
    faulty.send(first)
    faulty.send(filler, burst=True)
    faulty.send(late)

    assert wait_until(lambda: state_matches(worker, expected, session), 30)
    state = session_state(worker, session)
    assert isinstance(state, SessionState)
    distinct = len({event["event_id"] for event in events})
    # o3 was forgotten (older than the last 64 ids) when it came the third time: applied again,
    # but the session escalates at most once.
    assert state.events_applied == distinct + 1
    assert state.last_ts == base + timedelta(seconds=40 + 69)
    assert len(state.recent_event_ids) == 64
    assert state.escalation is not None
    assert state.escalation.trigger_event_id == "o3"
    # o1, o3 (while remembered), f69; f69's redelivery changes no state, so the state above
    # can match before the worker has counted it.
    assert wait_until(lambda: stat(worker, "duplicates") >= 3, 30)
    assert stat(worker, "duplicates") == 3
    assert_exactly_once("out-of-order + redelivered events", len(events), expected, faulty,
                        faulty.redis)  # fmt: skip
