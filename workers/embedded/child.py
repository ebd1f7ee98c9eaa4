"""What the embedded broker, the private Redis and worker processes share: a child process in
a session of its own (a Ctrl-C meant for the parent does not reach it), frozen and thawed for
fault tests, stopped gracefully or killed, and always stopped when used as a context manager.
"""

import os
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


class ChildProcess:
    """One child process; subclasses say how it starts (``start``, through ``_spawn``)."""

    stop_timeout_seconds = 10.0

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process else None

    @property
    def exited(self) -> bool:
        """Whether it has ended (or was never started)."""
        return self._process is None or self._process.poll() is not None

    def start(self) -> Self:
        """Start the process; subclasses wait until it serves."""
        raise NotImplementedError

    def _spawn(self, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        """Run ``command`` with its output appended to ``log_path``."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                env=None if env is None else {**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _exit_code(self) -> int | None:
        """The exit code once it has ended (it is then forgotten), else None."""
        if self._process is None or self._process.poll() is None:
            return None
        code, self._process = self._process.returncode, None
        return code

    def pause(self) -> None:
        """Freeze it (SIGSTOP), as a hung service looks to its clients."""
        if self._process:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause`` (SIGCONT)."""
        if self._process:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM), then SIGKILL if it hangs; returns the exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """Crash it: SIGKILL, no chance to flush or clean up."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
