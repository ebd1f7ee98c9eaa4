"""A missing broker or Redis gets a clear message with the command that fixes it."""

import os
import subprocess
import sys
from pathlib import Path

from workers.embedded import free_port

ESCALATOR = str(Path(sys.executable).parent / "escalator")


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


def test_the_demo_says_how_to_get_redis(tmp_path: Path) -> None:
    result = run(["demo"], {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, tmp_path)
    assert result.returncode == 2
    assert "no Redis answers" in result.stderr
    assert "redis-server --daemonize yes" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_the_worker_says_how_to_get_a_broker(tmp_path: Path) -> None:
    port = free_port()
    result = run(["worker"], {"ESCALATOR_BROKER_URL": f"kafka://127.0.0.1:{port}"}, tmp_path)
    assert result.returncode == 2
    assert f"no Kafka broker answers at kafka://127.0.0.1:{port}" in result.stderr
    assert "escalator broker" in result.stderr


def test_a_password_in_the_redis_url_is_never_shown(tmp_path: Path) -> None:
    url = f"redis://desk:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    result = run(["demo"], {"REDIS_URL": url}, tmp_path)
    assert result.returncode == 2
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "desk:***@" in result.stderr
