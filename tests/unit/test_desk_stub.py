"""The desk contract, run against StubDeskQueue (tests/integration/test_desk.py runs the same
scenarios against DeskClient on the real Redis and broker).

Each scenario is an async function of a ``DeskHarness``: it enqueues escalations the way the
worker does, opens desk instances, lets claims go stale, and reads back the published events.
"""

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from schemas.escalation import (
    Escalation,
    Evidence,
    FrustrationSummary,
    HandoffSummary,
    ReasonCode,
)
from schemas.lifecycle import HandoffEvent, HandoffStatus
from workers.decision.engine import escalation_id_for
from workers.desk import (
    ClaimLostError,
    DeskError,
    DeskQueue,
    EscalationWithdrawnError,
    InvalidReportError,
    StubDeskQueue,
    handoff_event_id,
)


class DeskHarness(Protocol):
    """One implementation of the desk interface with its surroundings."""

    async def enqueue(self, escalation: Escalation) -> None:
        """Put an escalation in its queue, as the worker does."""
        ...

    async def withdraw(self, escalation: Escalation) -> None:
        """Take an escalation out of its queue, as the worker does (SLA breach, session end)."""
        ...

    def desk(self, consumer: str, queues: Sequence[str] | None = None) -> DeskQueue:
        """A desk instance with its own consumer name."""
        ...

    async def expire_claims(self) -> None:
        """Let every claim made so far outlive the claim timeout."""
        ...

    async def waiting(self) -> list[str]:
        """Ids of the escalations still in any queue."""
        ...

    async def events(self, count: int) -> list[HandoffEvent]:
        """The ``count`` handoff events published so far (retries included)."""
        ...


Scenario = Callable[[DeskHarness], Coroutine[Any, Any, None]]


def escalation(number: int, queue: str, priority: int) -> Escalation:
    """An escalation of session ``s{number}`` in ``queue`` at ``priority``."""
    session = f"s{number}"
    trigger = f"e{number}"
    return Escalation(
        escalation_id=escalation_id_for(session, trigger),
        session_id=session,
        trigger_event_id=trigger,
        reasons=[ReasonCode.HUMAN_REQUESTED],
        priority=priority,
        queue=queue,
        created_at=datetime(2026, 1, 5, 9, 0, number % 60, tzinfo=UTC),
        evidence=[
            Evidence(
                reason=ReasonCode.HUMAN_REQUESTED,
                event_id=trigger,
                cue="explicit_request",
                excerpt=f"let me talk to a person ({number})",
            )
        ],
        frustration=FrustrationSummary(level=0.4, trend=[0.4], consecutive_negative_turns=1),
        handoff=HandoffSummary(goal="I was charged twice", customer_turns=2, bot_turns=1),
    )


async def claimed_ids(desk: DeskQueue) -> list[str]:
    """Claim until nothing waits (without accepting); the escalation ids in claim order."""
    found = []
    while (claim := await desk.claim_next()) is not None:
        found.append(claim.escalation.escalation_id)
    return found


async def strict_priority_across_queues_and_tiers(harness: DeskHarness) -> None:
    placed = [("general", 3), ("fraud", 2), ("general", 2), ("billing", 1), ("fraud", 1)]
    placed += [("general", 1)]
    escalations = [escalation(n, queue, prio) for n, (queue, prio) in enumerate(placed)]
    for item in escalations:
        await harness.enqueue(item)
    expected = [escalations[n].escalation_id for n in (3, 4, 5, 1, 2, 0)]
    assert await claimed_ids(harness.desk("desk-a")) == expected


async def oldest_first_within_a_tier_across_queues(harness: DeskHarness) -> None:
    queues = ["fraud", "general", "billing", "general", "fraud", "billing", "general"]
    escalations = [escalation(n, queue, 2) for n, queue in enumerate(queues)]
    for item in escalations:
        await harness.enqueue(item)
    assert await claimed_ids(harness.desk("desk-a")) == [e.escalation_id for e in escalations]


async def a_desk_serves_only_its_queues(harness: DeskHarness) -> None:
    general, fraud = escalation(0, "general", 1), escalation(1, "fraud", 3)
    await harness.enqueue(general)
    await harness.enqueue(fraud)
    assert await claimed_ids(harness.desk("fraud-desk", ["fraud"])) == [fraud.escalation_id]
    assert await claimed_ids(harness.desk("general-desk", ["general"])) == [general.escalation_id]


async def two_desks_share_the_queues_without_double_delivery(harness: DeskHarness) -> None:
    escalations = [escalation(n, ("general", "fraud")[n % 2], 1 + n % 3) for n in range(40)]
    for item in escalations:
        await harness.enqueue(item)

    async def work(desk: DeskQueue, agent: str) -> list[str]:
        taken = []
        while (claim := await desk.claim_next()) is not None:
            await desk.accept(claim, agent)
            taken.append(claim.escalation.escalation_id)
            await asyncio.sleep(0)  # let the other desk in between
        return taken

    first, second = await asyncio.gather(
        work(harness.desk("desk-a"), "ana"), work(harness.desk("desk-b"), "bo")
    )
    assert first, "both desks got work"
    assert second, "both desks got work"
    assert sorted(first + second) == sorted(e.escalation_id for e in escalations)
    assert await harness.waiting() == []
    events = await harness.events(40)
    assert sorted(e.escalation_id for e in events) == sorted(first + second)
    owners = {e.escalation_id: e.agent_id for e in events}
    assert {owners[taken] for taken in first} == {"ana"}
    assert {owners[taken] for taken in second} == {"bo"}


async def an_unaccepted_claim_is_reclaimed_after_the_timeout(harness: DeskHarness) -> None:
    waiting = escalation(0, "general", 2)
    await harness.enqueue(waiting)
    crashed, rescuer = harness.desk("desk-crashed"), harness.desk("desk-rescuer")
    lost = await crashed.claim_next()
    assert lost is not None
    assert lost.deliveries == 1
    assert await rescuer.claim_next() is None, "a fresh claim is not taken over"

    await harness.expire_claims()
    again = await rescuer.claim_next()
    assert again is not None
    assert (again.escalation, again.entry_id, again.deliveries) == (waiting, lost.entry_id, 2)
    with pytest.raises(ClaimLostError):
        await crashed.accept(lost, "ana")
    accepted = await rescuer.accept(again, "bo")
    assert accepted.agent_id == "bo"
    assert await harness.events(1) == [accepted]


async def stale_claims_go_first_within_their_tier_only(harness: DeskHarness) -> None:
    stale = escalation(0, "general", 2)
    await harness.enqueue(stale)
    assert await harness.desk("desk-crashed").claim_next() is not None
    newer, urgent = escalation(1, "fraud", 2), escalation(2, "general", 1)
    await harness.enqueue(newer)
    await harness.enqueue(urgent)
    await harness.expire_claims()
    order = [urgent.escalation_id, stale.escalation_id, newer.escalation_id]
    assert await claimed_ids(harness.desk("desk-rescuer")) == order


async def accept_takes_the_entry_off_the_queue_and_a_retry_repeats_the_event(
    harness: DeskHarness,
) -> None:
    taken, other = escalation(0, "general", 1), escalation(1, "general", 2)
    await harness.enqueue(taken)
    await harness.enqueue(other)
    desk = harness.desk("desk-a")
    claim = await desk.claim_next()
    assert claim is not None
    assert claim.escalation == taken
    accepted = await desk.accept(claim, "ana")
    assert (accepted.status, accepted.agent_id) == (HandoffStatus.ACCEPTED, "ana")
    assert accepted.session_id == taken.session_id
    assert accepted.event_id == handoff_event_id(taken.escalation_id, HandoffStatus.ACCEPTED)
    assert await harness.waiting() == [other.escalation_id]

    await harness.expire_claims()
    assert await desk.accept(claim, "ana") == accepted, "a retry publishes the same event"
    assert await claimed_ids(harness.desk("desk-b")) == [other.escalation_id]
    assert await harness.events(2) == [accepted, accepted]


async def reports_name_the_owner_and_repeat_their_event_ids(harness: DeskHarness) -> None:
    owned, unclaimed = escalation(0, "general", 1), escalation(1, "general", 1)
    await harness.enqueue(owned)
    desk = harness.desk("desk-a")
    claim = await desk.claim_next()
    assert claim is not None
    accepted = await desk.accept(claim, "ana")

    resolved = await desk.resolve(owned.session_id, owned.escalation_id, note="refund issued")
    assert (resolved.status, resolved.agent_id, resolved.note) == (
        HandoffStatus.RESOLVED,
        "ana",
        "refund issued",
    )
    assert await desk.resolve(owned.session_id, owned.escalation_id) == resolved
    returned = await desk.return_to_bot(unclaimed.session_id, unclaimed.escalation_id)
    abandoned = await desk.abandon(unclaimed.session_id, unclaimed.escalation_id, agent_id="bo")
    assert (returned.status, returned.agent_id) == (HandoffStatus.RETURNED_TO_BOT, None)
    assert (abandoned.status, abandoned.agent_id) == (HandoffStatus.ABANDONED, "bo")
    for event in (resolved, returned, abandoned):
        assert event.event_id == handoff_event_id(event.escalation_id, event.status)

    events = await harness.events(5)
    per_session = {
        session: [e for e in events if e.session_id == session]
        for session in (owned.session_id, unclaimed.session_id)
    }
    assert per_session == {
        owned.session_id: [accepted, resolved, resolved],
        unclaimed.session_id: [returned, abandoned],
    }


async def withdrawn_escalations_are_neither_accepted_nor_reclaimed(harness: DeskHarness) -> None:
    first, second, third = (escalation(n, "general", 1 + n // 2) for n in range(3))
    for item in (first, second, third):
        await harness.enqueue(item)
    desk = harness.desk("desk-a")
    claimed_first, claimed_second = await desk.claim_next(), await desk.claim_next()
    assert claimed_first is not None
    assert claimed_second is not None
    await harness.withdraw(first)
    await harness.withdraw(second)
    with pytest.raises(EscalationWithdrawnError):
        await desk.accept(claimed_first, "ana")
    await harness.expire_claims()
    assert await claimed_ids(harness.desk("desk-b")) == [third.escalation_id]


CONTRACT: list[Scenario] = [
    strict_priority_across_queues_and_tiers,
    oldest_first_within_a_tier_across_queues,
    a_desk_serves_only_its_queues,
    two_desks_share_the_queues_without_double_delivery,
    an_unaccepted_claim_is_reclaimed_after_the_timeout,
    stale_claims_go_first_within_their_tier_only,
    accept_takes_the_entry_off_the_queue_and_a_retry_repeats_the_event,
    reports_name_the_owner_and_repeat_their_event_ids,
    withdrawn_escalations_are_neither_accepted_nor_reclaimed,
]


class ManualClock:
    """Seconds since the epoch that move only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


class StubHarness:
    """The contract's surroundings for StubDeskQueue: a manual clock, nothing else."""

    claim_timeout = 30.0

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.stub = StubDeskQueue(clock=self.clock, claim_timeout=self.claim_timeout)

    async def enqueue(self, escalation: Escalation) -> None:
        self.stub.enqueue(escalation)

    async def withdraw(self, escalation: Escalation) -> None:
        assert self.stub.withdraw(escalation)

    def desk(self, consumer: str, queues: Sequence[str] | None = None) -> DeskQueue:
        return self.stub.desk(consumer, queues)

    async def expire_claims(self) -> None:
        self.clock.now += self.claim_timeout

    async def waiting(self) -> list[str]:
        return [waiting.escalation_id for waiting in self.stub.waiting()]

    async def events(self, count: int) -> list[HandoffEvent]:
        assert len(self.stub.publisher.events) == count
        return self.stub.publisher.events


@pytest.mark.parametrize("scenario", CONTRACT, ids=lambda scenario: scenario.__name__)
def test_contract(scenario: Scenario) -> None:
    asyncio.run(scenario(StubHarness()))


def test_enqueue_is_idempotent_like_the_worker() -> None:
    stub = StubDeskQueue()
    first = stub.enqueue(escalation(0, "general", 2))
    assert stub.enqueue(escalation(0, "general", 2)) == first
    assert [e.session_id for e in stub.waiting()] == ["s0"]


def test_a_claim_times_out_exactly_at_the_claim_timeout() -> None:
    clock = ManualClock()
    stub = StubDeskQueue(clock=clock, claim_timeout=10.0)
    stub.enqueue(escalation(0, "general", 2))

    async def scenario() -> None:
        assert await stub.claim_next() is not None
        clock.now += 9.999
        assert await stub.desk("other").claim_next() is None
        clock.now += 0.001
        assert await stub.desk("other").claim_next() is not None

    asyncio.run(scenario())


def test_claim_timeout_must_be_positive() -> None:
    with pytest.raises(DeskError):
        StubDeskQueue(claim_timeout=0)


def test_a_report_outside_the_contract_is_refused() -> None:
    with pytest.raises(InvalidReportError, match="note"):
        asyncio.run(StubDeskQueue().resolve("s1", "e1", note="x" * 2_001))
