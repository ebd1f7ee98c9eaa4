"""The benchmark: escalator's worker beside its baselines, measured in one run on one
embedded broker and one Redis (what `make bench` runs; a private one when none answers).

    python -m benchmarks.run [--quick] [--events N] [--runs R] [--sessions 10000,100000]
                             [--store memory,rocksdb] [--only throughput,latency] [--profile]

Throughput (the same pre-produced records for every row, events/s median of the runs with min
and max, each row's ratio to the engine baseline): a raw aiokafka consumer decoding JSON (the
limit), a bare Faust agent decoding without writes (the engine ceiling) and doing one table
update per event (the engine baseline), the escalator worker (the full pipeline) and the
decision core alone on one core. Latency from produce to the escalation's Redis entry at a
steady offered rate. Worker memory per open session, and recovery time of a restarted
worker. The table goes to stdout, progress to stderr (on a terminal), every number to
.escalator/bench/results-<UTC time>.json and latest.json.
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks import decision_core, latency, memory, throughput
from benchmarks.harness import Bench, bench_services, stderr
from benchmarks.profile import Hotspot, Recording
from workers.embedded import WorkerProcess
from workers.settings import Settings

SECTIONS = ("throughput", "latency", "memory", "decision")
STORES = {"memory": "memory://", "rocksdb": "rocksdb://"}
PROFILE_TOP = 15
DECISION_CORE_ROW = "decision core alone, one core (in-process, no I/O)"
FULL = {
    "events": 50_000,
    "runs": 3,
    "latency_seconds": 60.0,
    "sessions": "10000,100000,1000000",
    "recovery_sessions": "100000,1000000",
    "decision_sessions": 20_000,
}
QUICK = {
    "events": 3_000,
    "runs": 1,
    "latency_seconds": 10.0,
    "sessions": "1000,5000",
    "recovery_sessions": "5000",
    "decision_sessions": 2_000,
}


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run per row")
    parser.add_argument("--events", type=int, help=f"throughput records (full {FULL['events']:,})")
    parser.add_argument("--runs", type=int, help="runs per throughput row (full 3); median shown")
    parser.add_argument("--rate", type=float, default=500.0, help="latency: offered events/s")
    parser.add_argument("--latency-seconds", type=float, help="latency: offered for (full 60)")
    parser.add_argument(
        "--sessions", help="memory: open-session counts (full 10000,100000,1000000)"
    )
    parser.add_argument(
        "--recovery-sessions", help="recovery after these memory sizes (full 100000,1000000)"
    )
    parser.add_argument(
        "--store",
        default="memory,rocksdb",
        help="table stores for memory and recovery: memory, rocksdb (skipped, with a note, "
        "when rocksdict is not installed)",
    )
    parser.add_argument(
        "--changelog-fill-above",
        type=int,
        default=memory.PIPELINE_FILL_MAX,
        help="memory: larger session counts are written straight to the changelog and "
        "recovered by a new worker, instead of sent through the pipeline",
    )
    parser.add_argument("--decision-sessions", type=int, help="decision core: conversations")
    parser.add_argument(
        "--partitions", type=int, default=Settings().partitions, help="of every topic"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also record the worker with py-spy in one more full-pipeline run and print the "
        f"top {PROFILE_TOP} functions by self time",
    )
    parser.add_argument("--output-dir", type=Path, default=Path(".escalator/bench"))
    return parser


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": model,
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "git_commit": _git_commit(),
        "git_uncommitted_changes": _git_dirty(),
    }


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def _git_dirty() -> bool | None:
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(done.stdout.strip())


def _stores(names: str, notes: list[str]) -> list[str]:
    stores = []
    for name in (part.strip() for part in names.split(",") if part.strip()):
        if name not in STORES:
            raise SystemExit(f"unknown store {name!r}: choose from {', '.join(STORES)}")
        if name == "rocksdb" and importlib.util.find_spec("rocksdict") is None:
            notes.append("rocksdb rows skipped: rocksdict is not installed")
            continue
        stores.append(STORES[name])
    return stores


def _rates(runs: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
        "rates": runs,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every selected section; returns the result document."""
    sections = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}: choose from {SECTIONS}")
    sizes = _sizes(args.sessions)
    recovery_sizes = set(_sizes(args.recovery_sessions)) & set(sizes)
    notes: list[str] = []
    stores = _stores(args.store, notes)
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started_at": started.isoformat(),
        "machine": machine(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "notes": notes,
    }
    workdir = args.output_dir / "work" / f"{started:%Y%m%dT%H%M%SZ}"
    result["logs"] = str(workdir / "logs")

    def note(text: str) -> None:
        stderr.log(text)
        notes.append(text)

    with bench_services(workdir, args.partitions, note) as bench:
        result["run_id"] = bench.run_id  # the prefix of every topic, group and Redis key
        if "throughput" in sections:
            stderr.log(f"throughput: {args.events:,} events, {args.runs} run(s) per row")
            source = throughput.prepare_input(bench, args.events)
            rows = throughput.measure(bench, source, args.runs)
            result["throughput"] = {
                "events": source.events,
                "partitions": args.partitions,
                "rows": [
                    {**row.as_json(), **_rates([r.events_per_second for r in row.runs])}
                    for row in rows
                ],
            }
            if args.profile:
                stderr.log("profile: one more full-pipeline run under py-spy")
                result["profile"] = _profile(bench, source, args.output_dir, started)
        if "latency" in sections:
            stderr.log(f"latency: {args.rate:.0f} events/s for {args.latency_seconds:.0f}s")
            result["latency"] = latency.measure(bench, args.rate, args.latency_seconds).as_json()
        if "memory" in sections and stores:
            stderr.log(
                f"memory: {sizes} sessions, stores {stores}, "
                f"recovery after {sorted(recovery_sizes)}"
            )
            filled, recovered = memory.measure(
                bench, stores, sizes, recovery_sizes, args.changelog_fill_above
            )
            result["memory"] = memory.as_json(filled)
            result["recovery"] = memory.as_json(recovered)
    if "decision" in sections:
        # Last: it tunes this process's garbage collector the way the worker does.
        stderr.log(f"decision core: {args.decision_sessions:,} conversations")
        core = decision_core.measure(args.decision_sessions, max(args.runs, 3))
        result["decision_core"] = {
            **core,
            "rates": {name: _rates(rates) for name, rates in core["rates"].items()},
        }
    for data in workdir.glob("*-data"):
        shutil.rmtree(data, ignore_errors=True)  # table stores; the logs stay
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result


def _profile(
    bench: Bench, source: throughput.Input, output_dir: Path, started: datetime
) -> dict[str, Any]:
    speedscope = output_dir / f"profile-{started:%Y%m%dT%H%M%SZ}.speedscope.json"
    recordings: list[Recording] = []

    def attach(worker: WorkerProcess) -> Callable[[], None]:
        recordings.append(Recording(worker, speedscope))
        return recordings[-1].stop

    profiled = throughput.pipeline_run(bench, source, attach=attach)
    top = recordings[0].hotspots(PROFILE_TOP)
    return {
        "speedscope": str(speedscope),
        "events_per_second_under_profiler": profiled.events_per_second,
        "top_self": [hotspot.__dict__ for hotspot in top],
    }


def write(result: dict[str, Any], output_dir: Path) -> Path:
    """results-<UTC time>.json and latest.json in ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(result["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    path = output_dir / f"results-{stamp}.json"
    text = json.dumps(result, indent=2, default=str)
    path.write_text(text)
    (output_dir / "latest.json").write_text(text)
    return path


def report(result: dict[str, Any], console: Console) -> None:
    """The tables."""
    if "throughput" in result or "decision_core" in result:
        console.print(_throughput_table(result))
    if "latency" in result:
        console.print(_latency_table(result["latency"]))
        console.print(_latency_windows(result["latency"]))
    if result.get("decision_core", {}).get("components_us"):
        console.print(decision_core.components_table(result["decision_core"]["components_us"]))
    if result.get("memory"):
        console.print(_memory_table(result["memory"]))
    if result.get("recovery"):
        console.print(_recovery_table(result["recovery"]))
    if "profile" in result:
        console.print(_profile_table(result["profile"]))
    for note in result["notes"]:
        console.print(f"note: {note}")


def _throughput_table(result: dict[str, Any]) -> Table:
    shown = result.get("throughput", {})
    rows = list(shown.get("rows", []))
    core = result.get("decision_core")
    if core:
        rows.append({"name": DECISION_CORE_ROW, **core["rates"]["decision core, worker gc"]})
    baseline = next((row["median"] for row in rows if row["name"] == throughput.ENGINE), None)
    title = "throughput, events/s"
    if shown:
        title += f" ({shown['events']:,} records, {shown['partitions']} partitions)"
    table = Table(title=title)
    for column in ("row", "median", "min", "max", "runs", "vs engine baseline"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['median']:,.0f}",
            f"{row['min']:,.0f}",
            f"{row['max']:,.0f}",
            str(len(row["rates"])),
            f"{row['median'] / baseline:.2f}x" if baseline else "-",
        )
    return table


def _latency_table(shown: dict[str, Any]) -> Table:
    table = Table(
        title=f"produce -> escalation in Redis at {shown['rate']:.0f} events/s for "
        f"{shown['seconds']:.0f}s ({shown['escalations']} escalations, "
        f"{shown['events_processed']:,} of {shown['events_sent']:,} events processed)"
    )
    for column in (
        "p50 ms",
        "p99 ms",
        "max ms",
        "p50 first third",
        "p50 last third",
        "grows",
        "drain s",
        "worker RSS MB (start -> end)",
    ):
        table.add_column(column, justify="right")
    samples = shown["rss_mb_over_time"]
    rss = f"{samples[0][1]:.0f} -> {samples[-1][1]:.0f}" if samples else "-"
    table.add_row(
        f"{shown['p50_ms']:.0f}",
        f"{shown['p99_ms']:.0f}",
        f"{shown['max_ms']:.0f}",
        f"{shown['first_third_p50_ms']:.0f}",
        f"{shown['last_third_p50_ms']:.0f}",
        "yes" if shown["grows"] else "no",
        f"{shown['drain_seconds']:.1f}",
        rss,
    )
    return table


def _latency_windows(shown: dict[str, Any]) -> Table:
    """Per window of the run: the latency median, and the CPU the worker and the broker
    used (a latency that grows with the broker's CPU, at a flat worker CPU, is the broker's)."""
    table = Table(title=f"by {latency.WINDOW_SECONDS:.0f} s window of the run")
    rows = (
        ("p50 ms", "p50_ms_by_window", "{:.0f}"),
        ("worker CPU, cores", "worker_cpu_by_window", "{:.2f}"),
        ("broker CPU, cores", "broker_cpu_by_window", "{:.2f}"),
    )
    windows = max(len(shown.get(key) or []) for _, key, _ in rows)
    table.add_column("")
    for number in range(windows):
        table.add_column(f"{number * latency.WINDOW_SECONDS:.0f}s", justify="right")
    for label, key, shape in rows:
        values = shown.get(key) or []
        table.add_row(label, *(shape.format(value) for value in values))
    return table


def _memory_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="worker memory (VmRSS) with open sessions, two events each")
    columns = ("store", "sessions", "idle MB", "with sessions MB", "bytes/session", "fill s")
    for column in (*columns, "filled by"):
        table.add_column(column, justify="right" if column in columns[1:] else "left")
    for shown in results:
        table.add_row(
            shown["store"],
            f"{shown['sessions']:,}",
            f"{shown['rss_idle_mb']:.0f}",
            f"{shown['rss_mb']:.0f}",
            f"{shown['bytes_per_session']:,.0f}",
            f"{shown['fill_seconds']:.0f}",
            "the pipeline" if shown["filled_by"] == "pipeline" else "changelog, then recovery",
        )
    return table


def _recovery_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="recovery: SIGTERM, then a new worker (from process start)")
    for column in (
        "store",
        "sessions",
        "stop s",
        "ready s",
        "all sessions s",
        "RSS MB",
        "checked by",
    ):
        table.add_column(column, justify="left" if column in ("store", "checked by") else "right")
    for shown in results:
        table.add_row(
            shown["store"],
            f"{shown['sessions']:,}",
            f"{shown['stop_seconds']:.1f}",
            f"{shown['ready_seconds']:.1f}",
            f"{shown['all_sessions_seconds']:.1f}",
            f"{shown['rss_after_mb']:.0f}",
            shown["checked_by"],
        )
    return table


def _profile_table(shown: dict[str, Any]) -> Table:
    table = Table(
        title=f"worker profile (py-spy), top {PROFILE_TOP} by self time; "
        f"speedscope file: {shown['speedscope']}"
    )
    for column in ("self %", "total %", "function"):
        table.add_column(column, justify="left" if column == "function" else "right")
    for hotspot in shown["top_self"]:
        spot = Hotspot(**hotspot)
        table.add_row(f"{spot.self_share:.1%}", f"{spot.total_share:.1%}", spot.function)
    return table


def main(argv: list[str] | None = None) -> int:
    args = _defaults(build_parser().parse_args(argv))
    result = run(args)
    path = write(result, args.output_dir)
    report(result, Console(width=max(Console().width, 120)))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
