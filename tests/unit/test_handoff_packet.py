"""The handoff packet: what a person needs so the customer never restates anything."""

from datetime import UTC, datetime, timedelta

from schemas.escalation import Escalation, ReasonCode
from schemas.events import ActionEvent, ActionOutcome, ActionStatus, MessageEvent, Role
from workers.decision import DecisionEngine, SessionState
from workers.decision.engine import fit_packet
from workers.decision.policy import parse_policy

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def conversation() -> list[MessageEvent | ActionEvent]:
    def say(n: int, role: Role, text: str) -> MessageEvent:
        return MessageEvent(
            event_id=f"e{n}",
            session_id="s",
            ts=T0 + timedelta(seconds=10 * n),
            type="message",
            role=role,
            text=text,
            channel="web",
            metadata={"customer_id": "c-991", "plan": "family"},
        )

    return [
        say(1, Role.CUSTOMER, "I was charged twice for order 448812, $59.99 on 03/14"),
        say(
            2,
            Role.BOT,
            "Let me look that order up for you.",
        ),
        ActionEvent(
            event_id="e3",
            session_id="s",
            ts=T0 + timedelta(seconds=30),
            type="action",
            role=Role.BOT,
            action=ActionOutcome(name="lookup_order", status=ActionStatus.SUCCEEDED),
        ),
        say(4, Role.CUSTOMER, "That doesn't help. Can I speak to someone please?"),
    ]


def escalate(engine: DecisionEngine | None = None) -> Escalation:
    engine = engine or DecisionEngine()
    state: SessionState | None = None
    found = None
    for event in conversation():
        outcome = engine.apply(state, event)
        state = outcome.state
        found = found or outcome.escalation
    assert found is not None
    return found


def test_the_packet_carries_goal_facts_actions_reasons_trend_matrix_and_turns() -> None:
    escalation = escalate()
    handoff = escalation.handoff
    assert handoff.goal == "I was charged twice for order 448812, $59.99 on 03/14"
    assert "448812" in handoff.facts["order_number"]
    assert handoff.facts["amount"] == ["$59.99"]
    assert handoff.facts["date"] == ["03/14"]
    assert [(a.name, a.status) for a in handoff.actions] == [
        ("lookup_order", ActionStatus.SUCCEEDED)
    ]
    assert ReasonCode.HUMAN_REQUESTED in escalation.reasons
    assert {item.reason for item in escalation.evidence} == set(escalation.reasons)
    assert len(escalation.frustration.trend) == 2
    assert escalation.matrix is not None
    assert "billing_dispute" in escalation.matrix.topics
    assert [turn.event_id for turn in handoff.transcript] == ["e1", "e2", "e4"]
    assert handoff.transcript[1].role == "bot"
    assert handoff.channel == "web"
    assert handoff.metadata == {"customer_id": "c-991", "plan": "family"}
    assert handoff.truncated is False


def test_the_transcript_is_bounded_and_cut() -> None:
    engine = DecisionEngine(parse_policy("[bounds]\ntranscript_turns = 2\ntranscript_chars = 30\n"))
    handoff = escalate(engine).handoff
    assert [turn.event_id for turn in handoff.transcript] == ["e2", "e4"]
    assert all(len(turn.text) <= 30 for turn in handoff.transcript)


def test_an_oversized_packet_is_cut_oldest_turns_first_and_says_so() -> None:
    escalation = escalate()
    long_turns = [
        turn.model_copy(update={"text": "x" * 2_000}) for turn in escalation.handoff.transcript
    ]
    big = escalation.model_copy(
        update={"handoff": escalation.handoff.model_copy(update={"transcript": long_turns})}
    )
    fitted = fit_packet(big, 3_000)
    assert len(fitted.model_dump_json()) <= 3_000
    assert fitted.handoff.truncated
    kept = fitted.handoff.transcript
    assert len(kept) < len(long_turns)
    assert kept == long_turns[len(long_turns) - len(kept) :], "the newest turns are kept"
    assert fitted.reasons == escalation.reasons
    assert fitted.handoff.facts == escalation.handoff.facts
    assert Escalation.model_validate_json(fitted.model_dump_json()) == fitted


def test_a_packet_within_the_limit_is_untouched() -> None:
    escalation = escalate()
    assert fit_packet(escalation, 1_000_000) is escalation
