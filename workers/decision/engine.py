"""Apply one chat event to a session's state and decide whether a person must take over."""

import uuid
from dataclasses import dataclass
from typing import TypeVar

from schemas.escalation import (
    ActionAttempt,
    Escalation,
    Evidence,
    FrustrationSummary,
    HandoffSummary,
    ReasonCode,
)
from schemas.events import ActionEvent, MessageEvent, Role
from schemas.trace import Matrix, TraceRecord, Verdict
from workers.decision.frustration import score_message
from workers.decision.human_request import detect_human_request
from workers.decision.policy import Policy
from workers.decision.state import SessionState
from workers.decision.text import excerpt

# Fixed namespace: escalation ids must be the same on every worker and in every replay.
ESCALATION_NAMESPACE = uuid.UUID("6b1d8a52-3c1e-4c43-9a59-2f2f6f0f5e10")
GOAL_CHARS = 500
# Reasons in the order they are listed when several fire with the same priority.
REASON_ORDER = tuple(ReasonCode)
T = TypeVar("T")


def escalation_id_for(session_id: str, trigger_event_id: str) -> str:
    """Deterministic id: re-processing the same event cannot create a second escalation."""
    return str(uuid.uuid5(ESCALATION_NAMESPACE, f"{session_id}\n{trigger_event_id}"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of applying one event.

    ``deliver`` is the escalation the caller must (re)deliver: the new one, or, when the event
    is a redelivery of the one that triggered an escalation, that escalation again, so a crash
    between saving state and enqueueing cannot lose it. ``trace.escalation`` is only ever new.
    """

    state: SessionState
    trace: TraceRecord
    deliver: Escalation | None


def _append_bounded(items: list[T], item: T, limit: int) -> list[T]:
    return [*items, item][-limit:]


class DecisionEngine:
    """Pure and deterministic: the same state and event always give the same outcome."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()

    def apply(self, state: SessionState | None, event: MessageEvent | ActionEvent) -> Outcome:
        """Fold ``event`` into ``state`` (None for a new session) and decide."""
        state = state or SessionState(session_id=event.session_id)
        if event.event_id in state.recent_event_ids:
            return self._redelivery(state, event)

        bounds = self.policy.bounds
        updates: dict[str, object] = {
            "events_applied": state.events_applied + 1,
            "recent_event_ids": _append_bounded(
                state.recent_event_ids, event.event_id, bounds.recent_event_ids
            ),
            "last_ts": max(state.last_ts, event.ts) if state.last_ts else event.ts,
            "channel": event.channel or state.channel,
            "locale": event.locale or state.locale,
            "customer_tier": event.customer_tier or state.customer_tier,
        }
        message_score = 0.0
        evidence: dict[ReasonCode, list[Evidence]] = {}

        if isinstance(event, ActionEvent):
            attempt = ActionAttempt(
                event_id=event.event_id, name=event.action.name, status=event.action.status
            )
            updates["actions"] = _append_bounded(state.actions, attempt, bounds.actions)
        elif event.role is Role.CUSTOMER:
            message_score = self._customer_message(state, event, updates, evidence)
        elif event.role is Role.BOT:
            updates["bot_turns"] = state.bot_turns + 1
            if event.intent_confidence is not None:
                updates["intent_confidences"] = _append_bounded(
                    state.intent_confidences, event.intent_confidence, bounds.intent_confidences
                )

        state = state.model_copy(update=updates)
        if self._frustration_escalates(state):
            evidence[ReasonCode.FRUSTRATION] = list(state.negative_run)

        signals = sorted(evidence, key=REASON_ORDER.index)
        new_escalation = None
        if signals and state.escalation is None:
            new_escalation = self._escalate(state, event, evidence)
            state = state.model_copy(update={"escalation": new_escalation})

        trace = TraceRecord(
            event_id=event.event_id,
            session_id=event.session_id,
            frustration=message_score,
            signals=signals,
            matrix=self._matrix(state),
            escalation=new_escalation,
        )
        return Outcome(state=state, trace=trace, deliver=new_escalation)

    def _customer_message(
        self,
        state: SessionState,
        event: MessageEvent,
        updates: dict[str, object],
        evidence: dict[ReasonCode, list[Evidence]],
    ) -> float:
        policy = self.policy.frustration
        bounds = self.policy.bounds
        scored = score_message(event.text)
        level = policy.smoothing * scored.score + (1 - policy.smoothing) * state.frustration_level
        updates["customer_turns"] = state.customer_turns + 1
        updates["frustration_trend"] = _append_bounded(
            state.frustration_trend, scored.score, bounds.frustration_turns
        )
        updates["frustration_level"] = round(level, 4)
        if not state.goal and event.text.strip():
            updates["goal"] = excerpt(event.text, GOAL_CHARS)
        if scored.score >= policy.negative_turn_score:
            updates["consecutive_negative"] = state.consecutive_negative + 1
            cue = "+".join(scored.cues) or "frustration"
            item = Evidence(
                reason=ReasonCode.FRUSTRATION,
                event_id=event.event_id,
                cue=cue,
                excerpt=excerpt(event.text),
                score=scored.score,
            )
            updates["negative_run"] = _append_bounded(
                state.negative_run, item, bounds.evidence_per_reason
            )
        else:
            updates["consecutive_negative"] = 0
            updates["negative_run"] = []

        request = detect_human_request(event.text)
        if request is not None:
            evidence[ReasonCode.HUMAN_REQUESTED] = [
                Evidence(
                    reason=ReasonCode.HUMAN_REQUESTED,
                    event_id=event.event_id,
                    cue=request.cue,
                    excerpt=excerpt(event.text),
                )
            ]
        return scored.score

    def _frustration_escalates(self, state: SessionState) -> bool:
        policy = self.policy.frustration
        if state.consecutive_negative >= policy.persistent_turns:
            return True
        return state.consecutive_negative >= 2 and state.frustration_level >= policy.level_threshold

    def _escalate(
        self,
        state: SessionState,
        event: MessageEvent | ActionEvent,
        evidence: dict[ReasonCode, list[Evidence]],
    ) -> Escalation:
        routes = {reason: self.policy.route_for(reason) for reason in evidence}
        reasons = sorted(evidence, key=lambda r: (routes[r].priority, REASON_ORDER.index(r)))
        route = routes[reasons[0]]
        return Escalation(
            escalation_id=escalation_id_for(event.session_id, event.event_id),
            session_id=event.session_id,
            trigger_event_id=event.event_id,
            reasons=reasons,
            priority=route.priority,
            queue=route.queue,
            created_at=event.ts,
            evidence=[item for reason in reasons for item in evidence[reason]],
            frustration=FrustrationSummary(
                level=state.frustration_level,
                trend=list(state.frustration_trend),
                consecutive_negative_turns=state.consecutive_negative,
            ),
            handoff=HandoffSummary(
                goal=state.goal,
                actions=list(state.actions),
                customer_turns=state.customer_turns,
                bot_turns=state.bot_turns,
                channel=state.channel,
                locale=state.locale,
                customer_tier=state.customer_tier,
            ),
        )

    def _matrix(self, state: SessionState) -> Matrix:
        """A first matrix: emotional load from frustration, ambiguity from NLU confidence."""
        confidences = state.intent_confidences
        ambiguity = 1.0 - sum(confidences) / len(confidences) if confidences else 0.0
        watch = (
            state.frustration_level >= self.policy.watch_emotional_load
            or ambiguity >= self.policy.watch_context_ambiguity
        )
        return Matrix(
            emotional_load=state.frustration_level,
            context_ambiguity=round(ambiguity, 4),
            consequence=0.0,
            topics=[],
            verdict=Verdict.WATCH if watch else Verdict.AI_SAFE,
        )

    def _redelivery(self, state: SessionState, event: MessageEvent | ActionEvent) -> Outcome:
        """An event already applied: change nothing, but hand back its escalation if it had one."""
        deliver = (
            state.escalation
            if state.escalation and state.escalation.trigger_event_id == event.event_id
            else None
        )
        trace = TraceRecord(
            event_id=event.event_id,
            session_id=event.session_id,
            frustration=0.0,
            signals=[],
            matrix=self._matrix(state),
            escalation=None,
            duplicate=True,
        )
        return Outcome(state=state, trace=trace, deliver=deliver)
