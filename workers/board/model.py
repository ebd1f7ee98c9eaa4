"""What the live board shows, computed from queue entries.

Pure (no Redis, no web server), so the SLA arithmetic and the JSON the page reads are unit
tested on their own; ``workers.board.source`` reads the entries and ``workers.board.web``
serves the result.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from schemas.escalation import Escalation
from workers.decision.policy import Policy
from workers.desk.contract import entry_order, entry_time

# An escalation that has used this share of its queue's SLA is shown as due soon: early enough
# for a supervisor to move people before the worker raises it again as an sla_breach.
DUE_SOON_FRACTION = 0.75


class SlaState(StrEnum):
    """How an escalation stands against its queue's SLA (the time a person has to accept)."""

    OK = "ok"
    DUE_SOON = "due_soon"
    BREACHED = "breached"


def sla_state(waited_seconds: float, sla_seconds: float) -> SlaState:
    """Breached at the SLA, due soon from ``DUE_SOON_FRACTION`` of it, ok before."""
    if waited_seconds >= sla_seconds:
        return SlaState.BREACHED
    if waited_seconds >= sla_seconds * DUE_SOON_FRACTION:
        return SlaState.DUE_SOON
    return SlaState.OK


@dataclass(frozen=True, slots=True)
class DeskClaim:
    """A desk instance holds the entry (delivered through the consumer group, not accepted)."""

    consumer: str
    idle_seconds: float
    deliveries: int


@dataclass(frozen=True, slots=True)
class QueuedEscalation:
    """One escalation waiting in a queue stream, with the desk claim on it if there is one."""

    queue: str
    priority: int
    entry_id: str
    escalation: Escalation
    claim: DeskClaim | None = None

    @property
    def enqueued_at(self) -> datetime:
        """When it entered the queue: the stream entry id's milliseconds."""
        return entry_time(self.entry_id)

    @property
    def service_order(self) -> tuple[int, tuple[int, int]]:
        """The order desks are served in: tier first, then oldest first."""
        return self.priority, entry_order(self.entry_id)


@dataclass(frozen=True, slots=True)
class QueueCount:
    """A queue stream's length, which may exceed the entries read from it."""

    queue: str
    priority: int
    length: int


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    """Every queue stream known to the queue index and the entries read from them."""

    streams: list[QueueCount]
    entries: list[QueuedEscalation]


def _seconds(value: float) -> float:
    return round(max(0.0, value), 1)


def entry_json(entry: QueuedEscalation, policy: Policy, now: datetime) -> dict[str, Any]:
    """One board row: who waits where, for how long, against which SLA, and why."""
    escalation = entry.escalation
    waited = (now - entry.enqueued_at).total_seconds()
    sla = policy.handoff.sla_for(entry.queue)
    first = escalation.evidence[0]
    claim = entry.claim
    return {
        "escalation_id": escalation.escalation_id,
        "session_id": escalation.session_id,
        "queue": entry.queue,
        "priority": entry.priority,
        "reasons": [str(reason) for reason in escalation.reasons],
        "created_at": escalation.created_at.isoformat(),
        "enqueued_at": entry.enqueued_at.isoformat(),
        "waiting_seconds": _seconds(waited),
        "sla_seconds": sla,
        "sla_remaining_seconds": round(sla - max(0.0, waited), 1),
        "sla_state": str(sla_state(waited, sla)),
        "claim": (
            None
            if claim is None
            else {
                "consumer": claim.consumer,
                "idle_seconds": _seconds(claim.idle_seconds),
                "deliveries": claim.deliveries,
            }
        ),
        "first_evidence": {"reason": str(first.reason), "cue": first.cue, "excerpt": first.excerpt},
        "verdict": str(escalation.matrix.verdict) if escalation.matrix else None,
        "frustration_level": escalation.frustration.level,
        "channel": escalation.handoff.channel,
        "customer_tier": escalation.handoff.customer_tier,
    }


def board_json(snapshot: BoardSnapshot, policy: Policy, now: datetime) -> dict[str, Any]:
    """The whole board: every known queue (empty ones too, so the layout stays put), its rows
    in service order, and totals per SLA state."""
    lengths: dict[str, int] = {}
    for stream in snapshot.streams:
        lengths[stream.queue] = lengths.get(stream.queue, 0) + stream.length
    by_queue: dict[str, list[QueuedEscalation]] = {queue: [] for queue in lengths}
    for entry in snapshot.entries:
        by_queue.setdefault(entry.queue, []).append(entry)
    queues: list[dict[str, Any]] = []
    for queue in sorted(by_queue):
        rows = [
            entry_json(entry, policy, now)
            for entry in sorted(by_queue[queue], key=lambda entry: entry.service_order)
        ]
        queues.append(
            {
                "queue": queue,
                "sla_seconds": policy.handoff.sla_for(queue),
                "waiting": max(lengths.get(queue, 0), len(rows)),
                "claimed": sum(1 for row in rows if row["claim"] is not None),
                "entries": rows,
            }
        )
    states = [row["sla_state"] for queue in queues for row in queue["entries"]]
    return {
        "now": now.isoformat(),
        "queues": queues,
        "totals": {
            "waiting": sum(queue["waiting"] for queue in queues),
            "claimed": sum(queue["claimed"] for queue in queues),
            **{str(state): states.count(str(state)) for state in SlaState},
        },
    }


def session_json(entry: QueuedEscalation, policy: Policy, now: datetime) -> dict[str, Any]:
    """The session view: the board row, the whole escalation and the policy lines the charts
    draw (the per-turn frustration threshold and the matrix's verdict thresholds)."""
    matrix = policy.matrix
    return {
        "now": now.isoformat(),
        "entry": entry_json(entry, policy, now),
        "escalation": entry.escalation.model_dump(mode="json"),
        "thresholds": {
            "negative_turn_score": policy.frustration.negative_turn_score,
            "emotional_load": matrix.watch_emotional_load,
            "context_ambiguity": matrix.watch_context_ambiguity,
            "consequence": matrix.watch_consequence,
            "human_required_consequence": matrix.human_required_consequence,
        },
    }


def find_session(snapshot: BoardSnapshot, session_id: str) -> QueuedEscalation | None:
    """The session's newest waiting escalation (an SLA breach replaces the older one)."""
    found = [entry for entry in snapshot.entries if entry.escalation.session_id == session_id]
    return max(found, key=lambda entry: entry_order(entry.entry_id), default=None)
