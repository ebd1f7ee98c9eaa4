"""The handoff lifecycle in the decision core: ownership, return, cooldown, SLA, expiry."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.escalation import Escalation, ReasonCode
from schemas.events import MessageEvent, Role
from schemas.lifecycle import (
    BotCommandKind,
    HandoffEvent,
    HandoffStatus,
    SessionAction,
    SessionEvent,
)
from workers.decision import DecisionEngine, Outcome, Removal, SessionState
from workers.decision.policy import parse_policy
from workers.decision.state import HandoffPhase

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ENGINE = DecisionEngine()
HANDOFF = ENGINE.policy.handoff


def say(event_id: str, text: str, seconds: float, role: Role = Role.CUSTOMER) -> MessageEvent:
    return MessageEvent(
        event_id=event_id,
        session_id="s",
        ts=T0 + timedelta(seconds=seconds),
        type="message",
        role=role,
        text=text,
    )


def report(
    event_id: str, status: HandoffStatus, escalation: Escalation, seconds: float
) -> HandoffEvent:
    return HandoffEvent(
        event_id=event_id,
        session_id="s",
        ts=T0 + timedelta(seconds=seconds),
        type="handoff",
        status=status,
        escalation_id=escalation.escalation_id,
        agent_id="agent-7",
    )


def escalated() -> tuple[SessionState, Escalation]:
    outcome = ENGINE.apply(None, say("c1", "Can I talk to a person please?", 0))
    assert outcome.escalation is not None
    return outcome.state, outcome.escalation


def test_an_escalation_waits_in_its_queue_until_accepted() -> None:
    state, escalation = escalated()
    assert state.handoff is HandoffPhase.PENDING
    assert state.escalated_at == T0
    accepted = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, escalation, 30))
    assert accepted.state.handoff is HandoffPhase.OWNED
    assert accepted.state.owner == "agent-7"
    assert [c.command for c in accepted.commands] == [BotCommandKind.PAUSE]
    assert accepted.commands[0].escalation_id == escalation.escalation_id
    assert accepted.withdraw == escalation, "an entry accepted elsewhere leaves the queue too"


def test_no_new_escalation_while_a_person_owns_the_session() -> None:
    state, escalation = escalated()
    state = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, escalation, 30)).state
    for n, text in enumerate(["THIS IS USELESS!!", "agent agent agent", "I want a manager"]):
        outcome = ENGINE.apply(state, say(f"c{n + 2}", text, 40 + n))
        assert outcome.escalation is None
        state = outcome.state
    assert state.escalation == escalation


def test_return_resumes_the_bot_and_a_cooldown_prevents_ping_pong() -> None:
    state, escalation = escalated()
    state = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, escalation, 30)).state
    returned = ENGINE.apply(state, report("h2", HandoffStatus.RETURNED_TO_BOT, escalation, 300))
    assert [c.command for c in returned.commands] == [BotCommandKind.RESUME]
    state = returned.state
    assert state.escalation is None
    assert state.closed_escalations == [escalation.escalation_id]
    assert state.cooldown_until == T0 + timedelta(seconds=300 + HANDOFF.cooldown_seconds)

    during = ENGINE.apply(state, say("c2", "Can I talk to a person again?", 310))
    assert during.escalation is None, "no escalation inside the cooldown"
    assert ReasonCode.HUMAN_REQUESTED in during.signals, "but the request is still seen"

    after = ENGINE.apply(
        during.state, say("c3", "Please get me a human agent", 300 + HANDOFF.cooldown_seconds + 1)
    )
    assert after.escalation is not None
    assert after.escalation.trigger_event_id == "c3"
    assert after.escalation.escalation_id != escalation.escalation_id


def test_a_return_clears_old_evidence_so_a_new_escalation_needs_new_evidence() -> None:
    engine = DecisionEngine(parse_policy("[handoff]\ncooldown_seconds = 0\n"))
    state = None
    for n in range(3):
        state = engine.apply(
            state, say(f"c{n}", "This is ridiculous, still not working!!", n)
        ).state
    assert state is not None
    escalation = state.escalation
    assert escalation is not None
    assert ReasonCode.FRUSTRATION in escalation.reasons
    state = engine.apply(state, report("h1", HandoffStatus.RESOLVED, escalation, 10)).state
    assert state.consecutive_negative == 0
    assert state.negative_run == []
    one_more = engine.apply(state, say("c9", "This is ridiculous, still not working!!", 20))
    assert one_more.escalation is None, "one new negative turn is not the three it takes"


def test_a_report_on_another_escalation_is_ignored() -> None:
    state, escalation = escalated()
    other = escalation.model_copy(update={"escalation_id": "someone-else"})
    outcome = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, other, 30))
    assert outcome.state.handoff is HandoffPhase.PENDING
    assert outcome.commands == ()


def test_abandoned_before_acceptance_withdraws_the_entry_without_a_resume() -> None:
    state, escalation = escalated()
    outcome = ENGINE.apply(state, report("h1", HandoffStatus.ABANDONED, escalation, 30))
    assert outcome.withdraw == escalation
    assert outcome.commands == ()
    assert outcome.state.escalation is None


def test_a_redelivered_report_repeats_its_command_with_the_same_id() -> None:
    state, escalation = escalated()
    event = report("h1", HandoffStatus.ACCEPTED, escalation, 30)
    first = ENGINE.apply(state, event)
    again = ENGINE.apply(first.state, event)
    assert again.duplicate
    assert again.state == first.state
    assert again.commands == first.commands


def tick(state: SessionState, seconds: float, name: str = "t") -> Outcome:
    return ENGINE.tick(state, T0 + timedelta(seconds=seconds), f"{name}-{seconds}")


def test_an_escalation_not_accepted_within_its_sla_is_raised_again() -> None:
    state, escalation = escalated()
    sla = HANDOFF.sla_for(escalation.queue)
    assert ENGINE.next_check(state) == T0 + timedelta(seconds=sla)
    early = tick(state, sla - 1)
    assert early.state is state
    assert early.deliver is None

    first = tick(state, sla + 1)
    raised = first.deliver
    assert raised is not None
    assert raised.reasons[0] is ReasonCode.SLA_BREACH
    assert ReasonCode.HUMAN_REQUESTED in raised.reasons
    assert raised.priority == max(1, escalation.priority - 1)
    assert raised.queue == escalation.queue
    assert first.replaces == escalation
    assert [c.command for c in first.commands] == [BotCommandKind.NOTIFY_CUSTOMER]
    assert first.commands[0].message == HANDOFF.notify_message
    assert first.state.escalation == raised

    second = tick(first.state, 2 * sla + 2)
    assert second.deliver is not None
    assert second.deliver.queue == HANDOFF.overflow_queue
    assert second.replaces == raised


def test_sla_breaches_stop_at_the_maximum() -> None:
    state, _ = escalated()
    seconds = 0.0
    breaches = 0
    for _ in range(HANDOFF.max_sla_breaches + 2):
        seconds += HANDOFF.sla_seconds + 1
        outcome = tick(state, seconds)
        breaches += outcome.deliver is not None
        state = outcome.state
    assert breaches == HANDOFF.max_sla_breaches


def test_the_same_breach_gets_the_same_id_however_often_it_is_computed() -> None:
    state, escalation = escalated()
    late = HANDOFF.sla_for(escalation.queue) + 5
    assert tick(state, late, "a").deliver == tick(state, late, "a").deliver
    first = tick(state, late, "a").deliver
    other = tick(state, late + 1, "b").deliver
    assert first is not None
    assert other is not None
    assert first.escalation_id == other.escalation_id


def test_an_owned_escalation_has_no_sla() -> None:
    state, escalation = escalated()
    state = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, escalation, 5)).state
    assert tick(state, HANDOFF.sla_seconds * 10).deliver is None


def test_idle_sessions_expire() -> None:
    state = ENGINE.apply(None, say("c1", "where is my parcel?", 0)).state
    assert state.escalation is None
    assert not tick(state, HANDOFF.idle_expiry_seconds - 1).dropped
    expired = tick(state, HANDOFF.idle_expiry_seconds + 1)
    assert expired.dropped
    assert expired.removal is Removal.IDLE_EXPIRED
    assert expired.withdraw is None


def test_an_idle_session_with_a_waiting_escalation_expires_later_and_leaves_the_queue() -> None:
    engine = DecisionEngine(parse_policy("[handoff]\nmax_sla_breaches = 1\n"))
    state = engine.apply(None, say("c1", "agent please", 0)).state
    later = T0 + timedelta(seconds=HANDOFF.idle_expiry_seconds + 1)
    assert not engine.tick(state, later, "t1").dropped
    final = engine.tick(
        state, T0 + timedelta(seconds=HANDOFF.open_escalation_expiry_seconds + 1), "t2"
    )
    assert final.dropped
    assert final.withdraw == state.escalation
    assert final.removal is Removal.IDLE_EXPIRED


def test_session_end_drops_state_and_a_waiting_entry() -> None:
    state, escalation = escalated()
    ended = ENGINE.apply(
        state,
        SessionEvent(
            event_id="end",
            session_id="s",
            ts=T0 + timedelta(seconds=9),
            type="session",
            action=SessionAction.ENDED,
        ),
    )
    assert ended.dropped
    assert ended.withdraw == escalation
    assert ended.removal is Removal.SESSION_ENDED
    started = ENGINE.apply(
        None,
        SessionEvent(
            event_id="start", session_id="s2", ts=T0, type="session", action=SessionAction.STARTED
        ),
    )
    assert not started.dropped


# -- the worker's clock: SLA from the enqueue, idleness from when events arrive ----------------

ARRIVAL = T0 + timedelta(days=400)
"""When the worker takes the events of the tests below: long after their own times."""
# How old an event is when the worker takes it; negative: its producer's clock runs ahead.
EVENT_AGES = st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=365))


def say_aged(event_id: str, text: str, age: timedelta) -> MessageEvent:
    """A customer message whose own time is ``age`` before it reaches the worker."""
    return say(event_id, text, (ARRIVAL - age - T0).total_seconds())


def enqueued_late(age: timedelta) -> tuple[SessionState, Escalation]:
    """An escalation raised by an event ``age`` old when the worker took it at ARRIVAL."""
    outcome = ENGINE.apply(None, say_aged("c1", "Can I talk to a person please?", age), ARRIVAL)
    assert outcome.escalation is not None
    return outcome.state, outcome.escalation


@settings(max_examples=60, deadline=None)
@given(age=EVENT_AGES, data=st.data())
def test_an_escalation_enqueued_late_waits_its_whole_sla(
    age: timedelta, data: st.DataObject
) -> None:
    state, escalation = enqueued_late(age)
    sla = HANDOFF.sla_for(escalation.queue)
    assert state.escalated_at == ARRIVAL, "the SLA counts from the enqueue"
    assert escalation.created_at == state.last_ts, "the packet keeps the event's own time"
    assert ENGINE.next_check(state) == ARRIVAL + timedelta(seconds=sla)
    waited = timedelta(milliseconds=data.draw(st.integers(0, int(sla * 1000) - 1)))
    early = ENGINE.tick(state, ARRIVAL + waited, "t-early")
    assert early.deliver is None
    assert not early.dropped
    assert early.withdraw is None

    due = ENGINE.tick(state, ARRIVAL + timedelta(seconds=sla), "t-due")
    assert due.deliver is not None
    assert due.replaces == escalation
    assert due.removal is Removal.SLA_BREACH


ONE_BREACH = DecisionEngine(parse_policy("[handoff]\nmax_sla_breaches = 1\n"))


@settings(max_examples=60, deadline=None)
@given(age=EVENT_AGES, data=st.data())
def test_an_escalation_enqueued_late_is_never_withdrawn_for_its_events_age(
    age: timedelta, data: st.DataObject
) -> None:
    outcome = ONE_BREACH.apply(None, say_aged("c1", "agent please", age), ARRIVAL)
    state, escalation = outcome.state, outcome.escalation
    assert escalation is not None
    ttl = ONE_BREACH.policy.handoff.open_escalation_expiry_seconds
    idle = timedelta(seconds=data.draw(st.integers(0, int(ttl) - 1)))
    before = ONE_BREACH.tick(state, ARRIVAL + idle, "t-before")
    assert not before.dropped
    assert before.withdraw is None

    expired = ONE_BREACH.tick(before.state, ARRIVAL + timedelta(seconds=ttl), "t-expired")
    assert expired.dropped
    assert expired.withdraw == before.state.escalation
    assert expired.removal is Removal.IDLE_EXPIRED


@settings(max_examples=60, deadline=None)
@given(age=EVENT_AGES)
def test_idleness_counts_in_worker_time_from_the_last_event_taken(age: timedelta) -> None:
    first = ENGINE.apply(None, say_aged("c1", "where is my parcel?", age), ARRIVAL)
    later = ARRIVAL + timedelta(seconds=HANDOFF.idle_expiry_seconds / 2)
    state = ENGINE.apply(first.state, say_aged("c2", "it was due monday", age), later).state
    assert state.escalation is None
    assert state.seen_at == later
    ttl = timedelta(seconds=HANDOFF.idle_expiry_seconds)
    assert ENGINE.next_check(state) == later + ttl
    assert not tick(state, (later + ttl - T0).total_seconds() - 1).dropped
    expired = tick(state, (later + ttl - T0).total_seconds())
    assert expired.dropped
    assert expired.removal is Removal.IDLE_EXPIRED
    assert expired.withdraw is None


def test_a_redelivered_event_does_not_refresh_idleness() -> None:
    state, _ = enqueued_late(timedelta(days=2))
    again = ENGINE.apply(
        state,
        say_aged("c1", "Can I talk to a person please?", timedelta(days=2)),
        ARRIVAL + timedelta(hours=1),
    )
    assert again.duplicate
    assert again.state == state


def test_the_worker_clock_of_a_session_never_runs_backwards() -> None:
    """After a rebalance the session's new worker may run a little behind the old one."""
    state, _ = enqueued_late(timedelta(0))
    behind = ENGINE.apply(
        state, say_aged("c2", "hello?", timedelta(0)), ARRIVAL - timedelta(seconds=3)
    )
    assert behind.state.seen_at == ARRIVAL


def test_desk_reports_and_session_events_count_as_activity() -> None:
    state, escalation = enqueued_late(timedelta(days=2))
    later = ARRIVAL + timedelta(hours=5)
    accepted = ENGINE.apply(
        state, report("h1", HandoffStatus.ACCEPTED, escalation, 30), later
    ).state
    assert accepted.seen_at == later
    started = ENGINE.apply(
        None,
        SessionEvent(
            event_id="start", session_id="s2", ts=T0, type="session", action=SessionAction.STARTED
        ),
        ARRIVAL,
    )
    assert ENGINE.next_check(started.state) == ARRIVAL + timedelta(
        seconds=HANDOFF.idle_expiry_seconds
    ), "a session known only from a session event expires too"


def test_without_a_worker_clock_event_times_stand_in() -> None:
    """Replay, evaluation and benchmarks: deterministic, as before the worker kept its clock
    (and states stored before then expire by their event times, test_idle_sessions_expire)."""
    state, escalation = escalated()
    assert state.seen_at is None
    assert state.escalated_at == T0
    assert ENGINE.next_check(state) == T0 + timedelta(seconds=HANDOFF.sla_for(escalation.queue))


@pytest.mark.parametrize(
    ("status", "removal"),
    [
        (HandoffStatus.ACCEPTED, Removal.ACCEPTED),
        (HandoffStatus.RESOLVED, Removal.RESOLVED),
        (HandoffStatus.RETURNED_TO_BOT, Removal.RETURNED),
        (HandoffStatus.ABANDONED, Removal.ABANDONED),
    ],
)
def test_a_desk_report_on_a_waiting_escalation_says_why_it_leaves_the_queue(
    status: HandoffStatus, removal: Removal
) -> None:
    state, escalation = escalated()
    outcome = ENGINE.apply(state, report("h1", status, escalation, 30))
    assert outcome.withdraw == escalation
    assert outcome.removal is removal
    assert not outcome.dropped


def test_a_return_after_acceptance_withdraws_nothing() -> None:
    state, escalation = escalated()
    state = ENGINE.apply(state, report("h1", HandoffStatus.ACCEPTED, escalation, 5)).state
    returned = ENGINE.apply(state, report("h2", HandoffStatus.RETURNED_TO_BOT, escalation, 9))
    assert returned.withdraw is None
    assert returned.removal is None
