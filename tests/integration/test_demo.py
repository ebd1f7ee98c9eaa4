"""The README's first command: the demo runs end to end on the embedded defaults, with the
Redis that answers at REDIS_URL or, on a machine that runs none, a private one of its own."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.support import TEST_BROKERS, environment_with_redis
from workers.embedded import free_port
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations

pytestmark = pytest.mark.integration

DEMO_KEYS = QueueKeys("escalator-demo")


def run_demo(
    cwd: Path, redis_url: str, broker: str = "embedded", **env: str
) -> subprocess.CompletedProcess[str]:
    escalator = Path(sys.executable).parent / "escalator"
    return subprocess.run(
        [str(escalator), "demo", "--timeout", "90", "--broker", broker],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        env={**environment_with_redis(redis_url), "COLUMNS": "160", **env},
    )


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# What the demo says when it starts each broker, and where the broker's log stays.
BROKER_STARTED = {
    "embedded": r"embedded broker \(Tansu\) on 127\.0\.0\.1:(\d+)",
    "kafka": r"Apache Kafka \(KRaft, one node\) starting on 127\.0\.0\.1:(\d+)",
}
BROKER_LOG = {"embedded": Path("logs/broker.log"), "kafka": Path("kafka/kafka.log")}
DEMO_BROKERS = [
    pytest.param(name, id=name)
    for name, test_name in (("embedded", "tansu"), ("kafka", "kafka"))
    if test_name in TEST_BROKERS
]


def assert_every_escalation_arrived_and_the_broker_stopped(
    result: subprocess.CompletedProcess[str], cwd: Path, broker: str = "embedded"
) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all expected escalations arrived, once each" in result.stdout
    assert "demo-billing-loop" in result.stdout
    assert "stayed with the bot:" in result.stdout
    assert "demo-address-change" in result.stdout
    port = re.search(BROKER_STARTED[broker], result.stdout)
    assert port is not None, result.stdout
    assert not listening(int(port.group(1))), "demo left its broker running"
    assert (cwd / ".escalator" / "logs" / "worker.log").is_file()
    assert (cwd / ".escalator" / BROKER_LOG[broker]).is_file()


@pytest.mark.parametrize("broker", DEMO_BROKERS)
def test_demo_uses_the_redis_that_answers(
    tmp_path: Path, redis_url: str, redis_client: "redis.Redis", broker: str
) -> None:
    result = run_demo(tmp_path, redis_url, broker)
    assert_every_escalation_arrived_and_the_broker_stopped(result, tmp_path, broker)
    assert "private redis-server" not in result.stdout
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    assert f"Redis redis://127.0.0.1:{port}/0 (keys under 'escalator-demo:')" in result.stdout
    assert queued_escalations(redis_client, DEMO_KEYS), "the escalations stay in that Redis"
    redis_client.delete(*redis_client.scan_iter(match=DEMO_KEYS.pattern, count=500))


def test_demo_on_a_machine_without_redis_starts_and_stops_its_own(tmp_path: Path) -> None:
    """Credentials meant for a Redis that does not answer are not sent to the private one."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    result = run_demo(
        tmp_path,
        nowhere,
        ESCALATOR_REDIS_USERNAME="desk",
        ESCALATOR_REDIS_PASSWORD="s3cr3t-pw",
    )
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert_every_escalation_arrived_and_the_broker_stopped(result, tmp_path)
    private = re.search(
        rf"no Redis answers at {re.escape(nowhere)}: started a private redis-server on "
        r"127\.0\.0\.1:(\d+)",
        result.stdout,
    )
    assert private is not None, result.stdout
    assert "broker, worker and Redis stopped" in result.stdout
    assert not listening(int(private.group(1))), "demo left its Redis running"
    assert (tmp_path / ".escalator" / "redis" / "redis.log").is_file()
