"""`make bench` end to end with tiny sizes: every row measured, every record processed,
escalations in Redis, the result file complete, nothing left behind in Redis; and a bench on
a machine where no Redis answers runs on a private one. Correctness only: the numbers
themselves depend on the machine."""

import json
import math
import socket
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import redis

from benchmarks.harness import bench_services
from benchmarks.throughput import CEILING, ENGINE, LIMIT, PIPELINE
from tests.support import environment_with_redis
from workers.embedded import free_port

EVENTS = 600
SESSIONS = 400
# Filled through the pipeline up to SESSIONS, straight into the changelog above.
CHANGELOG_SESSIONS = 600


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.timeout(600)  # a dozen worker starts on a shared machine
def test_quick_bench_measures_every_row(
    tmp_path: Path, redis_url: str, redis_client: "redis.Redis"
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--events",
            str(EVENTS),
            "--latency-seconds",
            "3",
            "--sessions",
            f"{SESSIONS},{CHANGELOG_SESSIONS}",
            "--recovery-sessions",
            f"{SESSIONS},{CHANGELOG_SESSIONS}",
            "--changelog-fill-above",
            str(SESSIONS),
            "--decision-sessions",
            "200",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
        env=environment_with_redis(redis_url),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    latest = json.loads((tmp_path / "latest.json").read_text())
    stamped = list(tmp_path.glob("results-*.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text()) == latest

    rows = {row["name"]: row for row in latest["throughput"]["rows"]}
    assert set(rows) == {LIMIT, CEILING, ENGINE, PIPELINE}
    assert latest["throughput"]["events"] == EVENTS
    for row in rows.values():
        assert row["runs"], row["name"]
        assert all(run["processed"] == EVENTS for run in row["runs"]), row["name"]
        assert all(_number(run["events_per_second"]) for run in row["runs"]), row["name"]
        assert _number(row["median"])
    assert all(run["escalations_in_redis"] > 0 for run in rows[PIPELINE]["runs"])

    timed = latest["latency"]
    assert timed["events_processed"] == timed["events_sent"] > 0
    assert timed["escalations"] > 0
    assert all(_number(timed[key]) for key in ("p50_ms", "p99_ms", "max_ms"))
    assert timed["rss_mb_over_time"]

    stores = {"memory://", "rocksdb://"} if find_spec("rocksdict") else {"memory://"}
    filled = {(row["store"], row["sessions"]): row for row in latest["memory"]}
    sizes = {SESSIONS, CHANGELOG_SESSIONS}
    assert set(filled) == {(store, size) for store in stores for size in sizes}
    for (_, size), row in filled.items():
        through_pipeline = size == SESSIONS
        assert row["filled_by"] == ("pipeline" if through_pipeline else "changelog")
        assert row["events_processed"] == (2 * SESSIONS if through_pipeline else 0)
        assert _number(row["bytes_per_session"])
    # Holding every session is checked on the worker (its open-session count), so a
    # changelog-filled worker that recovered fewer than all would have failed the run.
    recovered = {(row["store"], row["sessions"]) for row in latest["recovery"]}
    assert recovered == {(store, size) for store in stores for size in sizes}
    assert all(
        _number(row["ready_seconds"]) and row["all_sessions_seconds"] >= row["ready_seconds"]
        for row in latest["recovery"]
    )

    assert all(_number(rates["median"]) for rates in latest["decision_core"]["rates"].values())
    assert all(micros > 0 for micros in latest["decision_core"]["components_us"].values())
    assert "vs engine baseline" in done.stdout
    assert f"results: {stamped[0]}" in done.stdout
    # The Redis that answered was used (no private one), and nothing is left in it.
    assert not any("private redis-server" in note for note in latest["notes"])
    assert not list(redis_client.scan_iter(match=f"{latest['run_id']}-*", count=1_000))


def test_without_an_answering_redis_the_bench_runs_on_a_private_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.delenv("ESCALATOR_REDIS_URL", raising=False)
    monkeypatch.setenv("ESCALATOR_REDIS_USERNAME", "bench")
    monkeypatch.setenv("ESCALATOR_REDIS_PASSWORD", "s3cr3t-pw")
    notes: list[str] = []
    with bench_services(tmp_path, 1, notes.append) as bench:
        assert bench.redis.ping()
        # The workers it starts reach the private Redis without the credentials meant for
        # the one that did not answer.
        assert bench.redis_environment["ESCALATOR_REDIS_USERNAME"] == ""
        assert bench.redis_environment["ESCALATOR_REDIS_PASSWORD"] == ""
        port = int(bench.redis_url.rsplit(":", 1)[1].split("/")[0])
        bench.redis.set(f"{bench.run_id}-probe", "1")
    (note,) = notes
    assert f"started a private redis-server on 127.0.0.1:{port}" in note
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the bench left its Redis running"
