"""Static checks of the deployment description (Dockerfile and docker-compose.yml).

Docker cannot run on the development machines, so instead of starting the stack these tests
check its structure, that every image is pinned, and that the Compose file is valid against
the Compose specification schema (via check-jsonschema). The monitoring files it mounts are
checked with promtool in test_ops_monitoring.py.
"""

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from workers.settings import Settings
from workers.stream.app import build_app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"
WORKER_DATA_DIR = "/var/lib/escalator"

TOPICS = (
    "chat-events",
    "escalations",
    "chat-events-dead-letters",
    "handoff-events",
    "escalator-ticks",
    "bot-control",
)
REQUIRED_SERVICES = ("kafka", "kafka-init", "redis", "worker", "prometheus", "grafana")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml must be a mapping"
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services mapping"
    return services


def _service(name: str) -> dict[str, Any]:
    service = _services().get(name)
    assert isinstance(service, dict), f"service {name!r} is missing"
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whether written as a mapping or KEY=VALUE list."""
    raw: object = service.get("environment", {})
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(key): "" if value is None else str(value) for key, value in raw.items()}
    if isinstance(raw, list):
        env: dict[str, str] = {}
        for item in raw:
            key, _, value = str(item).partition("=")
            env[key] = value
        return env
    raise AssertionError(f"environment must be a mapping or a list, not {type(raw).__name__}")


def _command_text(service: dict[str, Any]) -> str:
    """entrypoint and command of a service joined into one string, in either YAML form."""
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value: object = service.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(item) for item in value)
    return " ".join(parts)


def _is_pinned(image: str) -> bool:
    """True for ``name:tag`` (tag not ``latest``) or ``name@sha256:...`` references."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return bool(tag) and tag != "latest" and "$" not in tag


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw_line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _arguments_of(keyword: str) -> list[str]:
    """Arguments of every Dockerfile instruction named ``keyword``, in order."""
    return [arguments for name, arguments in _dockerfile_instructions() if name == keyword]


def test_required_services_exist() -> None:
    services = _services()
    for name in REQUIRED_SERVICES:
        assert name in services, f"service {name!r} is missing"


def test_no_top_level_version_key() -> None:
    assert "version" not in _compose(), "the Compose spec has no top-level version key"


def test_kafka_is_pinned_apache_kafka() -> None:
    image = str(_service("kafka").get("image", ""))
    assert image.startswith("apache/kafka:"), image
    assert _is_pinned(image), image


def test_kafka_runs_in_kraft_mode() -> None:
    env = _environment(_service("kafka"))
    roles = {role.strip() for role in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
    assert {"broker", "controller"} <= roles, env.get("KAFKA_PROCESS_ROLES")
    for key in (
        "KAFKA_NODE_ID",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "CLUSTER_ID",
    ):
        assert env.get(key), f"kafka: {key} is not set"
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false"


def test_kafka_advertises_its_service_name() -> None:
    env = _environment(_service("kafka"))
    assert "kafka:9092" in env.get("KAFKA_ADVERTISED_LISTENERS", "")


def test_kafka_keeps_data_in_a_named_volume() -> None:
    volumes = _service("kafka").get("volumes", [])
    named = set(_compose().get("volumes") or {})
    sources = {str(volume).split(":", 1)[0] for volume in volumes if isinstance(volume, str)}
    assert sources & named, f"kafka has no named volume: {volumes!r}"


def test_no_zookeeper_anywhere() -> None:
    # The parsed document, so a comment saying "no ZooKeeper" does not count.
    assert "zookeeper" not in yaml.safe_dump(_compose()).lower()


def test_kafka_init_creates_the_topics() -> None:
    service = _service("kafka-init")
    command = _command_text(service)
    assert "kafka-topics.sh" in command
    assert "--if-not-exists" in command
    created = re.findall(r"--topic\s+([\w.-]+)", command.replace("\\\n", " "))
    for topic in TOPICS:
        assert topic in created, f"kafka-init does not create {topic!r}"
    assert _is_pinned(str(service.get("image", ""))), service.get("image")
    depends_on = service.get("depends_on")
    assert isinstance(depends_on, dict), "kafka-init must wait for a healthy kafka"
    assert depends_on["kafka"]["condition"] == "service_healthy"


def test_kafka_init_partitions_match_worker_partitions() -> None:
    tokens = shlex.split(_command_text(_service("kafka-init")).replace("\\\n", " "))
    partitions = {tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token == "--partitions"}
    worker_partitions = _environment(_service("worker")).get("ESCALATOR_PARTITIONS")
    assert partitions == {worker_partitions}, (partitions, worker_partitions)


def test_redis_uses_append_only_file() -> None:
    service = _service("redis")
    assert _is_pinned(str(service.get("image", ""))), service.get("image")
    tokens = shlex.split(_command_text(service))
    assert "--appendonly" in tokens, tokens
    assert tokens[tokens.index("--appendonly") + 1] == "yes", tokens
    assert service.get("volumes"), "redis needs a volume for its append-only file"


def test_worker_builds_from_the_dockerfile() -> None:
    build: object = _service("worker").get("build")
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        assert isinstance(build, dict), "worker must be built from the repository"
        context = str(build.get("context", "."))
        dockerfile = str(build.get("dockerfile", "Dockerfile"))
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


def test_worker_environment() -> None:
    env = _environment(_service("worker"))
    assert env.get("ESCALATOR_BROKER_PROFILE") == "kafka"
    assert re.fullmatch(r"kafka://kafka:\d+", env.get("ESCALATOR_BROKER_URL", "")), env
    assert re.fullmatch(r"rediss?://([^@/]*@)?redis:\d+(/\d+)?", env.get("ESCALATOR_REDIS_URL", ""))
    assert env.get("ESCALATOR_WEB_HOST") == "0.0.0.0"


def test_worker_is_replicated_without_fixed_ports() -> None:
    service = _service("worker")
    deploy = service.get("deploy") or {}
    assert int(deploy.get("replicas", 1)) >= 2, deploy
    assert not service.get("ports"), "replicas cannot share a published host port"


def test_worker_waits_for_topics_and_redis() -> None:
    depends_on = _service("worker").get("depends_on")
    assert isinstance(depends_on, dict), depends_on
    assert depends_on["kafka-init"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_every_image_is_pinned() -> None:
    for name, service in _services().items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"service {name!r} has neither image nor build"
            continue
        assert _is_pinned(str(image)), f"service {name!r} uses an unpinned image {image!r}"


def test_compose_file_matches_the_compose_spec() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), f"check-jsonschema is missing next to {sys.executable}: make test"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_base_images_are_pinned() -> None:
    stages: set[str] = set()
    froms = _arguments_of("FROM")
    assert froms, "Dockerfile has no FROM"
    assert len(froms) >= 2, "Dockerfile should be multi-stage (build, then runtime)"
    for arguments in froms:
        words = [word for word in arguments.split() if not word.startswith("--")]
        image = words[0]
        if image not in stages:
            assert _is_pinned(image), f"unpinned base image {image!r}"
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])


def test_dockerfile_runs_as_non_root() -> None:
    users = _arguments_of("USER")
    assert users, "Dockerfile has no USER instruction"
    user = users[-1].split(":", 1)[0]
    assert user not in {"root", "0"}, f"the image runs as {users[-1]!r}"


def test_dockerfile_entrypoint_is_escalator() -> None:
    entrypoints = _arguments_of("ENTRYPOINT")
    assert entrypoints, "Dockerfile has no ENTRYPOINT"
    assert entrypoints[-1] == '["escalator"]', entrypoints[-1]
    commands = _arguments_of("CMD")
    assert commands, "Dockerfile has no CMD"
    assert commands[-1] == '["worker"]', commands[-1]


def test_dockerfile_health_check_probes_the_web_server() -> None:
    checks = _arguments_of("HEALTHCHECK")
    assert checks, "Dockerfile has no HEALTHCHECK"
    assert "urllib" in checks[-1]
    assert "127.0.0.1" in checks[-1]
    env = " ".join(_arguments_of("ENV"))
    assert "ESCALATOR_WEB_HOST=0.0.0.0" in env
    assert "ESCALATOR_WEB_PORT=6066" in env


def _kafka_init_topics() -> dict[str, list[str]]:
    """Each topic kafka-init creates, with the arguments of its kafka-topics.sh --create."""
    tokens = shlex.split(_command_text(_service("kafka-init")).replace("\\\n", " "))
    created: dict[str, list[str]] = {}
    for start, token in enumerate(tokens):
        if token != "--create":
            continue
        end = next(
            (i for i in range(start + 1, len(tokens)) if tokens[i].endswith("kafka-topics.sh")),
            len(tokens),
        )
        arguments = tokens[start:end]
        created[arguments[arguments.index("--topic") + 1]] = arguments
    return created


def _option(arguments: list[str], name: str) -> list[str]:
    return [arguments[i + 1] for i, token in enumerate(arguments[:-1]) if token == name]


def test_every_table_changelog_is_created_compacted_with_the_table_partitions() -> None:
    """The topics Faust itself names for the worker's tables, compacted, one partition per
    chat-events partition: created by kafka-init instead of implicitly by the first worker."""
    env = _environment(_service("worker"))
    settings = Settings(
        app_id=env.get("ESCALATOR_APP_ID", "escalator"),
        partitions=int(env["ESCALATOR_PARTITIONS"]),
    )
    tables = list(build_app(settings).app.tables.values())
    assert len(tables) == 2  # sessions, applied-offsets
    created = _kafka_init_topics()
    for table in tables:
        changelog = table.changelog_topic
        name = changelog.get_topic_name()
        assert name in created, f"kafka-init does not create the table changelog {name!r}"
        arguments = created[name]
        assert _option(arguments, "--partitions") == [str(changelog.partitions)]
        assert _option(arguments, "--partitions") == _option(created["chat-events"], "--partitions")
        assert "cleanup.policy=compact" in _option(arguments, "--config"), arguments
        assert changelog.compacting, "Faust no longer declares the changelog as compacted"


def test_worker_keeps_its_rocksdb_store_on_its_own_volume() -> None:
    service = _service("worker")
    env = _environment(service)
    assert env.get("ESCALATOR_STORE") == "rocksdb://"
    assert env.get("ESCALATOR_DATA_DIR") == WORKER_DATA_DIR
    volumes = [str(volume) for volume in service.get("volumes", [])]
    # Anonymous (no source): one volume per replica; a named one would be shared.
    assert WORKER_DATA_DIR in volumes, volumes


def test_worker_logs_json() -> None:
    assert _environment(_service("worker")).get("ESCALATOR_LOG_FORMAT") == "json"


def test_prometheus_loads_the_rules_and_publishes_on_loopback_only() -> None:
    service = _service("prometheus")
    assert str(service.get("image", "")).startswith("prom/prometheus:v"), service.get("image")
    mounts = {
        str(volume).split(":")[1]: str(volume).split(":")[0]
        for volume in service.get("volumes", [])
    }
    assert (ROOT / mounts["/etc/prometheus"]).resolve() == ROOT / "ops" / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in service.get("command", [])
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port


def test_prometheus_scrapes_every_worker_replica() -> None:
    config = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    escalator = jobs["escalator"]
    assert escalator.get("metrics_path", "/metrics") == "/metrics"
    (discovery,) = escalator["dns_sd_configs"]
    assert discovery["names"] == ["worker"]
    assert discovery["type"] == "A"
    assert str(discovery["port"]) == _environment(_service("worker"))["ESCALATOR_WEB_PORT"]
    assert config["rule_files"] == ["alerts.yml"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    service = _service("grafana")
    assert str(service.get("image", "")).startswith("grafana/grafana:"), service.get("image")
    mounts = {
        str(volume).split(":")[1]: str(volume).split(":")[0]
        for volume in service.get("volumes", [])
    }
    provisioning = (ROOT / mounts["/etc/grafana/provisioning"]).resolve()
    assert provisioning == ROOT / "ops" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((provisioning / "dashboards" / "escalator.yml").read_text())
    (provider,) = providers["providers"]
    dashboards = (ROOT / mounts[provider["options"]["path"]]).resolve()
    assert (dashboards / "escalator.json").is_file(), dashboards
    env = _environment(service)
    # No default admin password: compose refuses to start until one is given.
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), port


def test_dockerfile_base_images_name_a_full_version() -> None:
    for arguments in _arguments_of("FROM"):
        image = arguments.split()[0]
        if ":" in image:
            assert re.search(r":\d+\.\d+\.\d+", image), f"{image!r} is not pinned to x.y.z"


def test_dockerfile_installs_the_rocksdb_extra_that_pyproject_defines() -> None:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    installs = " ".join(_arguments_of("RUN"))
    named = set(re.findall(r"\[(\w+)\]", installs))
    assert "rocksdb" in named, installs
    for extra in named:
        assert extra in extras, f"the Dockerfile installs {extra!r}, which pyproject lacks"
    assert any("rocksdict" in requirement for requirement in extras["rocksdb"])


def test_dockerfile_health_check_uses_a_health_endpoint() -> None:
    (check,) = _arguments_of("HEALTHCHECK")[-1:]
    assert re.search(r"'/(health|ready)'", check), check


def test_dockerfile_carries_no_secrets() -> None:
    secret_names = re.compile(r"(PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY)", re.IGNORECASE)
    for keyword in ("ENV", "ARG", "LABEL"):
        for arguments in _arguments_of(keyword):
            assert not secret_names.search(arguments), f"{keyword} {arguments}"
    copied = " ".join(_arguments_of("COPY") + _arguments_of("ADD"))
    assert ".env" not in copied, copied
    ignored = DOCKERIGNORE.read_text().split()
    for pattern in (".env", ".env.*", ".git", ".venv"):
        assert pattern in ignored, f".dockerignore must exclude {pattern}"
