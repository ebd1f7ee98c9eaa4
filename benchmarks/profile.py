"""Where the worker spends its time: py-spy samples it during a full-pipeline throughput run
(from ``/ready`` until every record is processed) and writes a speedscope file; the summary
ranks functions by self time (samples with the function on top of the stack)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.embedded import WorkerProcess

SAMPLES_PER_SECOND = 100
STOP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Hotspot:
    function: str
    self_share: float
    total_share: float


def py_spy() -> str:
    """The py-spy executable beside this Python (the dev extra), else on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.is_file() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[dev]'")
    return found


def _short(path: str) -> str:
    """A source path without the interpreter's or the checkout's prefix."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    standard_library = re.search(r"/lib/python3\.\d+/(.+)$", path)
    if standard_library:
        return standard_library.group(1)
    return os.path.relpath(path) if os.path.isabs(path) else path


def hotspots(speedscope: dict[str, Any], top: int) -> list[Hotspot]:
    """Functions (name and file; every line of one function together) by self time."""
    frames = [
        f"{frame['name']} ({_short(str(frame.get('file', '?')))})"
        for frame in speedscope["shared"]["frames"]
    ]
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    overall = 0.0
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            overall += weight
            self_time[frames[stack[-1]]] += weight
            for function in {frames[index] for index in stack}:
                total_time[function] += weight
    if not overall:
        return []
    return [
        Hotspot(function, weight / overall, total_time[function] / overall)
        for function, weight in self_time.most_common(top)
    ]


class Recording:
    """py-spy attached to a running process until ``stop``."""

    def __init__(self, process: WorkerProcess, output: Path) -> None:
        if process.pid is None:
            raise ValueError("the process is not running")
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        self._log = output.with_suffix(".log")
        with self._log.open("wb") as log:
            self._spy = subprocess.Popen(
                [
                    py_spy(),
                    "record",
                    "--pid",
                    str(process.pid),
                    "--rate",
                    str(SAMPLES_PER_SECOND),
                    "--nonblocking",
                    "--format",
                    "speedscope",
                    "--output",
                    str(output),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """Stop sampling (SIGINT: py-spy writes its file and exits)."""
        self._spy.send_signal(signal.SIGINT)
        try:
            self._spy.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._spy.kill()
            self._spy.wait()
        if not self.output.is_file():
            raise RuntimeError(f"py-spy wrote no profile; see {self._log}")

    def hotspots(self, top: int) -> list[Hotspot]:
        return hotspots(json.loads(self.output.read_text()), top)
