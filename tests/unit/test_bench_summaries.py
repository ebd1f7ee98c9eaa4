"""The bench's pure summaries: percentiles, latency growth, rates and profile hotspots."""

import pytest

from benchmarks.harness import Progressed
from benchmarks.latency import LatencyResult, Samples, cores_by_window, percentile, summarise
from benchmarks.profile import hotspots


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def _latency(first_third: float, last_third: float) -> LatencyResult:
    return LatencyResult(
        rate=500,
        seconds=60,
        events_sent=30_000,
        events_processed=30_000,
        escalations=400,
        p50_ms=100,
        p99_ms=300,
        max_ms=400,
        first_third_p50_ms=first_third,
        last_third_p50_ms=last_third,
        drain_seconds=0.5,
    )


@pytest.mark.parametrize(
    ("first_third", "last_third", "grows"),
    [(100, 900, True), (100, 150, False), (10, 40, False), (400, 300, False)],
)
def test_latency_grows_only_when_the_last_third_is_clearly_slower(
    first_third: float, last_third: float, grows: bool
) -> None:
    assert _latency(first_third, last_third).grows is grows


def test_latency_medians_are_kept_per_window_of_send_time() -> None:
    # Sent at 0, 5, 12 and 25 s (epoch ms); each escalated 20, 40, 100 and 70 ms later.
    sent_at = {"a": 1_000_000.0, "b": 1_005_000.0, "c": 1_012_000.0, "d": 1_025_000.0}
    added = {"a": 1_000_020.0, "b": 1_005_040.0, "c": 1_012_100.0, "d": 1_025_070.0}
    result = summarise(500, 30, sent_at, added, 4, 0.1, Samples())
    assert result.p50_ms_by_window == [30.0, 100.0, 70.0]


def test_cpu_is_reported_in_cores_per_window() -> None:
    # Readings each second: 0.5 s of CPU per second for 10 s, then 1 s per second.
    readings = [(float(t), 0.5 * min(t, 10) + max(0, t - 10)) for t in range(0, 23)]
    assert cores_by_window(readings) == [0.5, 1.0]
    assert cores_by_window([]) == []


def test_rate_leaves_out_what_was_processed_before_the_clock_started() -> None:
    seen = Progressed(first_seen=10.0, processed_at_first_seen=100, done=12.0, processed=1_100)
    assert seen.rate == 500.0


def test_hotspots_rank_by_self_time_and_count_total_once_per_sample() -> None:
    speedscope = {
        "shared": {
            "frames": [
                {"name": "main", "file": "/app/run.py"},
                {"name": "handle", "file": "/app/.venv/lib/python3.11/site-packages/lib/x.py"},
                {"name": "decode", "file": "/usr/lib/python3.11/json/decoder.py"},
            ]
        },
        "profiles": [
            {"samples": [[0, 1, 2], [0, 1, 2], [0, 1], [0, 1, 1]], "weights": [1, 1, 1, 1]},
            {"samples": [[]], "weights": [1]},
        ],
    }
    top = hotspots(speedscope, top=2)
    assert [spot.function for spot in top] == [
        "decode (json/decoder.py)",
        "handle (lib/x.py)",
    ]
    assert top[0].self_share == 0.5
    assert top[1].self_share == 0.5
    assert top[1].total_share == 1.0
