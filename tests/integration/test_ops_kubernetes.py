"""The Kubernetes manifests of ops/k8s, validated offline against the Kubernetes JSON schemas.

kubernetes-validate bundles the OpenAPI-derived schemas of each Kubernetes release; strict
mode also rejects unknown fields, so a misspelt probe or securityContext key fails here
instead of being silently ignored by a cluster. The rest checks what the schemas cannot: that
the pieces fit together (selectors, ports, the Secret's keys, the data volume, probes).
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import (  # type: ignore[import-untyped]
    ValidationError,
    latest_version,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "ops" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SECRET_TEMPLATE = K8S / "secret.example.yaml"
# The oldest release still in common use, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", latest_version())
IMAGE_USER = 10001  # the Dockerfile's USER


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path != KUSTOMIZATION)


def _resources() -> list[dict[str, Any]]:
    return [doc for path in _manifest_files() for doc in _documents(path)]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for doc in _resources()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _statefulset() -> dict[str, Any]:
    return _one("StatefulSet")


def _worker_container() -> dict[str, Any]:
    (container,) = _statefulset()["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _config() -> dict[str, str]:
    data = _one("ConfigMap", "escalator-config")["data"]
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", _manifest_files(), ids=lambda path: path.name)
def test_manifest_matches_the_kubernetes_schema(path: Path, version: str) -> None:
    for document in _documents(path):
        validate(document, version, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    broken = _statefulset()
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(ValidationError, match="readinesProbe"):
        validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    kustomization = _documents(KUSTOMIZATION)[0]
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    expected = {path.name for path in _manifest_files()} - {SECRET_TEMPLATE.name}
    assert set(listed) == expected
    for resource in _resources():
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == kustomization["namespace"]
    (image,) = kustomization["images"]
    assert image["name"] == _worker_container()["image"].split(":")[0]
    assert image["newTag"] not in {"", "latest"}


def test_the_secret_template_holds_placeholders_that_the_workers_reference() -> None:
    (secret,) = _documents(SECRET_TEMPLATE)
    values = secret["stringData"]
    for key, value in values.items():
        assert "CHANGE-ME" in value, f"{key} must be a placeholder, not a real secret"
    references = {
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"]): env[
            "name"
        ]
        for env in _worker_container()["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert {key for _name, key in references} == set(values)
    assert {name for name, _key in references} == {secret["metadata"]["name"]}
    assert set(references.values()) == {"ESCALATOR_REDIS_URL", "ESCALATOR_KAFKA_SASL_PASSWORD"}


def test_the_config_map_holds_no_credentials() -> None:
    for key, value in _config().items():
        assert not re.search(r"PASSWORD|SECRET|TOKEN", key), key
        assert "@" not in value, f"{key} looks like a URL with credentials"


def test_the_worker_image_is_pinned() -> None:
    image = _worker_container()["image"]
    name, _, tag = image.rpartition(":")
    assert name, f"{image} has no tag"
    assert tag not in {"", "latest"}, image


def test_probes_use_the_health_endpoints_on_the_web_port() -> None:
    container = _worker_container()
    (port,) = container["ports"]
    assert port["containerPort"] == int(_config()["ESCALATOR_WEB_PORT"])
    # Bound to the pod's address, which is also the address Faust announces for forwarding.
    (web_host,) = [env for env in container["env"] if env["name"] == "ESCALATOR_WEB_HOST"]
    assert web_host["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert "ESCALATOR_WEB_HOST" not in _config()
    expected = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
    for probe, path in expected.items():
        action = container[probe]["httpGet"]
        assert action["path"] == path, probe
        assert action["port"] == port["name"], probe
    startup = container["startupProbe"]
    # Recovering a large table on first start must not count as a hung process.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_resources_are_requested_and_limited() -> None:
    resources = _worker_container()["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind


def test_pods_run_unprivileged_with_a_read_only_root() -> None:
    pod = _statefulset()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == IMAGE_USER
    assert pod["securityContext"]["fsGroup"] == IMAGE_USER
    assert pod["automountServiceAccountToken"] is False
    container = _worker_container()["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_the_rocksdb_store_lives_on_a_per_pod_volume() -> None:
    statefulset = _statefulset()
    assert _config()["ESCALATOR_STORE"] == "rocksdb://"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {mount["mountPath"]: mount["name"] for mount in _worker_container()["volumeMounts"]}
    assert mounts[_config()["ESCALATOR_DATA_DIR"]] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_no_more_workers_than_partitions() -> None:
    assert _statefulset()["spec"]["replicas"] <= int(_config()["ESCALATOR_PARTITIONS"])


def test_services_and_the_disruption_budget_select_the_workers() -> None:
    statefulset = _statefulset()
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    selector = statefulset["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    headless = _one("Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    port_name = _worker_container()["ports"][0]["name"]
    for service in (headless, _one("Service", "escalator")):
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert [port["targetPort"] for port in service["spec"]["ports"]] == [port_name]
    budget = _one("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_pods_are_annotated_for_prometheus() -> None:
    annotations = _statefulset()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == _config()["ESCALATOR_WEB_PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"
