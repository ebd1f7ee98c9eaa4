"""The one Redis client factory (workers.redis_clients) on a Redis that requires a user (an ACL
user with a password, the ``default`` user off): the desk commands, the desk client, the demo's
Redis check and the demo itself reach it as ESCALATOR_REDIS_USERNAME / ESCALATOR_REDIS_PASSWORD,
and say so plainly, without a traceback, when those are missing or wrong."""

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas.lifecycle import HandoffEvent, HandoffStatus
from tests.support import TEST_BROKERS, Deployment
from tests.unit.test_desk_stub import escalation
from workers.demo import DEMO_PREFIX
from workers.desk import DeskClient, InMemoryPublisher
from workers.desk.exceptions import DeskError
from workers.embedded import BrokerProcess, EmbeddedRedis, free_port
from workers.errors import ServiceUnavailableError
from workers.queues import AgentQueueWriter, QueueKeys
from workers.redis_clients import sync_client
from workers.services import answering_redis, redis_answers
from workers.settings import load_settings

pytestmark = pytest.mark.integration

ESCALATOR = Path(sys.executable).parent / "escalator"
USER = "factory-user"
PASSWORD = "factory-S3cret-do-not-log"
REFUSED = "refused the credentials"


@pytest.fixture(scope="module")
def user_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A private redis-server that serves only ``USER`` with ``PASSWORD``."""
    with EmbeddedRedis(tmp_path_factory.mktemp("user-redis")) as server:
        setup = server.client()
        setup.acl_setuser(
            USER,
            enabled=True,
            passwords=[f"+{PASSWORD}"],
            keys=["*"],
            channels=["*"],
            commands=["+@all"],
        )
        setup.acl_setuser("default", enabled=False)
        setup.close()
        yield server


@pytest.fixture(scope="module")
def user_client(user_redis: EmbeddedRedis) -> Iterator["redis.Redis"]:
    client = redis.Redis.from_url(user_redis.url, username=USER, password=PASSWORD)
    yield client
    client.close()


@pytest.fixture
def user_deployment(
    broker: BrokerProcess, user_redis: EmbeddedRedis, user_client: "redis.Redis", tmp_path: Path
) -> Iterator[Deployment]:
    """A deployment on that Redis, its workers and commands configured with the user."""
    deployed = Deployment(
        broker=broker,
        redis_url=user_redis.url,
        redis=user_client,
        workdir=tmp_path,
        extra_env={"ESCALATOR_REDIS_USERNAME": USER, "ESCALATOR_REDIS_PASSWORD": PASSWORD},
    )
    deployed.create_topics()
    yield deployed
    deployed.cleanup()


def test_without_the_user_redis_refuses_even_a_ping(user_redis: EmbeddedRedis) -> None:
    anonymous = redis.Redis.from_url(user_redis.url)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    anonymous.close()


def _desk_cli(
    deployment: Deployment, *args: str, **credentials: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **deployment.env(free_port()), **credentials}
    return subprocess.run(
        [str(ESCALATOR), "desk", *args], env=env, capture_output=True, text=True, timeout=60
    )


def _enqueue(deployment: Deployment, number: int) -> None:
    async def run() -> None:
        writer = AgentQueueWriter.from_url(
            deployment.redis_url, deployment.keys, username=USER, password=PASSWORD
        )
        await writer.enqueue(escalation(number, "general", 2))
        await writer.close()

    asyncio.run(run())


def test_desk_commands_run_as_the_configured_user(user_deployment: Deployment) -> None:
    placed = escalation(1, "general", 2)
    _enqueue(user_deployment, 1)

    shown = _desk_cli(user_deployment, "tail", "general", "--once")
    assert shown.returncode == 0, shown.stderr
    assert "queue general: 1 waiting" in shown.stdout
    assert "s1" in shown.stdout

    claimed = _desk_cli(user_deployment, "claim", "--agent", "ana", "--consumer", "user-desk")
    assert claimed.returncode == 0, claimed.stderr
    packet = json.loads(claimed.stdout)
    assert packet["escalation"]["escalation_id"] == placed.escalation_id

    resolved = _desk_cli(user_deployment, "resolve", placed.session_id, placed.escalation_id)
    assert resolved.returncode == 0, resolved.stderr
    event = HandoffEvent.model_validate_json(resolved.stdout)
    assert (event.status, event.agent_id) == (HandoffStatus.RESOLVED, "ana")
    for result in (shown, claimed, resolved):
        assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({"ESCALATOR_REDIS_USERNAME": "", "ESCALATOR_REDIS_PASSWORD": ""}, id="none"),
        pytest.param(
            {"ESCALATOR_REDIS_USERNAME": USER, "ESCALATOR_REDIS_PASSWORD": "wrong-pw"},
            id="wrong-password",
        ),
    ],
)
def test_desk_commands_without_the_user_say_so_plainly(
    user_deployment: Deployment, credentials: dict[str, str]
) -> None:
    _enqueue(user_deployment, 2)
    for args in (
        ["tail", "general", "--once"],
        ["claim", "--agent", "ana"],
        ["resolve", "s2", "some-escalation"],
    ):
        result = _desk_cli(user_deployment, *args, **credentials)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert REFUSED in result.stderr, (args, result.stderr)
        assert "ESCALATOR_REDIS_USERNAME" in result.stderr
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert PASSWORD not in result.stdout + result.stderr
        assert "wrong-pw" not in result.stdout + result.stderr
    assert len(user_deployment.queue_entries()) == 1, "nothing was claimed"


def test_a_desk_client_without_the_user_raises_a_desk_error(user_redis: EmbeddedRedis) -> None:
    """The check before a command normally catches it; a desk client used directly (a desk
    application's own) gets a DeskError naming the settings, not 'Redis did not answer'."""

    async def run() -> None:
        async with DeskClient(
            user_redis.url, QueueKeys("factory-direct"), publisher=InMemoryPublisher()
        ) as desk:
            await desk.claim_next()

    with pytest.raises(DeskError, match="ESCALATOR_REDIS_USERNAME") as raised:
        asyncio.run(run())
    assert "did not answer" not in str(raised.value)


def test_the_demo_check_uses_the_configured_user(user_redis: EmbeddedRedis, tmp_path: Path) -> None:
    told: list[str] = []
    configured = load_settings(
        redis_url=user_redis.url, redis_username=USER, redis_password=PASSWORD
    )
    assert redis_answers(configured)
    with answering_redis(configured, tmp_path, told.append) as settings:
        assert settings is configured, "the configured Redis serves the run"
        client = sync_client(settings)
        assert client.acl_whoami() in (USER, USER.encode())
        client.close()
    assert told == []

    anonymous = load_settings(redis_url=user_redis.url, redis_username="", redis_password="")
    for settings in (anonymous, configured.model_copy(update={"redis_password": None})):
        with (
            pytest.raises(ServiceUnavailableError, match=REFUSED) as raised,
            answering_redis(settings, tmp_path, told.append),
        ):
            pass
        assert PASSWORD not in str(raised.value)
    assert told == [], "a Redis that wants a user is not replaced by a private one"
    assert not (tmp_path / "redis.log").exists()


def _run_demo(cwd: Path, url: str, **credentials: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.endswith("REDIS_URL")}
    return subprocess.run(
        [str(ESCALATOR), "demo", "--timeout", "90", "--broker", "embedded"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "ESCALATOR_REDIS_URL": url, "COLUMNS": "160", **credentials},
    )


def test_the_demo_without_the_user_stops_with_one_clear_line(
    user_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    result = _run_demo(
        tmp_path, user_redis.url, ESCALATOR_REDIS_USERNAME="", ESCALATOR_REDIS_PASSWORD=""
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert REFUSED in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "private redis-server" not in result.stdout


@pytest.mark.skipif("tansu" not in TEST_BROKERS, reason="the demo runs on the embedded broker")
def test_the_demo_runs_as_the_configured_user(
    user_redis: EmbeddedRedis, user_client: "redis.Redis", tmp_path: Path
) -> None:
    result = _run_demo(
        tmp_path,
        user_redis.url,
        ESCALATOR_REDIS_USERNAME=USER,
        ESCALATOR_REDIS_PASSWORD=PASSWORD,
    )
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "all expected escalations arrived, once each" in result.stdout
        assert "private redis-server" not in result.stdout
        assert re.search(rf"Redis {re.escape(user_redis.url)} \(keys under", result.stdout)
        assert PASSWORD not in result.stdout + result.stderr
        assert PASSWORD not in (tmp_path / ".escalator" / "logs" / "worker.log").read_text()
        assert user_client.keys(f"{DEMO_PREFIX}:*"), "the worker wrote as the user"
    finally:
        stale = list(user_client.scan_iter(match=f"{DEMO_PREFIX}:*", count=500))
        if stale:
            user_client.delete(*stale)
