"""Start and stop a single-node Apache Kafka broker in KRaft mode, assembled from Maven Central.

Apache Kafka is not packaged here, but its jars are on Maven Central: ``kafka/pom.xml`` names
the broker and a logging backend, and ``mvn dependency:copy-dependencies`` fetches them once
into a cache folder outside the checkout (``$ESCALATOR_KAFKA_LIBS``, else
``~/.cache/escalator/kafka-<pom digest>``). Java 17 or later runs ``kafka.Kafka`` from there.

The node is broker and controller at once, on two loopback ports, its log in a working
directory the caller names; its storage is formatted with a fresh cluster id the first time.
Unlike the in-memory embedded broker, it keeps its topics, committed offsets and changelogs
across ``stop`` and ``start`` (or ``kill`` and ``start``), as a production broker does.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from workers.embedded.broker import LoopbackBroker, free_port
from workers.embedded.exceptions import EmbeddedBrokerError

LIBS_ENV = "ESCALATOR_KAFKA_LIBS"
JAVA_ENV = "ESCALATOR_JAVA"
INSTALL_HINT = "Debian/Ubuntu: `apt-get install maven openjdk-17-jre-headless`"
START_TIMEOUT_SECONDS = 90.0
FETCH_TIMEOUT_SECONDS = 600.0
# Written once every jar is in place: a fetch cut short is never taken for a complete one.
COMPLETE_MARKER = ".complete"
# What the broker logs once it serves clients (kafka.server.KafkaRaftServer).
STARTED_LINE = b"Kafka Server started"
HEAP = ("-Xms128m", "-Xmx768m")

# Settings of a one-node cluster: internal topics with one replica, group joins answered at
# once (no 3 s wait for more members), the log cleaner looking for work every second, and
# consumer session timeouts down to one second allowed (the fault tests use short ones).
SINGLE_NODE_DEFAULTS: dict[str, str] = {
    "num.partitions": "1",
    "auto.create.topics.enable": "true",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    "log.cleaner.backoff.ms": "1000",
}


def _resource(name: str) -> Path:
    return Path(str(resources.files("workers.embedded") / "kafka" / name))


def java_binary() -> Path:
    """``$ESCALATOR_JAVA``, else ``$JAVA_HOME/bin/java``, else ``java`` on the PATH."""
    override = os.environ.get(JAVA_ENV)
    java_home = os.environ.get("JAVA_HOME")
    found = override or (
        str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    )
    if not found or not Path(found).is_file():
        raise EmbeddedBrokerError(f"Apache Kafka needs Java 17 or later ({INSTALL_HINT})")
    return Path(found)


def kafka_libs(announce: Callable[[str], object] | None = None) -> Path:
    """The folder of the broker's jars, fetched from Maven Central the first time (said
    through ``announce`` first: it takes a minute)."""
    override = os.environ.get(LIBS_ENV)
    if override:
        libs = Path(override)
    else:
        pom = _resource("pom.xml")
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        libs = cache / "escalator" / f"kafka-{digest}"
    if not (libs / COMPLETE_MARKER).is_file():
        if announce is not None:
            announce(f"fetching Apache Kafka's jars from Maven Central into {libs} (once)...")
        _fetch_jars(libs)
    return libs


def _fetch_jars(libs: Path) -> None:
    """Copy the pom's dependencies into ``libs``: into a folder beside it, renamed into place
    when complete, so an interrupted fetch leaves nothing that looks usable."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EmbeddedBrokerError(
            f"fetching Apache Kafka from Maven Central needs Maven ({INSTALL_HINT})"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{libs.name}-", dir=libs.parent))
    try:
        fetched = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--quiet",
                "--file",
                str(_resource("pom.xml")),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT_SECONDS,
            check=False,
        )
        if fetched.returncode != 0:
            raise EmbeddedBrokerError(
                "could not fetch Apache Kafka's jars from Maven Central "
                f"(mvn exited with {fetched.returncode}): {fetched.stdout[-2000:]}"
                f"{fetched.stderr[-2000:]}"
            )
        (staging / COMPLETE_MARKER).write_text("")
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def random_cluster_id() -> str:
    """A cluster id as Kafka writes one: a random UUID, base64url without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaBroker(LoopbackBroker):
    """One Apache Kafka node (broker and controller) on loopback ports; a context manager that
    always stops it. ``start`` after ``stop`` or ``kill`` brings it back with its log."""

    profile = "kafka"
    stop_timeout_seconds = 30.0

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(port, host)
        self.workdir = workdir
        self.controller_port = free_port(host)
        self.overrides = dict(overrides or {})

    @property
    def log_path(self) -> Path:
        """The broker's own log (appended to across restarts)."""
        return self.workdir / "kafka.log"

    @property
    def _config_path(self) -> Path:
        return self.workdir / "server.properties"

    def properties(self) -> dict[str, str]:
        """The broker's configuration: a one-node KRaft cluster on this node's ports."""
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:"
                f"{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            **SINGLE_NODE_DEFAULTS,
            **self.overrides,
        }

    def start(self) -> "KafkaBroker":
        """Start the node (formatting its storage the first time) and wait until it serves."""
        java, libs = java_binary(), kafka_libs()
        classpath = str(libs / "*")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._config_path.write_text(
            "".join(f"{key}={value}\n" for key, value in self.properties().items())
        )
        if not (self.workdir / "data" / "meta.properties").is_file():
            self._format(java, classpath)
        started_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._spawn(
            [
                str(java),
                *HEAP,
                "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{_resource('log4j.properties')}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(self._config_path),
            ],
            self.log_path,
        )
        self._wait_started(started_from)
        return self

    def _format(self, java: Path, classpath: str) -> None:
        formatted = subprocess.run(
            [
                str(java),
                f"-Dlog4j.configuration=file:{_resource('log4j.properties')}",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                random_cluster_id(),
                "--config",
                str(self._config_path),
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
        if formatted.returncode != 0:
            raise EmbeddedBrokerError(
                f"formatting Kafka's storage failed: {formatted.stdout[-1500:]}"
                f"{formatted.stderr[-1500:]}"
            )

    def _wait_started(self, log_offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = self._exit_code()
            if code is not None:
                raise EmbeddedBrokerError(
                    f"Apache Kafka exited with code {code}; see {self.log_path}"
                )
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                if STARTED_LINE in log.read():
                    return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedBrokerError(
            f"Apache Kafka did not start on {self.bootstrap} within {START_TIMEOUT_SECONDS}s; "
            f"see {self.log_path}"
        )
