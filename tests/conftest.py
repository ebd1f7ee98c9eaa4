"""Shared fixtures: the real brokers (the embedded Tansu and Apache Kafka), the suite's own real
Redis, and isolated deployments."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import TEST_BROKERS, Deployment, restart_clock
from workers.embedded import BrokerProcess, EmbeddedBroker, EmbeddedRedis, KafkaBroker
from workers.queues import QueueKeys


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One redis-server for the session, on a free port, stopped at the end: the suite never
    uses a Redis the machine may run (``make test`` installs the binary)."""
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis) -> str:
    """The URL of the suite's Redis."""
    return redis_server.url


@pytest.fixture(scope="session")
def redis_client(redis_server: EmbeddedRedis) -> Iterator["redis.Redis"]:
    """A client of the suite's Redis."""
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture(scope="session", params=TEST_BROKERS)
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerProcess]:
    """One broker for the session, on free ports: the tests using it run once per broker
    (pytest runs all of one broker's before starting the next)."""
    running: BrokerProcess
    if request.param == "kafka":
        running = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    else:
        running = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
    with running:
        yield running


@pytest.fixture
def queue_keys(redis_client: "redis.Redis") -> Iterator[QueueKeys]:
    """A fresh key prefix for agent queues written without a deployment; removed afterwards."""
    keys = QueueKeys(f"q-{uuid.uuid4().hex[:8]}")
    yield keys
    stale = list(redis_client.scan_iter(match=keys.pattern))
    if stale:
        redis_client.delete(*stale)


@pytest.fixture
def deployment(
    broker: BrokerProcess, redis_url: str, redis_client: "redis.Redis", tmp_path: Path
) -> Iterator[Deployment]:
    """A fresh deployment; its workers are stopped and its Redis keys removed afterwards."""
    deployed = Deployment(broker=broker, redis_url=redis_url, redis=redis_client, workdir=tmp_path)
    deployed.create_topics()
    yield deployed
    deployed.cleanup()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault-injection suite's outcome, one row per fault test, and the post-mortems of
    stalled workers (tests/faults.py)."""
    from tests.faults import POST_MORTEMS, RESTART_TIMINGS, RESULTS, results_table

    for broker in sorted({result.broker for result in RESULTS}):
        name = "Apache Kafka" if broker == "kafka" else "the embedded broker (Tansu)"
        terminalreporter.write_sep("=", f"injected faults on {name}: escalations in Redis")
        terminalreporter.write_line(results_table([r for r in RESULTS if r.broker == broker]))
    if RESTART_TIMINGS:
        terminalreporter.write_sep("=", "a worker restarted under traffic (Apache Kafka)")
        for timing in RESTART_TIMINGS:
            terminalreporter.write_line(
                f"{timing.membership} membership: every request sent during the restart "
                f"escalated {timing.seconds:.1f} s after the stop; the other worker's group "
                f"generation moved {timing.generations} time(s)"
            )
    for text in POST_MORTEMS:
        terminalreporter.write_sep("=", "post-mortem of a worker that stopped making progress")
        terminalreporter.write_line(text)


@pytest.fixture(autouse=True)
def _event_clock() -> None:
    """Every test's events start at the wall clock (see tests.support.at)."""
    restart_clock()
