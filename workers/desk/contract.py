"""What every desk queue offers, the Redis client and the in-memory stub alike."""

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.escalation import Escalation
from schemas.lifecycle import HandoffEvent, HandoffStatus
from workers.desk.exceptions import InvalidReportError

# Fixed namespace: a retried report must carry the same event id on every desk instance.
HANDOFF_NAMESPACE = uuid.UUID("4f0c2e7a-91d5-4b3e-8a6f-5d2c1b9e7f34")


def entry_order(entry_id: str) -> tuple[int, int]:
    """(milliseconds, sequence) of a stream entry id, for comparing entries across streams."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def entry_time(entry_id: str) -> datetime:
    """When the entry was added: Redis stream ids start with the enqueue time in milliseconds."""
    return datetime.fromtimestamp(entry_order(entry_id)[0] / 1000, UTC)


def handoff_event_id(escalation_id: str, status: HandoffStatus) -> str:
    """Deterministic per (escalation, status), so consumers drop a retried report."""
    return str(uuid.uuid5(HANDOFF_NAMESPACE, f"{escalation_id}\n{status.value}"))


def handoff_event(
    session_id: str,
    escalation_id: str,
    status: HandoffStatus,
    ts: datetime,
    agent_id: str | None = None,
    note: str | None = None,
) -> HandoffEvent:
    """The report a desk publishes, with its deterministic id."""
    try:
        return HandoffEvent(
            event_id=handoff_event_id(escalation_id, status),
            session_id=session_id,
            ts=ts,
            type="handoff",
            status=status,
            escalation_id=escalation_id,
            agent_id=agent_id,
            note=note,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidReportError(f"invalid handoff report: {problems}") from None


@dataclass(frozen=True, slots=True)
class Claim:
    """An escalation delivered to one desk, which now has the claim timeout to accept it."""

    escalation: Escalation
    stream: str
    entry_id: str
    deliveries: int
    """1 for a first delivery; more when it was reclaimed from a desk that did not accept it."""

    @property
    def enqueued_at(self) -> datetime:
        """When the escalation entered its queue."""
        return entry_time(self.entry_id)


class DeskQueue(ABC):
    """Claim, accept and report on escalations: ``DeskClient`` and ``StubDeskQueue``.

    The three end-of-handoff reports differ only in their status, so they are written once
    here on top of ``_finish_handoff``.
    """

    @abstractmethod
    async def claim_next(self) -> Claim | None:
        """The next escalation by strict priority then age, or None when nothing waits."""

    @abstractmethod
    async def accept(self, claim: Claim, agent_id: str) -> HandoffEvent:
        """Take the escalation off its queue for ``agent_id`` and publish ``accepted``."""

    @abstractmethod
    async def _finish_handoff(
        self,
        status: HandoffStatus,
        session_id: str,
        escalation_id: str,
        note: str | None,
        agent_id: str | None,
    ) -> HandoffEvent:
        """Publish ``status`` for the escalation and release its ownership."""

    async def resolve(
        self,
        session_id: str,
        escalation_id: str,
        note: str | None = None,
        agent_id: str | None = None,
    ) -> HandoffEvent:
        """The person solved it: publish ``resolved`` and release the ownership."""
        return await self._finish_handoff(
            HandoffStatus.RESOLVED, session_id, escalation_id, note, agent_id
        )

    async def return_to_bot(
        self,
        session_id: str,
        escalation_id: str,
        note: str | None = None,
        agent_id: str | None = None,
    ) -> HandoffEvent:
        """The person hands the session back: publish ``returned_to_bot``, release ownership."""
        return await self._finish_handoff(
            HandoffStatus.RETURNED_TO_BOT, session_id, escalation_id, note, agent_id
        )

    async def abandon(
        self,
        session_id: str,
        escalation_id: str,
        note: str | None = None,
        agent_id: str | None = None,
    ) -> HandoffEvent:
        """The handoff ended without resolution: publish ``abandoned``, release ownership."""
        return await self._finish_handoff(
            HandoffStatus.ABANDONED, session_id, escalation_id, note, agent_id
        )
