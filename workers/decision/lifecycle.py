"""The handoff lifecycle, pure: desk reports, session events and clock ticks.

While a person owns a session the bot is paused and no new escalation is raised. When the
session is handed back (resolved, returned or abandoned), a cooldown prevents ping-pong and the
evidence gathered so far is cleared, so a new escalation needs new evidence. An escalation
nobody accepts within its queue's SLA is raised again with ``sla_breach``, and the customer is
told what is happening. Idle sessions expire.

Both clocks run in the worker's time, never in event times: the SLA from when the escalation
reached its queue, idleness from when the worker last took an event of the session. Event
times may be hours or days old on arrival (a backlog, replayed history, a producer with a
skewed clock), and an escalation just enqueued must not be withdrawn, nor re-raised, for it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.escalation import Escalation, Evidence, ReasonCode
from schemas.lifecycle import (
    BotCommand,
    BotCommandKind,
    HandoffEvent,
    HandoffStatus,
    SessionAction,
    SessionEvent,
)
from workers.decision.policy import Policy
from workers.decision.state import HandoffPhase, SessionState

COMMAND_NAMESPACE = uuid.UUID("1c9e4f3a-6d2b-4b8e-9f1a-3e5d7c2b8a40")
CLOSED_KEPT = 5
# What a return to the bot clears: a new escalation must rest on evidence gathered after it.
EVIDENCE_RESET = {
    "frustration_level": 0.0,
    "consecutive_negative": 0,
    "negative_run": [],
    "restatements": 0,
    "bot_repeats": 0,
    "hollow_empathy": 0,
    "empathy_seen": False,
    "news_since_empathy": False,
    "loop_evidence": [],
    "gaps": 0,
    "failures_by_action": {},
    "gap_evidence": [],
    "topics": [],
    "topic_evidence": [],
    "fallbacks": 0,
    "intents": [],
    "intent_confidences": [],
}


class Removal(StrEnum):
    """Why a session's state is dropped or an escalation leaves its queue: operators must be
    able to tell a routine removal from one that hides a fault (the label of the counters
    ``sessions_dropped`` and ``escalations_withdrawn``)."""

    IDLE_EXPIRED = "idle_expired"
    """No event of the session reached the worker within its idle TTL (worker time)."""
    SESSION_ENDED = "session_ended"
    """The bot reported the session ended."""
    ACCEPTED = "accepted"
    """A person accepted the escalation (its desk has usually taken the entry already)."""
    RESOLVED = "resolved"
    """Resolved before anyone accepted it."""
    RETURNED = "returned"
    """Handed back to the bot before anyone accepted it."""
    ABANDONED = "abandoned"
    """The customer left, or the desk gave up, before anyone accepted it."""
    SLA_BREACH = "sla_breach"
    """Nobody accepted it within its queue's SLA: replaced by its ``sla_breach`` re-raise."""


HANDOFF_REMOVALS = {
    HandoffStatus.ACCEPTED: Removal.ACCEPTED,
    HandoffStatus.RESOLVED: Removal.RESOLVED,
    HandoffStatus.RETURNED_TO_BOT: Removal.RETURNED,
    HandoffStatus.ABANDONED: Removal.ABANDONED,
}


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    """What a lifecycle event or a tick changes.

    ``state`` None means the session's state is dropped. ``deliver`` is an escalation to put
    in its queue; ``replaces`` the escalation it supersedes there; ``withdraw`` an escalation
    to take out of its queue. ``removal`` says why state is dropped, or an escalation
    withdrawn or replaced.
    """

    state: SessionState | None
    commands: tuple[BotCommand, ...] = ()
    deliver: Escalation | None = None
    replaces: Escalation | None = None
    withdraw: Escalation | None = None
    removal: Removal | None = None


def idle_since(state: SessionState) -> datetime | None:
    """When the worker last took an event of the session; the latest event time for a state
    without that (stored before it was kept, or built without a worker clock)."""
    return state.seen_at or state.last_ts


def command_id_for(state: SessionState, cause: str, kind: BotCommandKind) -> str:
    """Deterministic: the same cause (event or tick) gives the same command id."""
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"{state.session_id}\n{cause}\n{kind.value}"))


def command(
    state: SessionState,
    kind: BotCommandKind,
    cause: str,
    at: datetime,
    reason: str,
    message: str | None = None,
) -> BotCommand:
    """A bot command with an id derived from its cause, so a redelivered cause repeats it."""
    escalation_id = state.escalation.escalation_id if state.escalation else None
    return BotCommand(
        command_id=command_id_for(state, cause, kind),
        session_id=state.session_id,
        command=kind,
        escalation_id=escalation_id,
        reason=reason,
        message=message,
        created_at=at,
    )


class Lifecycle:
    """Lifecycle rules of one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def handoff(self, state: SessionState, event: HandoffEvent) -> LifecycleResult:
        """Apply a desk's report on the session's open escalation."""
        open_escalation = state.escalation
        if open_escalation is None or open_escalation.escalation_id != event.escalation_id:
            return LifecycleResult(state=state)  # stale: about an escalation no longer open
        if event.status is HandoffStatus.ACCEPTED:
            pause = command(
                state,
                BotCommandKind.PAUSE,
                event.event_id,
                event.ts,
                "a person accepted the session",
            )
            accepted = state.model_copy(
                update={
                    "handoff": HandoffPhase.OWNED,
                    "owner": event.agent_id,
                    "last_command": pause,
                }
            )
            return LifecycleResult(
                state=accepted,
                commands=(pause,),
                withdraw=open_escalation,
                removal=Removal.ACCEPTED,
            )

        was_owned = state.handoff is HandoffPhase.OWNED
        cooldown = timedelta(seconds=self.policy.handoff.cooldown_seconds)
        closed = state.model_copy(
            update={
                **EVIDENCE_RESET,
                "escalation": None,
                "handoff": None,
                "owner": None,
                "escalated_at": None,
                "sla_breaches": 0,
                "cooldown_until": event.ts + cooldown,
                "closed_escalations": [*state.closed_escalations, open_escalation.escalation_id][
                    -CLOSED_KEPT:
                ],
            }
        )
        if not was_owned:
            return LifecycleResult(
                state=closed, withdraw=open_escalation, removal=HANDOFF_REMOVALS[event.status]
            )
        resume = command(
            state, BotCommandKind.RESUME, event.event_id, event.ts, f"handoff {event.status.value}"
        )
        closed = closed.model_copy(update={"last_command": resume})
        return LifecycleResult(state=closed, commands=(resume,))

    def session(self, state: SessionState, event: SessionEvent) -> LifecycleResult:
        """A started session needs nothing; an ended one is dropped (and its queue entry too)."""
        if event.action is SessionAction.STARTED:
            return LifecycleResult(state=state)
        pending = state.escalation if state.handoff is HandoffPhase.PENDING else None
        return LifecycleResult(state=None, withdraw=pending, removal=Removal.SESSION_ENDED)

    def next_check(self, state: SessionState) -> datetime | None:
        """When a tick next has something to do for this session (expiry or an SLA)."""
        since = idle_since(state)
        if since is None:
            return None
        handoff = self.policy.handoff
        due = since + timedelta(seconds=self._idle_ttl(state))
        escalation = state.escalation
        if (
            escalation is not None
            and state.handoff is HandoffPhase.PENDING
            and state.escalated_at is not None
            and state.sla_breaches < handoff.max_sla_breaches
        ):
            due = min(
                due, state.escalated_at + timedelta(seconds=handoff.sla_for(escalation.queue))
            )
        return due

    def tick(self, state: SessionState, now: datetime, tick_id: str) -> LifecycleResult:
        """Time passes (``now``: the worker's clock): expire idle state, raise escalations
        nobody accepted in time."""
        handoff = self.policy.handoff
        since = idle_since(state)
        if since is not None and (now - since).total_seconds() >= self._idle_ttl(state):
            pending = state.escalation if state.handoff is HandoffPhase.PENDING else None
            return LifecycleResult(state=None, withdraw=pending, removal=Removal.IDLE_EXPIRED)
        escalation = state.escalation
        if (
            escalation is None
            or state.handoff is not HandoffPhase.PENDING
            or state.escalated_at is None
            or state.sla_breaches >= handoff.max_sla_breaches
            or (now - state.escalated_at).total_seconds() < handoff.sla_for(escalation.queue)
        ):
            return LifecycleResult(state=state)
        return self._breach(state, escalation, now, tick_id)

    def _idle_ttl(self, state: SessionState) -> float:
        """Seconds of idleness before the state is dropped: longer with an open escalation."""
        handoff = self.policy.handoff
        if state.escalation:
            return handoff.open_escalation_expiry_seconds
        return handoff.idle_expiry_seconds

    def _breach(
        self, state: SessionState, escalation: Escalation, now: datetime, tick_id: str
    ) -> LifecycleResult:
        handoff = self.policy.handoff
        breaches = state.sla_breaches + 1
        waited = (now - (state.escalated_at or now)).total_seconds()
        overflow = breaches >= handoff.overflow_after_breaches
        raised = escalation.model_copy(
            update={
                "escalation_id": str(
                    uuid.uuid5(COMMAND_NAMESPACE, f"{escalation.escalation_id}\nsla{breaches}")
                ),
                "reasons": [
                    ReasonCode.SLA_BREACH,
                    *(r for r in escalation.reasons if r is not ReasonCode.SLA_BREACH),
                ],
                "priority": max(1, escalation.priority - 1),
                "queue": handoff.overflow_queue if overflow else escalation.queue,
                "created_at": now,
                "evidence": [
                    Evidence(
                        reason=ReasonCode.SLA_BREACH,
                        event_id=tick_id,
                        cue=f"not_accepted:{escalation.queue}:{waited:.0f}s",
                        excerpt=f"waited {waited:.0f}s in {escalation.queue} "
                        f"(SLA {handoff.sla_for(escalation.queue):.0f}s)",
                    ),
                    *(
                        item
                        for item in escalation.evidence
                        if item.reason is not ReasonCode.SLA_BREACH
                    ),
                ],
            }
        )
        raised_state = state.model_copy(
            update={"escalation": raised, "escalated_at": now, "sla_breaches": breaches}
        )
        notify = command(
            raised_state,
            BotCommandKind.NOTIFY_CUSTOMER,
            tick_id,
            now,
            "sla_breach",
            handoff.notify_message,
        )
        raised_state = raised_state.model_copy(update={"last_command": notify})
        return LifecycleResult(
            state=raised_state,
            commands=(notify,),
            deliver=raised,
            replaces=escalation,
            removal=Removal.SLA_BREACH,
        )
