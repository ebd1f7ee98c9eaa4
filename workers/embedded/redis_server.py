"""Start and stop a private ``redis-server``: the test suite's, and the demo's and the bench's
when no Redis answers at ``REDIS_URL``.

It listens on a loopback port of its own, so it never meets a Redis the machine already runs,
and keeps its files in a working directory the caller names. ``durable`` turns on an
append-only file synced at every write, so a server killed (SIGKILL) and started again on the
same port keeps what it held, as a production Redis with persistence would.
"""

import os
import shutil
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from workers.embedded.broker import free_port
from workers.embedded.child import ChildProcess
from workers.embedded.exceptions import EmbeddedRedisError

REDIS_SERVER_ENV = "ESCALATOR_REDIS_SERVER_BIN"
INSTALL_HINT = "Debian/Ubuntu: `apt-get install redis-server`"
START_TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 0.5


def redis_server_binary() -> Path:
    """The ``redis-server`` executable: ``$ESCALATOR_REDIS_SERVER_BIN`` or the one on PATH."""
    override = os.environ.get(REDIS_SERVER_ENV)
    found = override or shutil.which("redis-server")
    if not found or not Path(found).is_file():
        raise EmbeddedRedisError(
            f"redis-server is not installed ({INSTALL_HINT}), or set {REDIS_SERVER_ENV}"
            if not override
            else f"no redis-server at {override} ({REDIS_SERVER_ENV})"
        )
    return Path(found)


class EmbeddedRedis(ChildProcess):
    """One ``redis-server`` process on a loopback port; a context manager that always stops
    it. ``start`` after ``stop`` or ``kill`` brings it back on the same port and directory."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        durable: bool = False,
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.durable = durable

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        """Where the server writes its log."""
        return self.workdir / "redis.log"

    def client(self, timeout: float = 5.0) -> "redis.Redis":
        """A new synchronous client of this server."""
        return redis.Redis.from_url(self.url, socket_timeout=timeout)

    def command(self) -> list[str]:
        """The ``redis-server`` command line: no snapshots; an append-only file when durable."""
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        return [
            str(redis_server_binary()),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.workdir),
            "--save", "",
            *persistence,
        ]  # fmt: skip

    def start(self) -> "EmbeddedRedis":
        """Start the server and wait until it answers PING."""
        self._spawn(self.command(), self.log_path)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = self._exit_code()
            if code is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with code {code}; see {self.log_path}"
                )
            if self._answers():
                return self
            time.sleep(0.05)
        self.kill()
        raise EmbeddedRedisError(
            f"redis-server did not answer on {self.host}:{self.port} within "
            f"{START_TIMEOUT_SECONDS}s; see {self.log_path}"
        )

    def _answers(self) -> bool:
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_connect_timeout=PING_TIMEOUT_SECONDS,
            socket_timeout=PING_TIMEOUT_SECONDS,
            # One try per poll: redis-py's default retries take 4 s on a refused connection
            # and 10 s on a port that never answers, longer than the start allows.
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            client.close()
