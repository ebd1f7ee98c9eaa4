"""The handoff lifecycle through the real worker, broker and Redis: desks report on Kafka,
the bot is paused and resumed on Kafka, the watchdog raises what nobody accepted."""

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.escalation import Escalation, ReasonCode
from schemas.lifecycle import BotCommand, BotCommandKind
from tests.support import Deployment, at, chat, wait_for
from workers.embedded import WorkerProcess
from workers.embedded.feed import event_record

pytestmark = pytest.mark.integration


def handoff(
    session: str, event_id: str, status: str, escalation: Escalation, second: int
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "session_id": session,
        "ts": at(second),
        "type": "handoff",
        "status": status,
        "escalation_id": escalation.escalation_id,
        "agent_id": "agent-1",
    }


def commands(deployment: Deployment, minimum: int) -> list[BotCommand]:
    return [
        BotCommand.model_validate_json(value)
        for _, value in deployment.read_topic(
            deployment.bot_control_topic, minimum=minimum, timeout=30
        )
    ]


def use_policy(deployment: Deployment, tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    deployment.extra_env["ESCALATOR_POLICY_FILE"] = str(path)


def test_accept_pauses_return_resumes_and_the_cooldown_holds(
    deployment: Deployment, tmp_path: Path
) -> None:
    use_policy(deployment, tmp_path, "[handoff]\ncooldown_seconds = 3600\n")
    deployment.start_worker()
    deployment.send([chat("s-life", "c1", "I want to speak to a human", second=0)])
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    escalation = deployment.queue_entries()[0][1]

    deployment.send_raw(
        [event_record(handoff("s-life", "h1", "accepted", escalation, 5))],
        topic=deployment.handoff_topic,
    )
    paused = commands(deployment, 1)
    assert [c.command for c in paused] == [BotCommandKind.PAUSE]
    assert paused[0].escalation_id == escalation.escalation_id
    assert deployment.queue_entries() == [], "an accepted escalation leaves the queue"

    deployment.send([chat("s-life", "c2", "hello? anyone? I want an agent", second=10)])
    deployment.send_raw(
        [event_record(handoff("s-life", "h2", "returned_to_bot", escalation, 20))],
        topic=deployment.handoff_topic,
    )
    both = commands(deployment, 2)
    assert [c.command for c in both] == [BotCommandKind.PAUSE, BotCommandKind.RESUME]

    deployment.send([chat("s-life", "c3", "Let me talk to a real person please", second=30)])
    marker = chat("s-marker", "m1", "agent please", second=31)
    deployment.send([marker])
    assert wait_for(lambda: any(e.session_id == "s-marker" for _, e in deployment.queue_entries()))
    assert [e.session_id for _, e in deployment.queue_entries()] == ["s-marker"], (
        "no escalation while owned, none inside the cooldown"
    )


def test_an_escalation_nobody_accepts_is_raised_again(
    deployment: Deployment, tmp_path: Path
) -> None:
    use_policy(
        deployment,
        tmp_path,
        "[handoff]\nsla_seconds = 1\noverflow_after_breaches = 1\nmax_sla_breaches = 1\n",
    )
    deployment.start_worker()
    deployment.send([chat("s-sla", "c1", "Can I talk to someone please", second=0)])
    assert wait_for(
        lambda: any(ReasonCode.SLA_BREACH in e.reasons for _, e in deployment.queue_entries()),
        timeout=30,
    )
    entries = deployment.queue_entries()
    assert len(entries) == 1, "the breach replaces the original entry"
    stream, raised = entries[0]
    assert stream == deployment.keys.queue_stream("supervisor", 1)
    assert raised.reasons == [ReasonCode.SLA_BREACH, ReasonCode.HUMAN_REQUESTED]
    notices = commands(deployment, 1)
    assert [c.command for c in notices] == [BotCommandKind.NOTIFY_CUSTOMER]
    assert notices[0].message


def test_session_end_removes_state_and_the_waiting_entry(deployment: Deployment) -> None:
    worker = deployment.start_worker()
    deployment.send([chat("s-end", "c1", "agent please", second=0)])
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    assert worker.get_json("/sessions/s-end")[0] == 200
    deployment.send(
        [
            {
                "event_id": "end",
                "session_id": "s-end",
                "ts": at(5),
                "type": "session",
                "action": "ended",
            }
        ]
    )
    assert wait_for(lambda: worker.get_json("/sessions/s-end")[0] == 404)
    assert deployment.queue_entries() == []
    assert (
        json.loads(json.dumps(worker.get_json("/sessions/s-end")[1]))["error"] == "unknown session"
    )


TWO_DAYS = 2 * 24 * 3600


def metric(worker: WorkerProcess, name: str) -> dict[str, float]:
    """A counter's samples on the worker's /metrics, by their ``reason`` label."""
    with urllib.request.urlopen(worker.web_url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def log_lines(worker: WorkerProcess, *words: str) -> list[str]:
    """The worker's log lines that contain every one of ``words``."""
    text = worker.log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if all(word in line for word in words)]


def test_events_days_old_escalate_and_stay_queued_until_idle_in_worker_time(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Events two days old (a backlog, replayed history): older than either idle TTL when they
    arrive, yet the escalation stays in its queue through the ticks until the session has been
    idle that long in worker time; then the state and the entry go, each logged once with the
    reason and counted by it."""
    use_policy(
        deployment,
        tmp_path,
        "[handoff]\nidle_expiry_seconds = 2\nopen_escalation_expiry_seconds = 6\n",
    )
    worker = deployment.start_worker()
    deployment.send([chat("s-old", "c1", "I want to speak to a human", second=-TWO_DAYS)])
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    escalation = deployment.queue_entries()[0][1]

    time.sleep(3)  # six ticks; the events were two days past both TTLs when they arrived
    assert deployment.queue_entries() == [(ANY, escalation)], "not withdrawn for its age"
    assert worker.get_json("/sessions/s-old")[0] == 200

    assert wait_for(lambda: deployment.queue_entries() == [])
    assert wait_for(lambda: worker.get_json("/sessions/s-old")[0] == 404)
    assert len(log_lines(worker, "session s-old state dropped: idle_expired")) == 1
    withdrawn = log_lines(worker, f"escalation {escalation.escalation_id}", "withdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0].rstrip().endswith(": idle_expired")
    assert metric(worker, "escalator_sessions_dropped_total") == {"idle_expired": 1}
    assert metric(worker, "escalator_escalations_withdrawn_total") == {"idle_expired": 1}


def test_a_backlog_older_than_its_sla_waits_the_whole_sla_from_the_enqueue(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Events processed a minute late, with an SLA of three seconds: the entry is raised again
    three seconds after it reached the queue, not at the first tick."""
    sla = 3.0
    use_policy(deployment, tmp_path, f"[handoff]\nsla_seconds = {sla}\n")
    worker = deployment.start_worker()
    deployment.send([chat("s-late", "c1", "Can I talk to someone please", second=-60)])
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    first = deployment.queue_entries()[0][1]
    assert wait_for(
        lambda: any(ReasonCode.SLA_BREACH in e.reasons for _, e in deployment.queue_entries()),
        timeout=30,
    )
    [(_, raised)] = deployment.queue_entries()

    def enqueued_ms(escalation: Escalation) -> int:
        """The Redis server's clock at the entry's XADD (its stream entry id; the marker
        outlives the entry)."""
        entry = deployment.redis.get(deployment.keys.escalation_marker(escalation.escalation_id))
        assert isinstance(entry, bytes)
        return int(entry.split(b"-")[0])

    waited = (enqueued_ms(raised) - enqueued_ms(first)) / 1000
    assert waited >= sla - 0.5, f"raised again {waited:.1f}s after the enqueue"
    withdrawn = log_lines(worker, f"escalation {first.escalation_id}", "withdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0].rstrip().endswith(": sla_breach")
    assert metric(worker, "escalator_escalations_withdrawn_total") == {"sla_breach": 1}
