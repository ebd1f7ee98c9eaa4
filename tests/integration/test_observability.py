"""Watching a running worker: /metrics, JSON logs and the session view across workers."""

import json
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Deployment, chat, wait_for
from workers.embedded import WorkerProcess
from workers.metrics import CONTENT_TYPE
from workers.redaction import Redactor

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@example.com"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(worker: WorkerProcess) -> tuple[str, Samples]:
    """(content type, every sample by name and sorted labels) of the worker's /metrics."""
    with urllib.request.urlopen(worker.web_url + "/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return content_type, found


def series(found: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in found.items() if sample == name}


def asks_for_a_person(session: str, second: int) -> list[dict[str, Any]]:
    return [
        chat(session, f"{session}-1", "Hi, my parcel has not arrived", second=second),
        chat(session, f"{session}-2", "Let me talk to a human please", second=second + 5),
    ]


def test_metrics_count_events_escalations_dead_letters_and_queue_depth(
    deployment: Deployment,
) -> None:
    worker = deployment.start_worker()
    escalating = ["s-metrics-a", "s-metrics-b"]
    events = [event for n, s in enumerate(escalating) for event in asks_for_a_person(s, n)]
    events.append(chat("s-metrics-calm", "c-1", "What are your opening hours?", second=3))
    deployment.send(events)
    deployment.send_raw([(b"s-metrics-bad", b"{not json")])
    assert wait_for(lambda: len(deployment.queue_entries()) == len(escalating))
    assert wait_for(lambda: worker.get_json("/stats")[1].get("dead_letters") == 1)

    content_type, found = scrape(worker)
    assert content_type == CONTENT_TYPE
    assert found[("escalator_events_total", (("type", "message"),))] == len(events)
    human = (("queue", "general"), ("reason", "human_requested"))
    assert found[("escalator_escalations_total", human)] == len(escalating)
    assert found[("escalator_dead_letters_total", (("reason", "malformed_json"),))] == 1
    assert found[("escalator_open_sessions", ())] == len(escalating) + 1
    assert found[("escalator_queue_depth", (("priority", "2"), ("queue", "general")))] == 2
    assert found[("escalator_produce_to_queue_seconds_count", ())] == len(escalating)
    assert found[("escalator_decision_seconds_count", ())] == len(events)
    assert sum(series(found, "escalator_decisions_total").values()) == len(events)

    # Every assigned input partition has a lag; once Faust commits, lag is 0 and the offsets
    # add up to the records read (events plus the bad record) on the chat topic.
    lag = series(found, "escalator_consumer_lag")
    chat_partitions = {labels for labels in lag if ("topic", deployment.chat_topic) in labels}
    assert len(chat_partitions) == 4

    def caught_up() -> bool:
        _, now = scrape(worker)
        committed = series(now, "escalator_committed_offset")
        on_chat = [
            v for labels, v in committed.items() if ("topic", deployment.chat_topic) in labels
        ]
        chat_lag = [
            v
            for labels, v in series(now, "escalator_consumer_lag").items()
            if ("topic", deployment.chat_topic) in labels
        ]
        return sum(on_chat) == len(events) + 1 and not any(chat_lag)

    assert wait_for(caught_up)


def test_json_logs_are_one_redacted_object_a_line(deployment: Deployment) -> None:
    deployment.extra_env["ESCALATOR_LOG_FORMAT"] = "json"
    worker = deployment.start_worker()
    # Session ids are the chat system's: this one holds an email address, and the worker logs
    # session ids in its messages and as a field of their own.
    session = f"s-{EMAIL}"
    deployment.send(asks_for_a_person(session, 0))
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    worker.stop()

    raw = worker.log_path.read_text()
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert len(lines) > 10
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert {"faust.worker", "escalator.pipeline"} <= {line["logger"] for line in lines}
    assert EMAIL not in raw
    shown = Redactor().redact(session)
    assert shown != session
    escalated = [line for line in lines if line.get("session_id") == shown]
    assert any("escalation_id" in line and "[email]" in line["message"] for line in escalated)


def test_every_worker_answers_for_every_session(deployment: Deployment) -> None:
    first = deployment.start_worker()
    second = deployment.start_worker()
    first.wait_ready()
    sessions = [f"s-iq-{n}" for n in range(12)]
    events = [
        chat(session, f"{session}-1", f"My order 10{n} is late, write to {EMAIL}", second=n)
        for n, session in enumerate(sessions)
    ]
    events += asks_for_a_person(sessions[0], 20)
    deployment.send(events)

    def everywhere() -> bool:
        return all(
            worker.get_json(f"/sessions/{session}")[0] == 200
            for worker in (first, second)
            for session in sessions
        )

    assert wait_for(everywhere, timeout=60)
    for session in sessions:
        status_first, body_first = first.get_json(f"/sessions/{session}")
        status_second, body_second = second.get_json(f"/sessions/{session}")
        assert (status_first, status_second) == (200, 200)
        assert body_first == body_second
        assert body_first["session_id"] == session
        assert EMAIL not in json.dumps(body_first)
        assert "[email]" in body_first["goal"]
    # Each worker holds some of the sessions: half the answers were forwarded.
    counts = [scrape(worker)[1][("escalator_open_sessions", ())] for worker in (first, second)]
    assert sum(counts) == len(sessions)
    assert all(counts)

    decision = first.get_json(f"/sessions/{sessions[0]}")[1]["decision"]
    assert decision["escalation"]["reasons"] == ["human_requested"]
    assert decision["matrix"]["verdict"] in {"ai_safe", "watch", "human_required"}
    assert first.get_json("/health") == (200, {"alive": True})
    assert second.get_json("/sessions/s-iq-unknown")[0] == 404
