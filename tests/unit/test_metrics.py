"""What a worker shows about itself: Prometheus metrics, JSON log lines, the session view."""

import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from schemas.escalation import Escalation
from schemas.events import ActionEvent, MessageEvent, Role
from schemas.inbound import InboundEvent
from schemas.lifecycle import HandoffEvent, HandoffStatus, SessionAction, SessionEvent
from workers.decision import DecisionEngine, Outcome, Removal, SessionState
from workers.logs import JsonFormatter, RedactingFilter
from workers.metrics import PartitionOffsets, WorkerMetrics
from workers.queues import QueueKeys
from workers.redaction import Redactor
from workers.stream.app import session_view

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ENGINE = DecisionEngine()
CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"


def say(event_id: str, text: str, seconds: float, session: str = "s") -> MessageEvent:
    return MessageEvent(
        event_id=event_id,
        session_id=session,
        ts=T0 + timedelta(seconds=seconds),
        type="message",
        role=Role.CUSTOMER,
        text=text,
    )


def samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition text, by (name, sorted labels)."""
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(metrics: WorkerMetrics) -> set[str]:
    return {family.name for family in text_string_to_metric_families(metrics.exposition().decode())}


def run(
    metrics: WorkerMetrics, state: SessionState | None, event: InboundEvent
) -> tuple[Outcome, Escalation | None]:
    """What the pipeline does with one event, as far as metrics see it: a redelivered
    escalation finds its entry already in Redis, so only a new one counts as enqueued."""
    outcome = ENGINE.apply(state, event)
    metrics.applied(event, outcome, 0.0002)
    metrics.settled(outcome)
    if outcome.escalation is not None:
        metrics.enqueued(outcome.escalation, outcome.replaces, time.time() - 0.05)
    return outcome, outcome.escalation


def test_every_contract_family_is_exposed_from_the_start() -> None:
    exposed = families(WorkerMetrics())
    # Counters lose their _total suffix in the parsed family name.
    assert {
        "escalator_events",
        "escalator_duplicate_events",
        "escalator_dead_letters",
        "escalator_decisions",
        "escalator_escalations",
        "escalator_sla_breaches",
        "escalator_handoff_outcomes",
        "escalator_sessions_ended",
        "escalator_sessions_dropped",
        "escalator_escalations_withdrawn",
        "escalator_containment_ratio",
        "escalator_open_sessions",
        "escalator_queue_depth",
        "escalator_decision_seconds",
        "escalator_produce_to_queue_seconds",
        "escalator_redis_errors",
        "escalator_consumer_lag",
        "escalator_committed_offset",
        "escalator_bot_commands",
    } <= exposed


def test_events_verdicts_escalations_and_latency_are_counted() -> None:
    metrics = WorkerMetrics()
    first, _ = run(metrics, None, say("e1", "Hi, where is my parcel?", 0))
    second, escalation = run(metrics, first.state, say("e2", "Let me talk to a human please", 5))
    run(metrics, second.state, say("e2", "Let me talk to a human please", 5))  # redelivered
    action = ActionEvent.model_validate(
        {
            "event_id": "a1",
            "session_id": "other",
            "ts": T0.isoformat(),
            "type": "action",
            "role": "bot",
            "action": {"name": "issue_refund", "status": "failed"},
        }
    )
    run(metrics, None, action)

    assert escalation is not None
    found = samples(metrics)
    assert found[("escalator_events_total", (("type", "message"),))] == 3
    assert found[("escalator_events_total", (("type", "action"),))] == 1
    assert found[("escalator_duplicate_events_total", ())] == 1
    assert found[("escalator_decisions_total", (("verdict", "ai_safe"),))] == 3
    reason = (("queue", escalation.queue), ("reason", "human_requested"))
    assert found[("escalator_escalations_total", reason)] == 1
    assert found[("escalator_decision_seconds_count", ())] == 4
    assert found[("escalator_produce_to_queue_seconds_count", ())] == 1
    assert found[("escalator_produce_to_queue_seconds_sum", ())] >= 0.05
    # The produce-to-queue latency lands in a sub-second bucket.
    assert found[("escalator_produce_to_queue_seconds_bucket", (("le", "1.0"),))] == 1


def test_handoffs_sla_breaches_bot_commands_and_ended_sessions() -> None:
    metrics = WorkerMetrics()
    escalating, escalation = run(metrics, None, say("e1", "Can I talk to a person please?", 0))
    assert escalation is not None
    breach = ENGINE.tick(escalating.state, T0 + timedelta(hours=1), "tick-1")
    assert breach.deliver is not None
    metrics.settled(breach)
    metrics.enqueued(breach.deliver, breach.replaces, None)
    accepted, _ = run(
        metrics,
        breach.state,
        HandoffEvent(
            event_id="h1",
            session_id="s",
            ts=T0 + timedelta(hours=1, seconds=5),
            type="handoff",
            status=HandoffStatus.ACCEPTED,
            escalation_id=breach.deliver.escalation_id,
            agent_id="agent-7",
        ),
    )
    ended = SessionEvent(
        event_id="end",
        session_id="s",
        ts=T0 + timedelta(hours=2),
        type="session",
        action=SessionAction.ENDED,
    )
    run(metrics, accepted.state, ended)
    contained, _ = run(metrics, None, say("q1", "What are your opening hours?", 0, "calm"))
    run(metrics, contained.state, ended.model_copy(update={"session_id": "calm"}))

    found = samples(metrics)
    assert found[("escalator_sla_breaches_total", (("queue", escalation.queue),))] == 1
    assert found[("escalator_handoff_outcomes_total", (("outcome", "accepted"),))] == 1
    assert found[("escalator_bot_commands_total", (("command", "notify_customer"),))] == 1
    assert found[("escalator_bot_commands_total", (("command", "pause"),))] == 1
    assert found[("escalator_sessions_ended_total", (("contained", "false"),))] == 1
    assert found[("escalator_sessions_ended_total", (("contained", "true"),))] == 1
    assert found[("escalator_containment_ratio", ())] == 0.5
    # The re-raise is a breach, not a second escalation per reason.
    reasons = [key for key in found if key[0] == "escalator_escalations_total"]
    assert len(reasons) == 1


def test_dropped_sessions_and_withdrawn_entries_are_counted_by_reason() -> None:
    metrics = WorkerMetrics()
    escalating, escalation = run(metrics, None, say("e1", "Can I talk to a person please?", 0))
    assert escalation is not None
    ended, _ = run(
        metrics,
        escalating.state,
        SessionEvent(
            event_id="end", session_id="s", ts=T0, type="session", action=SessionAction.ENDED
        ),
    )
    assert ended.withdraw == escalation
    assert ended.removal is Removal.SESSION_ENDED
    metrics.withdrawn(ended.removal)  # the pipeline's call, once Redis removed it
    quiet, _ = run(metrics, None, say("q1", "What are your opening hours?", 0, "calm"))
    expired = ENGINE.tick(quiet.state, T0 + timedelta(days=1), "tick-1")
    metrics.settled(expired)

    found = samples(metrics)
    assert found[("escalator_sessions_dropped_total", (("reason", "session_ended"),))] == 1
    assert found[("escalator_sessions_dropped_total", (("reason", "idle_expired"),))] == 1
    withdrawn = ("escalator_escalations_withdrawn_total", (("reason", "session_ended"),))
    assert found[withdrawn] == 1


def test_containment_is_one_before_any_session_ends() -> None:
    assert samples(WorkerMetrics())[("escalator_containment_ratio", ())] == 1.0


def test_scrape_time_gauges_replace_their_series() -> None:
    metrics = WorkerMetrics()
    metrics.observe_open_sessions(7)
    metrics.observe_queue_depths({("general", 2): 3, ("fraud", 1): 1})
    metrics.observe_offsets(
        [
            PartitionOffsets("chat", 0, highwater=10, committed=4),
            PartitionOffsets("chat", 1, highwater=5, committed=None),
            PartitionOffsets("chat", 2, highwater=None, committed=None),
        ]
    )
    metrics.dead_lettered("malformed_json")
    found = samples(metrics)
    assert found[("escalator_open_sessions", ())] == 7
    assert found[("escalator_queue_depth", (("priority", "2"), ("queue", "general")))] == 3
    assert found[("escalator_consumer_lag", (("partition", "0"), ("topic", "chat")))] == 6
    assert found[("escalator_committed_offset", (("partition", "0"), ("topic", "chat")))] == 4
    assert found[("escalator_consumer_lag", (("partition", "1"), ("topic", "chat")))] == 5
    assert ("escalator_consumer_lag", (("partition", "2"), ("topic", "chat"))) not in found
    assert found[("escalator_dead_letters_total", (("reason", "malformed_json"),))] == 1

    metrics.observe_queue_depths({("general", 2): 0})
    metrics.observe_offsets([])
    found = samples(metrics)
    assert ("escalator_queue_depth", (("priority", "1"), ("queue", "fraud"))) not in found
    assert not [key for key in found if key[0] == "escalator_consumer_lag"]


def test_a_scrape_without_redis_counts_an_error_and_omits_the_depth() -> None:
    metrics = WorkerMetrics()
    metrics.observe_queue_depths({("general", 2): 3})
    # Nothing listens on port 1: the connection is refused at once.
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)

    async def scrape() -> None:
        await metrics.refresh_queue_depths(client, QueueKeys("nowhere"))
        await client.aclose()

    asyncio.run(scrape())
    found = samples(metrics)
    assert found[("escalator_redis_errors_total", (("operation", "queue_depth"),))] == 1
    assert not [key for key in found if key[0] == "escalator_queue_depth"]


def test_the_exposition_of_two_workers_in_one_process_is_separate() -> None:
    first, second = WorkerMetrics(), WorkerMetrics()
    first.dead_lettered("oversized")
    assert ("escalator_dead_letters_total", (("reason", "oversized"),)) in samples(first)
    assert ("escalator_dead_letters_total", (("reason", "oversized"),)) not in samples(second)


def json_line(message: str, *args: object, **extra: object) -> dict[str, object]:
    """A record as the worker's handlers write it in the JSON format: filtered, then formatted."""
    record = logging.LogRecord("escalator.pipeline", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    assert RedactingFilter(Redactor()).filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_a_json_log_line_carries_the_context_and_no_personal_data() -> None:
    line = json_line(
        "customer wrote %r", f"mail {EMAIL}, card {CARD}", session_id="s-1", escalation_id="x-9"
    )
    assert line["level"] == "INFO"
    assert line["logger"] == "escalator.pipeline"
    assert line["session_id"] == "s-1"
    assert line["escalation_id"] == "x-9"
    assert "[email]" in str(line["message"])
    assert "[card]" in str(line["message"])
    assert EMAIL not in json.dumps(line)
    assert "4111" not in json.dumps(line)
    assert datetime.fromisoformat(str(line["ts"])).tzinfo is not None


def test_context_fields_are_redacted_too() -> None:
    line = json_line("escalated", session_id=EMAIL, escalation_id="x-9")
    assert line["session_id"] == "[email]"


def test_a_json_log_line_without_context_has_only_the_common_fields() -> None:
    assert set(json_line("worker ready")) == {"ts", "level", "logger", "message"}


def test_a_json_log_line_keeps_a_redacted_traceback() -> None:
    try:
        raise ValueError(f"bad input {EMAIL}")
    except ValueError:
        record = logging.LogRecord(
            "escalator", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    RedactingFilter(Redactor()).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad input [email]" in line["exception"]


def test_the_session_view_redacts_text_and_explains_the_decision() -> None:
    first = ENGINE.apply(None, say("e1", f"I was charged twice on card {CARD}, mail {EMAIL}", 0))
    outcome = ENGINE.apply(first.state, say("e2", "Let me talk to a human please", 5))
    assert outcome.escalation is not None
    view = session_view(outcome.state, ENGINE)

    text = json.dumps(view)
    assert EMAIL not in text
    assert CARD not in text
    assert "[card …1111]" in view["goal"]
    assert "email" not in view.get("facts", {})
    decision = view["decision"]
    assert decision["matrix"]["verdict"] == ENGINE.matrix(outcome.state).verdict
    assert decision["escalation"]["escalation_id"] == outcome.escalation.escalation_id
    assert decision["escalation"]["reasons"] == outcome.escalation.reasons
    assert decision["next_check"] is not None
    # Still readable as a state: the fields are the stored ones.
    assert SessionState.from_json_dict(view).escalation == outcome.state.escalation
