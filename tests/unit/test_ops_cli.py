"""The command line as an operator meets it: help for every option, one clear line for a
missing service, and progress bars that show on a terminal and nowhere else."""

import argparse
import json
import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from tests.unit.test_eval_datasets import write_eval_tree
from workers import cli
from workers.embedded import free_port
from workers.evaluation.runner import run_evaluation

SAMPLES = Path(cli.__file__).parent / "samples" / "conversations.jsonl"


def options_without_help(parser: argparse.ArgumentParser, path: str = "escalator") -> list[str]:
    """Every argument, subcommand included, of ``parser`` and its subparsers that has no help."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._get_subactions()}
            for name, subparser in action.choices.items():
                if not helped.get(name):
                    missing.append(f"{path} {name}")
                missing.extend(options_without_help(subparser, f"{path} {name}"))
            continue
        if not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port that accepts TCP connections and nothing more: passes the broker check."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("ESCALATOR_REDIS_URL", raising=False)
    return url


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"kafka://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ESCALATOR_BROKER_URL", url)
    return url


def _single_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_every_option_of_every_command_has_help() -> None:
    assert options_without_help(cli.build_parser()) == []


def test_an_option_without_help_is_found() -> None:
    parser = cli.build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    commands.choices["replay"].add_argument("--undocumented")
    commands.add_parser("bare")
    assert options_without_help(parser) == [
        "escalator replay --undocumented",
        "escalator bare",
    ]


@pytest.mark.parametrize(
    "command", [["desk", "claim"], ["desk", "resolve", "s1", "e1"], ["worker"]]
)
def test_a_missing_broker_is_one_line_with_the_fix(
    command: list[str], no_broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(command) == cli.EXIT_USAGE
    line = _single_error_line(capsys)
    assert f"no Kafka broker answers at {no_broker}" in line
    assert "`escalator broker`" in line
    assert "ESCALATOR_BROKER_URL" in line


@pytest.mark.parametrize(
    "command",
    [
        ["worker"],
        ["desk", "tail", "general", "--once"],
        ["desk", "claim"],
        ["desk", "abandon", "s", "e"],
    ],
)
def test_a_missing_redis_is_one_line_with_the_fix(
    command: list[str],
    no_redis: str,
    listening_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ESCALATOR_BROKER_URL", f"kafka://127.0.0.1:{listening_port}")
    assert cli.main(command) == cli.EXIT_USAGE
    line = _single_error_line(capsys)
    assert f"no Redis answers at {no_redis}" in line
    assert "`redis-server --daemonize yes`" in line
    assert "`apt-get install redis-server`" in line
    assert "point REDIS_URL at a running Redis" in line


def test_replay_names_a_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.jsonl"
    assert cli.main(["replay", str(SAMPLES), str(missing)]) == cli.EXIT_USAGE
    line = _single_error_line(capsys)
    assert line == f"escalator: cannot read {missing}: No such file or directory"
    assert capsys.readouterr().out == ""


def test_replay_draws_no_progress_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["replay", str(SAMPLES)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.strip()


def test_replay_draws_progress_on_a_terminal_and_leaves_stdout_to_the_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = StringIO()
    console = Console(file=terminal, force_terminal=True, width=120)
    monkeypatch.setattr(cli, "progress_console", lambda: console)
    assert cli.main(["replay", str(SAMPLES)]) == 0
    drawn = terminal.getvalue()
    assert "replaying" in drawn
    size_kb = f"{SAMPLES.stat().st_size / 1000:.1f}"
    assert f"{size_kb}/{size_kb} kB" in drawn, drawn
    escalations = capsys.readouterr().out.splitlines()
    assert escalations
    for line in escalations:
        assert json.loads(line)["escalation_id"]


def test_replay_progress_is_disabled_without_a_terminal() -> None:
    assert cli.replay_progress(Console(file=StringIO(), force_terminal=False)).disable
    assert not cli.replay_progress(Console(file=StringIO(), force_terminal=True)).disable


def test_eval_draws_a_bar_per_set_only_on_a_terminal(tmp_path: Path) -> None:
    data = write_eval_tree(tmp_path / "eval-data")
    terminal, piped = StringIO(), StringIO()
    run_evaluation(data, console=Console(file=terminal, force_terminal=True, width=120))
    run_evaluation(data, console=Console(file=piped, force_terminal=False))
    for dataset in ("airline_tweets", "nlupp", "banking77", "uss_mwoz", "uss_sgd"):
        assert f"replaying {dataset}" in terminal.getvalue()
    assert piped.getvalue() == ""
