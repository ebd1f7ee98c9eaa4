"""A missing broker or Redis gets a clear message with the command that fixes it. (The demo
starts a private Redis when none answers; here redis-server is missing too.)"""

import os
import subprocess
import sys
from pathlib import Path

from workers.embedded import free_port
from workers.embedded.redis_server import REDIS_SERVER_ENV

ESCALATOR = str(Path(sys.executable).parent / "escalator")
NO_REDIS_SERVER = {REDIS_SERVER_ENV: "/nonexistent/redis-server"}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCALATOR, *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_demo_says_how_to_get_redis_when_it_cannot_start_one(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run(["demo"], {"REDIS_URL": url, **NO_REDIS_SERVER}, tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"no Redis answers at {url} and none could be started" in line
    assert "no redis-server at /nonexistent/redis-server" in line
    assert "REDIS_URL" in line


def test_the_worker_says_how_to_get_a_broker(tmp_path: Path) -> None:
    port = free_port()
    result = run(["worker"], {"ESCALATOR_BROKER_URL": f"kafka://127.0.0.1:{port}"}, tmp_path)
    assert result.returncode == 2
    assert f"no Kafka broker answers at kafka://127.0.0.1:{port}" in result.stderr
    assert "escalator broker" in result.stderr


def test_a_password_in_the_redis_url_is_never_shown(tmp_path: Path) -> None:
    url = f"redis://desk:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    result = run(["demo"], {"REDIS_URL": url, **NO_REDIS_SERVER}, tmp_path)
    assert result.returncode == 2
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "desk:***@" in result.stderr
