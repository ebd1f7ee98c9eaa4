"""The private redis-server the suite, the demo and the bench start: on a port of its own,
gone when stopped, durable only when asked; and a Redis that answers is used instead."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.support import environment_with_redis
from workers.embedded import EmbeddedRedis, EmbeddedRedisError, free_port
from workers.embedded.redis_server import REDIS_SERVER_ENV
from workers.errors import ServiceUnavailableError
from workers.services import answering_redis
from workers.settings import load_settings

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_it_answers_on_a_free_port_and_is_gone_when_stopped(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path).start()
    try:
        client = server.client()
        assert client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()
    assert server.pid is None
    assert not listening(server.port)
    assert (tmp_path / "redis.log").is_file()


@pytest.mark.parametrize(("durable", "kept"), [(True, b"v"), (False, None)])
def test_only_a_durable_server_keeps_what_it_held_through_a_sigkill(
    tmp_path: Path, durable: bool, kept: bytes | None
) -> None:
    with EmbeddedRedis(tmp_path, durable=durable) as server:
        before = server.client()
        before.set("k", "v")
        before.close()
        server.kill()
        assert not listening(server.port)
        server.start()  # the same port and directory
        after = server.client()
        assert after.get("k") == kept
        after.close()


def test_a_frozen_server_times_clients_out_until_it_resumes(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client = server.client(timeout=0.3)
        server.pause()
        with pytest.raises(redis.TimeoutError):
            client.ping()
        server.resume()
        assert client.ping()
        client.close()


def test_a_server_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedRedis(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(EmbeddedRedisError, match=r"exited with code \d+; see .*redis\.log"):
            server.start()
    assert server.pid is None


def test_a_missing_binary_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(REDIS_SERVER_ENV, raising=False)
    with pytest.raises(EmbeddedRedisError, match="`apt-get install redis-server`"):
        EmbeddedRedis(tmp_path).start()


def test_a_redis_that_answers_is_used_as_it_is(redis_url: str, tmp_path: Path) -> None:
    told: list[str] = []
    configured = load_settings(redis_url=redis_url)
    with answering_redis(configured, tmp_path, told.append) as settings:
        assert settings is configured
    assert told == []
    assert not (tmp_path / "redis.log").exists()


def test_without_an_answering_redis_a_private_one_serves_the_run(tmp_path: Path) -> None:
    told: list[str] = []
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    configured = load_settings(redis_url=nowhere, redis_username="desk", redis_password="pw")
    with answering_redis(configured, tmp_path, told.append) as settings:
        url = settings.redis_url.get_secret_value()
        assert url != nowhere
        assert settings.redis_client_kwargs() == {}  # the private one has no ACL users
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.close()
    (line,) = told
    assert f"no Redis answers at {nowhere}" in line
    assert f"started a private redis-server on 127.0.0.1:{port}" in line
    assert not listening(port), "the private Redis outlived the run"


def test_refused_credentials_are_an_error_not_a_reason_for_another_redis(
    redis_url: str, tmp_path: Path
) -> None:
    configured = load_settings(
        redis_url=redis_url, redis_username="no-such-user", redis_password="s3cr3t-pw"
    )
    with (
        pytest.raises(ServiceUnavailableError, match="refused the credentials") as raised,
        answering_redis(configured, tmp_path, print),
    ):
        pass
    assert "s3cr3t-pw" not in str(raised.value)
    assert not (tmp_path / "redis.log").exists()


def test_no_redis_and_no_binary_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REDIS_SERVER_ENV, str(tmp_path / "missing"))
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with (
        pytest.raises(ServiceUnavailableError) as raised,
        answering_redis(load_settings(redis_url=nowhere), tmp_path, print),
    ):
        pass
    message = str(raised.value)
    assert f"no Redis answers at {nowhere} and none could be started" in message
    assert "point REDIS_URL at a running Redis" in message


@pytest.mark.parametrize("answers", [True, False])
def test_the_make_targets_probe_tells_whether_a_redis_answers(
    redis_url: str, answers: bool
) -> None:
    """``make demo`` and ``make bench`` install redis-server only when this exits non-zero."""
    url = redis_url if answers else f"redis://127.0.0.1:{free_port()}/0"
    probe = subprocess.run(
        [sys.executable, "-m", "workers.services"],
        env=environment_with_redis(url),
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert probe.returncode == (0 if answers else 1), probe.stderr
