"""The README's first command: the demo runs end to end on the embedded defaults."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_shows_every_expected_escalation_and_stops_what_it_started(tmp_path: Path) -> None:
    escalator = Path(sys.executable).parent / "escalator"
    result = subprocess.run(
        [str(escalator), "demo", "--timeout", "90"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all expected escalations arrived, once each" in result.stdout
    assert "demo-billing-loop" in result.stdout
    assert "stayed with the bot:" in result.stdout
    assert "demo-address-change" in result.stdout
    port = re.search(r"embedded broker \(Tansu\) on 127\.0\.0\.1:(\d+)", result.stdout)
    assert port is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(port.group(1)))) != 0, (
            "demo left its broker running"
        )
    assert (tmp_path / ".escalator" / "logs" / "worker.log").is_file()
    assert (tmp_path / ".escalator" / "logs" / "broker.log").is_file()
