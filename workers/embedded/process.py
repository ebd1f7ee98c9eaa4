"""Run ``escalator worker`` as a child process: for the demo and for integration tests."""

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from workers.embedded.child import ChildProcess
from workers.embedded.exceptions import WorkerProcessError

READY_TIMEOUT_SECONDS = 90.0


class WorkerProcess(ChildProcess):
    """One worker process configured by ``ESCALATOR_*`` variables; logs go to ``log_path``."""

    stop_timeout_seconds = 30.0

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__()
        self.env = env
        self.log_path = log_path

    @property
    def web_url(self) -> str:
        """Base URL of the worker's web server."""
        return f"http://{self.env['ESCALATOR_WEB_HOST']}:{self.env['ESCALATOR_WEB_PORT']}"

    def start(self) -> "WorkerProcess":
        """Start the worker (without waiting for it to be ready)."""
        self._spawn([sys.executable, "-m", "workers.cli", "worker"], self.log_path, self.env)
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
            if self.exited:
                raise WorkerProcessError(f"worker exited early; see {self.log_path}")
            try:
                status, _ = self.get_json("/ready")
                if status == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise WorkerProcessError(f"worker not ready within {timeout}s; see {self.log_path}")
