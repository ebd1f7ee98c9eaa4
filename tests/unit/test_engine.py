"""The pure decision core: DecisionEngine.apply(state, event) -> Outcome."""

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workers
from schemas.escalation import Escalation, ReasonCode
from schemas.events import (
    MAX_TEXT_CHARS,
    ActionEvent,
    ActionOutcome,
    ActionStatus,
    MessageEvent,
    Role,
    chat_event_adapter,
)
from schemas.trace import TraceRecord, Verdict
from workers.decision import DecisionEngine, Outcome, Policy, Route, SessionState
from workers.decision.engine import escalation_id_for

Event = MessageEvent | ActionEvent
T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
SESSION = "s-1"
SAMPLES = Path(workers.__file__).parent / "samples" / "conversations.jsonl"


def message(
    event_id: str,
    text: str,
    role: Role = Role.CUSTOMER,
    *,
    session_id: str = SESSION,
    seconds: int = 0,
    intent_confidence: float | None = None,
) -> MessageEvent:
    return MessageEvent(
        event_id=event_id,
        session_id=session_id,
        ts=T0 + timedelta(seconds=seconds),
        type="message",
        role=role,
        text=text,
        intent_confidence=intent_confidence,
    )


def action(
    event_id: str,
    status: ActionStatus,
    name: str = "issue_refund",
    *,
    session_id: str = SESSION,
    seconds: int = 0,
) -> ActionEvent:
    return ActionEvent(
        event_id=event_id,
        session_id=session_id,
        ts=T0 + timedelta(seconds=seconds),
        type="action",
        role=Role.BOT,
        action=ActionOutcome(name=name, status=status),
    )


def run(
    events: Iterable[Event], engine: DecisionEngine | None = None
) -> tuple[dict[str, SessionState], list[Outcome]]:
    """Apply events in order, keeping one state per session like the worker's table."""
    engine = engine or DecisionEngine()
    states: dict[str, SessionState] = {}
    outcomes: list[Outcome] = []
    for event in events:
        outcome = engine.apply(states.get(event.session_id), event)
        states[event.session_id] = outcome.state
        outcomes.append(outcome)
    return states, outcomes


def escalations(outcomes: Sequence[Outcome]) -> list[Escalation]:
    return [o.trace.escalation for o in outcomes if o.trace.escalation is not None]


NEGATIVE_TURNS = [
    "this is so annoying",
    "this is really not helpful at all",
    "it still does not work",
]


def frustrated_session() -> list[Event]:
    """Three moderately negative customer turns with bot replies in between."""
    return [
        message("c1", NEGATIVE_TURNS[0], seconds=0),
        message("b1", "Please check the help page.", Role.BOT, seconds=5),
        message("c2", NEGATIVE_TURNS[1], seconds=20),
        message("b2", "Please check the help page.", Role.BOT, seconds=25),
        message("c3", NEGATIVE_TURNS[2], seconds=40),
        message("b3", "Please check the help page.", Role.BOT, seconds=45),
    ]


def request_session() -> list[Event]:
    return [
        message("c1", "Hi, I have a question about my bill.", seconds=0),
        message("b1", "I can help with billing questions.", Role.BOT, seconds=4),
        message("c2", "Can I speak to a human please?", seconds=30),
        message("b2", "Sure, let me find someone.", Role.BOT, seconds=34),
    ]


# --- escalation on an explicit request ---------------------------------------------------


def test_explicit_request_escalates_at_that_event() -> None:
    states, outcomes = run(request_session())
    assert [o.deliver is not None for o in outcomes] == [False, False, True, False]
    escalation = outcomes[2].deliver
    assert escalation is not None
    assert escalation.trigger_event_id == "c2"
    assert escalation.session_id == SESSION
    assert escalation.reasons == [ReasonCode.HUMAN_REQUESTED]
    assert [e.event_id for e in escalation.evidence] == ["c2"]
    assert escalation.evidence[0].reason is ReasonCode.HUMAN_REQUESTED
    assert escalation.evidence[0].cue == "explicit_request"
    assert "speak to a human" in escalation.evidence[0].excerpt
    assert escalation.created_at == T0 + timedelta(seconds=30)
    assert outcomes[2].trace.escalation == escalation
    assert ReasonCode.HUMAN_REQUESTED in outcomes[2].trace.signals
    assert states[SESSION].escalation == escalation


def test_handoff_summary_carries_goal_and_actions() -> None:
    events: list[Event] = [
        message("c1", "My order ORD-10001 arrived broken.", seconds=0),
        action("a1", ActionStatus.FAILED, seconds=5),
        message("b1", "Sorry, that did not work.", Role.BOT, seconds=6),
        message("c2", "agent", seconds=20),
    ]
    _, outcomes = run(events)
    escalation = outcomes[-1].deliver
    assert escalation is not None
    assert escalation.handoff.goal == "My order ORD-10001 arrived broken."
    assert [(a.event_id, a.name, a.status) for a in escalation.handoff.actions] == [
        ("a1", "issue_refund", ActionStatus.FAILED)
    ]
    assert escalation.handoff.customer_turns == 2
    assert escalation.handoff.bot_turns == 1


def test_default_routes_come_from_policy() -> None:
    _, outcomes = run(request_session())
    escalation = outcomes[2].deliver
    assert escalation is not None
    route = Policy().route_for(ReasonCode.HUMAN_REQUESTED)
    assert (escalation.queue, escalation.priority) == (route.queue, route.priority)


def test_custom_route_is_used() -> None:
    policy = Policy(routes={ReasonCode.HUMAN_REQUESTED: Route(queue="vip-desk", priority=1)})
    _, outcomes = run(request_session(), DecisionEngine(policy))
    escalation = outcomes[2].deliver
    assert escalation is not None
    assert (escalation.queue, escalation.priority) == ("vip-desk", 1)


def test_reason_without_route_uses_default_route() -> None:
    policy = Policy(routes={}, default_route=Route(queue="fallback", priority=7))
    _, outcomes = run(request_session(), DecisionEngine(policy))
    escalation = outcomes[2].deliver
    assert escalation is not None
    assert (escalation.queue, escalation.priority) == ("fallback", 7)


def test_most_urgent_reason_picks_the_route() -> None:
    policy = Policy(
        routes={
            ReasonCode.HUMAN_REQUESTED: Route(queue="general", priority=4),
            ReasonCode.FRUSTRATION: Route(queue="care", priority=1),
        }
    )
    events = [
        *frustrated_session()[:4],
        message("c3", "This is useless, how many times?? Let me talk to a person.", seconds=40),
    ]
    _, outcomes = run(events, DecisionEngine(policy))
    escalation = outcomes[-1].deliver
    assert escalation is not None
    assert escalation.reasons[0] is ReasonCode.FRUSTRATION
    assert ReasonCode.HUMAN_REQUESTED in escalation.reasons
    assert (escalation.queue, escalation.priority) == ("care", 1)
    assert {e.reason for e in escalation.evidence} == set(escalation.reasons)


# --- identity and idempotence ------------------------------------------------------------


def test_escalation_id_is_deterministic() -> None:
    _, first = run(request_session())
    _, second = run(request_session())
    a, b = first[2].deliver, second[2].deliver
    assert a is not None
    assert b is not None
    assert a.escalation_id == b.escalation_id == escalation_id_for(SESSION, "c2")
    assert a == b
    assert escalation_id_for(SESSION, "c2") != escalation_id_for("s-2", "c2")
    assert escalation_id_for(SESSION, "c2") != escalation_id_for(SESSION, "c3")


def test_at_most_one_escalation_per_session() -> None:
    events = [
        *request_session(),
        message("c3", "Hello? I want to talk to a real person!", seconds=60),
        *(message(f"x{i}", "This is useless, I give up!!", seconds=70 + i) for i in range(5)),
        message("c4", "agent", seconds=100),
    ]
    states, outcomes = run(events)
    delivered = [o.deliver for o in outcomes if o.deliver is not None]
    assert len(delivered) == 1
    assert len(escalations(outcomes)) == 1
    assert states[SESSION].escalation == delivered[0]
    assert delivered[0].trigger_event_id == "c2"


def test_sessions_escalate_independently() -> None:
    events = [
        message("a-1", "Can I speak to a human please?", session_id="a"),
        message("b-1", "Can I speak to a human please?", session_id="b", seconds=1),
    ]
    states, outcomes = run(events)
    assert [o.deliver is not None for o in outcomes] == [True, True]
    a, b = states["a"].escalation, states["b"].escalation
    assert a is not None
    assert b is not None
    assert a.escalation_id != b.escalation_id


def test_redelivered_trigger_returns_the_same_escalation_and_changes_nothing() -> None:
    engine = DecisionEngine()
    events = request_session()
    states, outcomes = run(events, engine)
    state = states[SESSION]
    original = outcomes[2].deliver
    assert original is not None

    again = engine.apply(state, events[2])
    assert again.state == state
    assert again.deliver == original
    assert again.trace.duplicate is True
    assert again.trace.escalation is None
    assert again.trace.signals == []


@pytest.mark.parametrize("index", [0, 1, 3])
def test_redelivered_non_trigger_changes_nothing_and_delivers_nothing(index: int) -> None:
    engine = DecisionEngine()
    events = request_session()
    states, _ = run(events, engine)
    state = states[SESSION]
    again = engine.apply(state, events[index])
    assert again.state == state
    assert again.deliver is None
    assert again.trace.duplicate is True


def test_redelivery_before_any_escalation_changes_nothing() -> None:
    engine = DecisionEngine()
    first = engine.apply(None, message("c1", "this is so annoying"))
    again = engine.apply(first.state, message("c1", "this is so annoying"))
    assert again.state == first.state
    assert again.deliver is None
    assert again.state.customer_turns == 1


# --- frustration --------------------------------------------------------------------------


def test_single_mild_complaint_then_good_answer_does_not_escalate() -> None:
    events = [
        message("c1", "My parcel is late again, this is annoying.", seconds=0),
        message("b1", "Sorry! It is out for delivery and arrives by 2 pm.", Role.BOT, seconds=5),
        message("c2", "ok great, thanks", seconds=30),
    ]
    states, outcomes = run(events)
    assert all(o.deliver is None for o in outcomes)
    assert states[SESSION].escalation is None
    assert states[SESSION].consecutive_negative == 0


def test_two_moderate_negative_turns_are_not_enough() -> None:
    states, outcomes = run(frustrated_session()[:4])
    assert all(o.deliver is None for o in outcomes)
    assert states[SESSION].consecutive_negative == 2


def test_three_consecutive_negative_turns_escalate_with_frustration() -> None:
    states, outcomes = run(frustrated_session())
    delivered = [(i, o.deliver) for i, o in enumerate(outcomes) if o.deliver is not None]
    assert len(delivered) == 1
    index, escalation = delivered[0]
    assert escalation is not None
    assert index == 4
    assert escalation.trigger_event_id == "c3"
    assert escalation.reasons == [ReasonCode.FRUSTRATION]
    assert [e.event_id for e in escalation.evidence] == ["c1", "c2", "c3"]
    assert all(e.reason is ReasonCode.FRUSTRATION for e in escalation.evidence)
    assert all(e.score is not None and e.score >= 0.5 for e in escalation.evidence)
    assert escalation.frustration.consecutive_negative_turns == 3
    assert escalation.frustration.trend == states[SESSION].frustration_trend
    assert len(escalation.frustration.trend) == 3


def test_a_calm_turn_resets_the_negative_run() -> None:
    events = [
        *frustrated_session()[:4],
        message("c-calm", "Ok, my order number is ORD-10001.", seconds=30),
        message("c3", NEGATIVE_TURNS[2], seconds=40),
    ]
    states, outcomes = run(events)
    assert all(o.deliver is None for o in outcomes)
    assert states[SESSION].consecutive_negative == 1
    assert [e.event_id for e in states[SESSION].negative_run] == ["c3"]


def test_two_very_angry_turns_escalate_on_level() -> None:
    events = [
        message("c1", "This is absolutely ridiculous, useless and I am furious!!", seconds=0),
        message("c2", "What the hell, this is the worst, most pathetic service ever!!", seconds=20),
    ]
    _, outcomes = run(events)
    escalation = outcomes[1].deliver
    assert escalation is not None
    assert escalation.reasons == [ReasonCode.FRUSTRATION]
    assert escalation.frustration.level >= Policy().frustration.level_threshold


# --- bounded state and serialisation ------------------------------------------------------


def long_session(n: int) -> list[Event]:
    texts = ["where is it", "this is useless!!", "agent", "thanks", "I give up"]
    statuses = list(ActionStatus)
    events: list[Event] = []
    for i in range(n):
        if i % 3 == 0:
            events.append(message(f"e{i}", texts[i % len(texts)], seconds=i))
        elif i % 3 == 1:
            events.append(
                message(f"e{i}", "Let me check.", Role.BOT, seconds=i, intent_confidence=0.5)
            )
        else:
            events.append(action(f"e{i}", statuses[i % len(statuses)], seconds=i))
    return events


def test_state_stays_bounded_after_1000_events() -> None:
    bounds = Policy().bounds
    states, _ = run(long_session(1_000))
    state = states[SESSION]
    assert state.events_applied == 1_000
    assert len(state.recent_event_ids) <= bounds.recent_event_ids == 64
    assert state.recent_event_ids[-1] == "e999"
    assert len(state.frustration_trend) <= bounds.frustration_turns == 20
    assert len(state.actions) <= bounds.actions
    assert len(state.intent_confidences) <= bounds.intent_confidences
    assert len(state.negative_run) <= bounds.evidence_per_reason
    assert len(json.dumps(state.to_json_dict())) < 20_000


def test_state_json_round_trip() -> None:
    for events in (frustrated_session(), request_session(), long_session(200), []):
        states, _ = run(events)
        state = states.get(SESSION, SessionState(session_id=SESSION))
        stored = json.loads(json.dumps(state.to_json_dict()))
        assert SessionState.from_json_dict(stored) == state


def test_round_tripped_state_decides_the_same() -> None:
    engine = DecisionEngine()
    events = frustrated_session()
    states, _ = run(events[:4], engine)
    restored = SessionState.from_json_dict(json.loads(json.dumps(states[SESSION].to_json_dict())))
    direct = engine.apply(states[SESSION], events[4])
    via_json = engine.apply(restored, events[4])
    assert direct.trace == via_json.trace
    assert direct.state == via_json.state


# --- traces -------------------------------------------------------------------------------


def test_trace_fields() -> None:
    _, outcomes = run(frustrated_session())
    for outcome, event in zip(outcomes, frustrated_session(), strict=True):
        trace = outcome.trace
        assert isinstance(trace, TraceRecord)
        assert trace.event_id == event.event_id
        assert trace.session_id == SESSION
        assert 0.0 <= trace.frustration <= 1.0
        assert trace.duplicate is False
        for score in (
            trace.matrix.emotional_load,
            trace.matrix.context_ambiguity,
            trace.matrix.consequence,
        ):
            assert 0.0 <= score <= 1.0
        assert trace.matrix.verdict in set(Verdict)
    customer = [o.trace for o in outcomes[::2]]
    assert all(t.frustration >= 0.5 for t in customer)
    assert all(o.trace.frustration == 0.0 for o in outcomes[1::2])
    assert outcomes[4].trace.signals == [ReasonCode.FRUSTRATION]
    assert outcomes[4].trace.escalation == outcomes[4].deliver
    assert [o.trace.escalation is not None for o in outcomes] == [
        False,
        False,
        False,
        False,
        True,
        False,
    ]
    # A negative turn is a signal at once; only the third in a row is a trigger.
    assert outcomes[0].trace.signals == [ReasonCode.FRUSTRATION]
    assert outcomes[2].trace.signals == [ReasonCode.FRUSTRATION]
    last = outcomes[-1].trace.matrix
    expected = (
        Verdict.WATCH
        if last.emotional_load >= Policy().matrix.watch_emotional_load
        else Verdict.AI_SAFE
    )
    assert last.verdict is expected


def test_low_nlu_confidence_raises_context_ambiguity() -> None:
    events = [
        message("c1", "erm the thing with the stuff"),
        message("b1", "Did you mean billing?", Role.BOT, seconds=3, intent_confidence=0.2),
    ]
    _, outcomes = run(events)
    assert outcomes[-1].trace.matrix.context_ambiguity == pytest.approx(0.8)
    assert outcomes[-1].trace.matrix.verdict is Verdict.WATCH


def test_trace_is_json_serialisable() -> None:
    _, outcomes = run(request_session())
    for outcome in outcomes:
        data = json.loads(outcome.trace.model_dump_json())
        assert set(data) >= {"event_id", "session_id", "frustration", "signals", "matrix"}
        assert TraceRecord.model_validate(data) == outcome.trace


# --- bundled demo conversations -----------------------------------------------------------

MUST_ESCALATE = {
    "demo-billing-loop",
    "demo-explicit-agent",
    "demo-indirect-request",
    "demo-denied-claim",
}
MUST_NOT_ESCALATE = {
    "demo-address-change",
    "demo-refund-fixed",
    "demo-order-status",
    "demo-no-agent-needed",
}


def test_bundled_samples_escalate_as_expected() -> None:
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    events = [chat_event_adapter.validate_json(line) for line in lines if line.strip()]
    assert len({e.event_id for e in events}) == len(events)
    states, _ = run(events)
    assert set(states) >= MUST_ESCALATE | MUST_NOT_ESCALATE
    escalated = {sid for sid, state in states.items() if state.escalation is not None}
    assert escalated >= MUST_ESCALATE
    assert not escalated & MUST_NOT_ESCALATE


# --- property: random conversations -------------------------------------------------------

SESSIONS = ["s-a", "s-b", "s-c"]
PHRASES = [
    "where is my order?",
    "this is useless!!",
    "I ALREADY TOLD YOU THAT",
    "how many times?? forget it",
    "let me talk to an agent",
    "no need for an agent, thanks",
    "great, thanks for nothing",
    "thanks, sorted",
]


@st.composite
def conversations(draw: st.DrawFn) -> list[Event]:
    """Interleaved random events of up to three sessions, with occasional redeliveries."""
    count = draw(st.integers(min_value=0, max_value=60))
    events: list[Event] = []
    seconds = 0
    for i in range(count):
        if events and draw(st.integers(0, 9)) == 0:
            events.append(draw(st.sampled_from(events)))
            continue
        seconds += draw(st.integers(0, 120))
        session_id = draw(st.sampled_from(SESSIONS))
        ts = T0 + timedelta(seconds=seconds)
        kind = draw(st.sampled_from(["customer", "customer", "bot", "action"]))
        if kind == "action":
            events.append(
                ActionEvent(
                    event_id=f"ev-{i}",
                    session_id=session_id,
                    ts=ts,
                    type="action",
                    role=Role.BOT,
                    action=ActionOutcome(
                        name=draw(st.sampled_from(["issue_refund", "rebook_flight"])),
                        status=draw(st.sampled_from(list(ActionStatus))),
                    ),
                )
            )
            continue
        text = draw(st.one_of(st.text(max_size=MAX_TEXT_CHARS // 20), st.sampled_from(PHRASES)))
        events.append(
            MessageEvent(
                event_id=f"ev-{i}",
                session_id=session_id,
                ts=ts,
                type="message",
                role=Role.CUSTOMER if kind == "customer" else Role.BOT,
                text=text,
                intent_confidence=draw(st.none() | st.floats(0.0, 1.0)),
            )
        )
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_random_conversations(events: list[Event]) -> None:
    states, outcomes = run(events)
    _, replayed = run(events)
    assert [o.trace for o in outcomes] == [o.trace for o in replayed]
    assert [o.deliver for o in outcomes] == [o.deliver for o in replayed]

    before: dict[str, SessionState] = {}
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome.trace.duplicate:
            assert outcome.state == before[event.session_id]
        before[event.session_id] = outcome.state

    per_session = Counter(e.session_id for e in escalations(outcomes))
    assert all(count <= 1 for count in per_session.values())
    for outcome in outcomes:
        trace = outcome.trace
        assert 0.0 <= trace.frustration <= 1.0
        assert 0.0 <= trace.matrix.emotional_load <= 1.0
        assert 0.0 <= trace.matrix.context_ambiguity <= 1.0
        # The shortcut the engine decides with agrees with the full matrix.
        assert outcome.engine._verdict(outcome.state) is trace.matrix.verdict
        if outcome.deliver is not None:
            assert outcome.deliver == outcome.state.escalation
            assert outcome.deliver.trigger_event_id == trace.event_id
    for session_id, state in states.items():
        assert (state.escalation is not None) == (per_session[session_id] == 1)
        assert SessionState.from_json_dict(state.to_json_dict()) == state
        assert len(state.recent_event_ids) <= Policy().bounds.recent_event_ids
