"""``escalator replay``: the worker's decision code, offline, on JSON lines."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.escalation import Escalation
from schemas.trace import TraceRecord
from workers.cli import main
from workers.decision.engine import escalation_id_for

TRACE_FIELDS = {"event_id", "session_id", "frustration", "signals", "matrix", "escalation"}


def _event(session: str, event_id: str, text: str, role: str = "customer") -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "session_id": session,
            "ts": "2026-01-05T09:00:20Z",
            "type": "message",
            "role": role,
            "text": text,
        }
    )


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    lines = [
        _event("a", "a1", "I need to change my address"),
        _event("b", "b1", "Can I speak to a human?"),
        _event("a", "a2", "Sure, what is the new address?", role="bot"),
        "",
        _event("a", "a3", "12 Oak Street, thanks!"),
        _event("b", "b2", "hello??"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_prints_each_escalation(
    small_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(small_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    escalation = Escalation.model_validate_json(out[0])
    assert escalation.session_id == "b"
    assert escalation.trigger_event_id == "b1"
    assert escalation.escalation_id == escalation_id_for("b", "b1")
    assert [reason.value for reason in escalation.reasons] == ["human_requested"]


def test_trace_prints_one_stable_record_per_event(
    small_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--trace", str(small_file)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event_id"] for line in lines] == ["a1", "b1", "a2", "a3", "b2"]
    for line in lines:
        assert set(line) >= TRACE_FIELDS
        assert 0.0 <= line["frustration"] <= 1.0
        assert set(line["matrix"]) >= {
            "emotional_load",
            "context_ambiguity",
            "consequence",
            "topics",
            "verdict",
        }
        TraceRecord.model_validate(line)
    assert lines[1]["signals"] == ["human_requested"]
    assert lines[1]["escalation"]["trigger_event_id"] == "b1"
    assert [line["escalation"] is None for line in lines] == [True, False, True, True, True]


def test_invalid_lines_are_reported_with_their_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(["{oops", _event("c", "c1", "agent please"), '{"type": "message"}']) + "\n"
    )
    assert main(["replay", str(path)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert f"{path}:1: malformed_json" in captured.err
    assert f"{path}:3: schema_violation" in captured.err
    assert "2 invalid line(s) skipped" in captured.err


def test_console_script_reads_standard_input(small_file: Path) -> None:
    escalator = Path(sys.executable).parent / "escalator"
    result = subprocess.run(
        [str(escalator), "replay", "-"],
        input=small_file.read_text(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [
        Escalation.model_validate_json(line).session_id for line in result.stdout.splitlines()
    ] == ["b"]
