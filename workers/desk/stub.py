"""StubDeskQueue: the desk interface in memory, for testing desk code without Redis or Kafka.

Like dramatiq's StubBroker: the same behaviour as DeskClient (strict priority, oldest first,
no double delivery, reclaim after the claim timeout, idempotent reports), checked by the same
contract tests, with an injectable clock so a test can jump past the claim timeout.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.escalation import Escalation
from schemas.lifecycle import HandoffEvent, HandoffStatus
from workers.desk.client import DEFAULT_CLAIM_TIMEOUT_SECONDS
from workers.desk.contract import Claim, DeskQueue, entry_order, handoff_event
from workers.desk.exceptions import ClaimLostError, DeskError, EscalationWithdrawnError
from workers.queues.keys import QueueKeys

Clock = Callable[[], float]
# The stub names its streams like a deployment with the default prefix would.
DEFAULT_KEYS = QueueKeys("escalator")


class InMemoryPublisher:
    """Records every published handoff event, in order, retries included."""

    def __init__(self) -> None:
        self.events: list[HandoffEvent] = []

    async def publish(self, event: HandoffEvent) -> None:
        """Record the event."""
        self.events.append(event)


@dataclass
class _Pending:
    consumer: str
    claimed_at: float
    deliveries: int


@dataclass
class _Owner:
    consumer: str
    agent_id: str
    entry_id: str


@dataclass
class _Queues:
    """What the Redis keys hold, shared by every desk instance of one stub."""

    clock: Clock
    publisher: InMemoryPublisher
    streams: dict[tuple[int, str], dict[str, Escalation]] = field(default_factory=dict)
    delivered: dict[tuple[int, str], str] = field(default_factory=dict)
    pending: dict[tuple[tuple[int, str], str], _Pending] = field(default_factory=dict)
    enqueued: dict[str, str] = field(default_factory=dict)
    owners: dict[str, _Owner] = field(default_factory=dict)
    reports: dict[tuple[str, HandoffStatus], HandoffEvent] = field(default_factory=dict)
    last_id: tuple[int, int] = (0, 0)

    def next_id(self) -> str:
        """Like XADD *: the clock in milliseconds, a sequence within the same millisecond."""
        millis = int(self.clock() * 1000)
        last_millis, last_sequence = self.last_id
        self.last_id = (millis, 0) if millis > last_millis else (last_millis, last_sequence + 1)
        return f"{self.last_id[0]}-{self.last_id[1]}"


class StubDeskQueue(DeskQueue):
    """An in-memory desk: ``enqueue`` plays the worker, the rest behaves like DeskClient.

    ``desk(consumer)`` gives another desk instance on the same queues, as a second process
    with its own consumer name would be. ``publisher.events`` holds what was published.
    """

    def __init__(
        self,
        *,
        queues: Sequence[str] | None = None,
        consumer: str = "stub-desk",
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT_SECONDS,
        clock: Clock = time.time,
        keys: QueueKeys = DEFAULT_KEYS,
    ) -> None:
        if claim_timeout <= 0:
            raise DeskError("claim_timeout must be positive")
        self._state = _Queues(clock=clock, publisher=InMemoryPublisher())
        self.keys = keys
        self.queues = tuple(queues) if queues else None
        self.consumer = consumer
        self.claim_timeout = claim_timeout

    @property
    def publisher(self) -> InMemoryPublisher:
        """The publisher shared by every desk instance of this stub."""
        return self._state.publisher

    def desk(
        self,
        consumer: str,
        queues: Sequence[str] | None = None,
        claim_timeout: float | None = None,
    ) -> "StubDeskQueue":
        """Another desk instance sharing these queues, clock and publisher."""
        other = StubDeskQueue(
            queues=queues,
            consumer=consumer,
            claim_timeout=claim_timeout or self.claim_timeout,
            keys=self.keys,
        )
        other._state = self._state
        return other

    def enqueue(self, escalation: Escalation) -> str:
        """Add an escalation to its queue once, as the worker does; returns the entry id."""
        state = self._state
        if escalation.escalation_id in state.enqueued:
            return state.enqueued[escalation.escalation_id]
        entry_id = state.next_id()
        tier = (escalation.priority, escalation.queue)
        state.streams.setdefault(tier, {})[entry_id] = escalation
        state.enqueued[escalation.escalation_id] = entry_id
        return entry_id

    def withdraw(self, escalation: Escalation) -> bool:
        """Take a waiting escalation out of its queue, as the worker does; True if it was there."""
        entry_id = self._state.enqueued.get(escalation.escalation_id)
        tier = (escalation.priority, escalation.queue)
        return entry_id is not None and (
            self._state.streams.get(tier, {}).pop(entry_id, None) is not None
        )

    def waiting(self) -> list[Escalation]:
        """Every escalation still in a served queue (claimed or not), in service order."""
        return [
            escalation
            for tier in self._served()
            for escalation in self._state.streams[tier].values()
        ]

    def _served(self) -> list[tuple[int, str]]:
        return sorted(
            tier for tier in self._state.streams if self.queues is None or tier[1] in self.queues
        )

    async def claim_next(self) -> Claim | None:
        """The next escalation by strict priority then age; reclaims stale claims first."""
        served = self._served()
        for priority in sorted({tier[0] for tier in served}):
            tiers = [tier for tier in served if tier[0] == priority]
            claim = self._reclaim(tiers) or self._deliver_new(tiers)
            if claim:
                return claim
        return None

    def _reclaim(self, tiers: list[tuple[int, str]]) -> Claim | None:
        state = self._state
        now = state.clock()
        stale = [
            (entry_order(entry_id), tier, entry_id)
            for (tier, entry_id), held in state.pending.items()
            if tier in tiers and now - held.claimed_at >= self.claim_timeout
        ]
        for _, tier, entry_id in stale:
            if entry_id not in state.streams[tier]:  # withdrawn while claimed: acknowledge it away
                del state.pending[(tier, entry_id)]
        stale = [item for item in stale if (item[1], item[2]) in state.pending]
        if not stale:
            return None
        _, tier, entry_id = min(stale)
        held = state.pending[(tier, entry_id)]
        held.consumer, held.claimed_at, held.deliveries = self.consumer, now, held.deliveries + 1
        return self._claim(tier, entry_id, held.deliveries)

    def _deliver_new(self, tiers: list[tuple[int, str]]) -> Claim | None:
        state = self._state
        fresh = [
            (entry_order(entry_id), tier, entry_id)
            for tier in tiers
            for entry_id in state.streams[tier]
            if entry_order(entry_id) > entry_order(state.delivered.get(tier, "0-0"))
        ]
        if not fresh:
            return None
        _, tier, entry_id = min(fresh)
        state.delivered[tier] = entry_id
        state.pending[(tier, entry_id)] = _Pending(self.consumer, state.clock(), 1)
        return self._claim(tier, entry_id, 1)

    def _claim(self, tier: tuple[int, str], entry_id: str, deliveries: int) -> Claim:
        stream = self.keys.queue_stream(tier[1], tier[0])
        return Claim(self._state.streams[tier][entry_id], stream, entry_id, deliveries)

    async def accept(self, claim: Claim, agent_id: str) -> HandoffEvent:
        """Take the escalation off its queue for ``agent_id`` and publish ``accepted``."""
        state = self._state
        escalation = claim.escalation
        tier = (escalation.priority, escalation.queue)
        held = state.pending.get((tier, claim.entry_id))
        owner = state.owners.get(escalation.escalation_id)
        if held is not None and held.consumer == self.consumer:
            del state.pending[(tier, claim.entry_id)]
            if state.streams[tier].pop(claim.entry_id, None) is None:
                raise EscalationWithdrawnError(
                    f"escalation {escalation.escalation_id} was taken out of its queue"
                )
            state.owners[escalation.escalation_id] = _Owner(self.consumer, agent_id, claim.entry_id)
        elif held is not None:
            raise ClaimLostError(
                f"escalation {escalation.escalation_id} is claimed by desk {held.consumer}"
            )
        elif owner is None or (owner.consumer, owner.entry_id) != (
            self.consumer,
            claim.entry_id,
        ):
            raise ClaimLostError(
                f"escalation {escalation.escalation_id} is no longer claimed by this desk"
            )
        return await self._report(
            HandoffStatus.ACCEPTED, escalation.session_id, escalation.escalation_id, None, agent_id
        )

    async def _finish_handoff(
        self,
        status: HandoffStatus,
        session_id: str,
        escalation_id: str,
        note: str | None,
        agent_id: str | None,
    ) -> HandoffEvent:
        owner = self._state.owners.pop(escalation_id, None)
        if agent_id is None and owner is not None:
            agent_id = owner.agent_id
        return await self._report(status, session_id, escalation_id, note, agent_id)

    async def _report(
        self,
        status: HandoffStatus,
        session_id: str,
        escalation_id: str,
        note: str | None,
        agent_id: str | None,
    ) -> HandoffEvent:
        """Publish the event stored for (escalation, status), storing this one if none is."""
        now = datetime.fromtimestamp(self._state.clock(), UTC)
        event = self._state.reports.setdefault(
            (escalation_id, status),
            handoff_event(session_id, escalation_id, status, now, agent_id=agent_id, note=note),
        )
        await self._state.publisher.publish(event)
        return event
