"""Run ``escalator worker`` as a child process: for the demo and for integration tests."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from workers.embedded.exceptions import WorkerProcessError

READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0


class WorkerProcess:
    """One worker process configured by ``ESCALATOR_*`` variables; logs go to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def web_url(self) -> str:
        """Base URL of the worker's web server."""
        return f"http://{self.env['ESCALATOR_WEB_HOST']}:{self.env['ESCALATOR_WEB_PORT']}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process else None

    def start(self) -> "WorkerProcess":
        """Start the worker (without waiting for it to be ready)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "worker"],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def get_json(self, path: str) -> tuple[int, Any]:
        """GET a path of the worker's web server: (status, decoded JSON body)."""
        try:
            with urllib.request.urlopen(self.web_url + path, timeout=5) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Block until the worker has its partitions and has recovered its tables."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise WorkerProcessError(f"worker exited early; see {self.log_path}")
            try:
                status, _ = self.get_json("/ready")
                if status == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise WorkerProcessError(f"worker not ready within {timeout}s; see {self.log_path}")

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM), then SIGKILL if it hangs; returns the exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to commit or flush."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
