"""``escalator eval`` as a user runs it: the installed command on a folder of labelled sets."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_eval_datasets import write_eval_tree
from workers.cli import main

ESCALATOR = Path(sys.executable).parent / "escalator"
REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = next(
    (
        path
        for path in (Path("/work/shared/eval-data"), REPO_ROOT.parent / "shared" / "eval-data")
        if path.is_dir()
    ),
    None,
)
DATASETS = ["airline_tweets", "nlupp", "banking77", "natcs_dstc11", "uss_mwoz", "uss_sgd"]
ROW_FIELDS = {
    "dataset",
    "task",
    "metric",
    "escalator",
    "baseline",
    "baseline_name",
    "n",
    "positives",
    "goal",
    "unit",
    "met",
}


def _eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ESCALATOR), "eval", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _check_report(report: dict[str, Any]) -> None:
    assert report["datasets"] == DATASETS
    assert 0.0 <= report["threshold"] <= 1.0
    for row in report["rows"]:
        assert set(row) == ROW_FIELDS, row
        assert row["dataset"] in DATASETS
        assert row["n"] >= row["positives"] >= 0
        for value in (row["escalator"], row["baseline"]):
            if value is not None and row["unit"] == "rate":
                assert 0.0 <= value <= 1.0, row
        if row["goal"] is not None:
            assert row["goal"]["comparison"] in (">=", "<=")
            assert row["met"] in (True, False, None)
        else:
            assert row["met"] is None


def test_eval_writes_json_and_markdown_for_every_set(tmp_path: Path) -> None:
    data = write_eval_tree(tmp_path / "eval-data")
    result = _eval(
        "--data",
        str(data),
        "--json",
        "out.json",
        "--markdown",
        "out.md",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    _check_report(report)
    assert report["limit"] is None
    for dataset in DATASETS:
        assert any(row["dataset"] == dataset for row in report["rows"])
    goals = [row for row in report["rows"] if row["goal"] is not None]
    assert {row["dataset"] for row in goals} == set(DATASETS)
    # The synthetic USS dialogue turns dissatisfied at its second user turn, the first one
    # VADER calls negative: the baseline escalates exactly on time.
    vader_timing = {
        row["metric"]: row["baseline"]
        for row in report["rows"]
        if row["dataset"] == "uss_mwoz" and row["task"].endswith("(timing)")
    }
    assert vader_timing["escalated at or before"] == 1.0
    assert vader_timing["median lag"] == 0.0
    assert vader_timing["GT-I"] == 1.0
    markdown = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert markdown.startswith("| set | task |")
    table_lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table_lines) == len(report["rows"]) + 1  # the header and one line per row
    assert "nlupp" in result.stdout
    assert "human_requested" in result.stdout


def test_eval_names_a_missing_data_folder(tmp_path: Path) -> None:
    result = _eval("--data", str(tmp_path / "no-such-folder"), cwd=tmp_path)
    assert result.returncode == 2
    assert "no-such-folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_says_to_install_the_extra_without_vader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "vaderSentiment.vaderSentiment", None)
    assert main(["eval", "--data", str(write_eval_tree(tmp_path))]) == 2
    assert "escalator[eval]" in capsys.readouterr().err


@pytest.mark.skipif(REAL_DATA is None, reason="no ../shared/eval-data next to the checkout")
def test_eval_on_the_real_data_scores_every_set(tmp_path: Path) -> None:
    assert REAL_DATA is not None
    result = _eval("--data", str(REAL_DATA), "--limit", "200", "--json", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    _check_report(report)
    assert report["limit"] == 200
    for row in report["rows"]:
        assert row["n"] <= 200 or row["task"].startswith("dissatisfied user turns"), row
        if row["goal"] is not None:
            assert row["escalator"] is not None, row
            assert row["baseline"] is not None, row
