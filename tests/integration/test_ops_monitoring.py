"""The monitoring files (ops/prometheus, ops/grafana, ops/runbook.md) checked by real tools.

promtool (Debian's prometheus package; .ci/run installs it) parses the rules and the
Prometheus configuration, runs the alert unit tests, and parses every dashboard query. The
tests fail, never skip, when it is missing. Every metric a rule or a panel names must be in
the metric contract the workers expose.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "escalator.json"
DATASOURCES = ROOT / "ops" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RUNBOOK = ROOT / "ops" / "runbook.md"

COUNTERS = {
    "escalator_events_total",
    "escalator_duplicate_events_total",
    "escalator_dead_letters_total",
    "escalator_decisions_total",
    "escalator_escalations_total",
    "escalator_sla_breaches_total",
    "escalator_handoff_outcomes_total",
    "escalator_sessions_ended_total",
    "escalator_sessions_dropped_total",
    "escalator_escalations_withdrawn_total",
    "escalator_redis_errors_total",
    "escalator_bot_commands_total",
}
GAUGES = {
    "escalator_containment_ratio",
    "escalator_open_sessions",
    "escalator_queue_depth",
    "escalator_consumer_lag",
    "escalator_committed_offset",
}
HISTOGRAMS = {"escalator_decision_seconds", "escalator_produce_to_queue_seconds"}
# The metric contract, as series names; `up` is Prometheus's own per-target series.
CONTRACT = (
    COUNTERS
    | GAUGES
    | {f"{name}_{suffix}" for name in HISTOGRAMS for suffix in ("bucket", "sum", "count")}
    | {"up"}
)
# What an operator needs on the dashboard (each must appear in some panel).
DASHBOARD_METRICS = {
    "escalator_events_total",
    "escalator_decisions_total",
    "escalator_escalations_total",
    "escalator_queue_depth",
    "escalator_produce_to_queue_seconds_bucket",
    "escalator_dead_letters_total",
    "escalator_consumer_lag",
    "escalator_open_sessions",
    "escalator_containment_ratio",
    "escalator_handoff_outcomes_total",
    "escalator_sla_breaches_total",
    "escalator_redis_errors_total",
}
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
}
# Grafana's built-in variables, replaced by a plain duration so promtool can parse the query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail (not skip) when it is not installed."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is missing: apt-get install -y --no-install-recommends prometheus "
            "(.ci/run does this)"
        )
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False, timeout=120)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, keywords and labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", text):
        followed_by = text[match.end() :].lstrip()
        if followed_by.startswith("("):
            continue  # a function call
        if match.group().lower() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def _github_anchor(heading: str) -> str:
    """The anchor a Markdown renderer such as GitHub's gives a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    return {_github_anchor(heading) for heading in headings}


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (queue) (rate(a_total{reason="x", le=~"0.1"}[5m] offset 1d)) '
        "/ on () group_left () (b_gauge or vector(0)) > 2 * histogram_quantile(0.9, c_bucket)"
    )
    assert metric_names(expr) == {"a_total", "b_gauge", "c_bucket"}


def test_alert_rules_pass_promtool() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alert_rules())} rules found" in result.stdout


def test_alert_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_shown_to_fire_and_to_stay_quiet() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    assert tests["rule_files"] == [ALERTS.name]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in _alert_rules()}
    assert alerts - fires == set(), "alerts without a test that makes them fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"


def test_the_alerts_cover_the_operational_risks() -> None:
    alerts = {rule["alert"] for rule in _alert_rules()}
    assert {
        "EscalatorNoWorkerUp",
        "EscalatorWorkerDown",
        "EscalatorConsumerLagHigh",
        "EscalatorConsumerLagGrowing",
        "EscalatorCommitsStalled",
        "EscalatorDeadLettersHigh",
        "EscalatorEscalationRateSpike",
        "EscalatorEscalationRateDrop",
        "EscalatorSlaBreaches",
        "EscalatorRedisErrors",
        "EscalatorDecisionLatencyHigh",
    } <= alerts


def test_every_alert_explains_itself_and_links_its_runbook_section() -> None:
    anchors = _runbook_anchors()
    for rule in _alert_rules():
        name = rule["alert"]
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key), f"{name}: no {key}"
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "ops/runbook.md", f"{name}: {annotations['runbook_url']}"
        assert anchor == _github_anchor(name), f"{name}: anchor {anchor!r}"
        assert anchor in anchors, f"ops/runbook.md has no section {name}"


def test_the_runbook_has_no_section_for_an_alert_that_does_not_exist() -> None:
    sections = set(re.findall(r"^###\s+(Escalator\w+)\s*$", RUNBOOK.read_text(), re.MULTILINE))
    assert sections == {rule["alert"] for rule in _alert_rules()}


def test_alerts_name_only_contract_metrics() -> None:
    for rule in _alert_rules():
        unknown = metric_names(rule["expr"]) - CONTRACT
        assert not unknown, f"{rule['alert']} names metrics outside the contract: {unknown}"


def test_prometheus_config_passes_promtool_with_its_rules() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, result.stdout


def test_dashboard_panels_are_complete_and_uniquely_numbered() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"]
    assert dashboard["title"]
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["title"], panel
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] != "row":
            assert panel.get("targets"), f"{panel['title']}: no query"
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_dashboard_queries_the_provisioned_datasource() -> None:
    (datasource,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    for panel in _dashboard()["panels"]:
        for holder in [panel, *panel.get("targets", [])]:
            if "datasource" in holder:
                assert holder["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}


def test_dashboard_queries_name_only_contract_metrics() -> None:
    for title, expr in _dashboard_queries():
        unknown = metric_names(expr) - CONTRACT
        assert not unknown, f"panel {title!r} names metrics outside the contract: {unknown}"


def test_dashboard_shows_what_operators_need() -> None:
    shown = set().union(*(metric_names(expr) for _title, expr in _dashboard_queries()))
    assert DASHBOARD_METRICS - shown == set()


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool has no command for a bare expression; it parses rule expressions, so every
    query becomes a recording rule of a throwaway rules file."""
    rules = []
    for index, (title, expr) in enumerate(_dashboard_queries()):
        for variable, duration in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, duration)
        assert "$" not in expr, f"panel {title!r}: unknown variable in {expr!r}"
        rules.append({"record": f"escalator:dashboard_query_{index}", "expr": expr})
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
