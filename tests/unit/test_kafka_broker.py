"""The Apache Kafka launcher's pure parts: cluster ids, configuration, where its jars live, and
the clear errors when Java or Maven is missing (starting it for real: tests/integration)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.embedded import EmbeddedBrokerError, KafkaBroker
from workers.embedded.kafka_broker import (
    COMPLETE_MARKER,
    JAVA_ENV,
    LIBS_ENV,
    java_binary,
    kafka_libs,
    random_cluster_id,
)
from workers.settings import load_settings
from workers.stream.app import faust_options

ESCALATOR = str(Path(sys.executable).parent / "escalator")


def test_a_cluster_id_is_a_uuid_in_base64url_without_padding() -> None:
    ids = {random_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert "=" not in cluster_id
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


@given(st.dictionaries(st.sampled_from(["num.partitions", "log.retention.ms"]), st.text("0123")))
def test_the_node_is_broker_and_controller_on_its_own_ports(overrides: dict[str, str]) -> None:
    node = KafkaBroker(Path("/tmp/kafka-node"), port=19092, overrides=overrides)
    config = node.properties()
    assert config["process.roles"] == "broker,controller"
    assert config["controller.quorum.voters"] == f"1@127.0.0.1:{node.controller_port}"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert node.controller_port != node.port
    assert config["log.dirs"] == "/tmp/kafka-node/data"
    assert config["offsets.topic.replication.factor"] == "1"
    for key, value in overrides.items():
        assert config[key] == value
    assert node.url == "kafka://127.0.0.1:19092"
    assert node.profile == "kafka"


def test_jars_already_fetched_are_used_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / COMPLETE_MARKER).write_text("")
    monkeypatch.setenv(LIBS_ENV, str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")  # no mvn: nothing may be fetched
    announced: list[str] = []
    assert kafka_libs(announced.append) == tmp_path
    assert announced == []


def test_without_maven_a_fetch_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIBS_ENV, str(tmp_path / "libs"))
    monkeypatch.setenv("PATH", "/nonexistent")
    announced: list[str] = []
    with pytest.raises(EmbeddedBrokerError, match=r"needs Maven .*apt-get install maven"):
        kafka_libs(announced.append)
    assert announced == [
        f"fetching Apache Kafka's jars from Maven Central into {tmp_path / 'libs'} (once)..."
    ]
    assert not (tmp_path / "libs").exists(), "nothing that looks fetched is left behind"


def test_without_java_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JAVA_ENV, "/nonexistent/java")
    with pytest.raises(EmbeddedBrokerError, match="needs Java 17 or later"):
        java_binary()


def test_escalator_broker_kafka_without_java_exits_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / COMPLETE_MARKER).write_text("")
    result = subprocess.run(
        [ESCALATOR, "broker", "--kafka", "--data", str(tmp_path / "data")],
        env={**os.environ, LIBS_ENV: str(tmp_path), JAVA_ENV: "/nonexistent/java"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Apache Kafka needs Java 17 or later" in result.stderr


def test_a_group_instance_id_reaches_faust_and_an_empty_one_means_none() -> None:
    assert (
        faust_options(load_settings(group_instance_id="worker-0"))["consumer_group_instance_id"]
        == "worker-0"
    )
    assert load_settings(group_instance_id="").group_instance_id is None
    assert faust_options(load_settings())["consumer_group_instance_id"] is None
