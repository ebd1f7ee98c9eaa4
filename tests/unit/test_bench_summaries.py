"""The bench's pure summaries: percentiles, latency growth, rates and profile hotspots."""

import pytest

from benchmarks.harness import Progressed
from benchmarks.latency import LatencyResult, percentile
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
