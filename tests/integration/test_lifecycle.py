"""The handoff lifecycle through the real worker, broker and Redis: desks report on Kafka,
the bot is paused and resumed on Kafka, the watchdog raises what nobody accepted."""

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.escalation import Escalation, ReasonCode
from schemas.lifecycle import BotCommand, BotCommandKind
from tests.support import Deployment, at, chat, wait_for
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
