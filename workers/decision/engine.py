"""Apply one chat event to a session's state and decide whether a person must take over.

Detection and decision are kept apart: ``signals`` say what was seen at an event (a negative
turn, a restatement, a refusal, a high-stakes topic); an escalation needs a *trigger*, which
depends on persistence and on the CX Automation Matrix verdict (``watch`` lowers every
tolerance, ``human_required`` escalates at once).
"""

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from schemas.escalation import (
    ActionAttempt,
    Escalation,
    Evidence,
    FrustrationSummary,
    HandoffSummary,
    Matrix,
    ReasonCode,
    TranscriptTurn,
)
from schemas.events import ActionEvent, ActionStatus, MessageEvent, Role
from schemas.inbound import InboundEvent
from schemas.lifecycle import BotCommand, HandoffEvent, SessionEvent
from schemas.trace import TraceRecord, Verdict
from workers.decision import loops
from workers.decision.frustration import score_message
from workers.decision.human_request import detect_human_request
from workers.decision.lifecycle import Lifecycle, LifecycleResult, command_id_for
from workers.decision.policy import Policy, Route, TopicRule, default_policy
from workers.decision.state import HandoffPhase, SessionState
from workers.decision.text import excerpt, normalise
from workers.decision.topics import Taxonomy

# Fixed namespace: escalation ids must be the same on every worker and in every replay.
ESCALATION_NAMESPACE = uuid.UUID("6b1d8a52-3c1e-4c43-9a59-2f2f6f0f5e10")
GOAL_CHARS = 500
# Reasons in the order they are listed when several have the same priority.
REASON_ORDER = tuple(ReasonCode)
REASON_RANK = {reason: rank for rank, reason in enumerate(REASON_ORDER)}
T = TypeVar("T")
# Validated once; new sessions start as shallow copies (the engine never mutates lists in place).
_EMPTY_STATE = SessionState(session_id="-")


def escalation_id_for(session_id: str, trigger_event_id: str) -> str:
    """Deterministic id: re-processing the same event cannot create a second escalation."""
    return str(uuid.uuid5(ESCALATION_NAMESPACE, f"{session_id}\n{trigger_event_id}"))


class MatrixScores(NamedTuple):
    """The CX Automation Matrix of a session after an event (``schemas.trace.Matrix``'s fields)."""

    emotional_load: float
    context_ambiguity: float
    consequence: float
    topics: tuple[str, ...]
    verdict: Verdict


@dataclass(slots=True)
class Outcome:
    """The result of applying one event.

    ``dropped`` means the session's state is to be deleted (it ended or expired). ``deliver`` is
    the escalation the caller must (re)deliver: the new one, or, when the event is a
    redelivery of the one that triggered an escalation, that escalation again, so a crash
    between saving state and enqueueing cannot lose it; ``replaces`` names the escalation it
    supersedes in the queues (an SLA breach), ``withdraw`` one to take out of them.
    ``escalation`` is only ever new. ``commands`` go to the bot (pause, resume, notify).
    The trace record is built on request: the worker does not need it, replay does.
    """

    state: SessionState
    session_id: str
    deliver: Escalation | None
    escalation: Escalation | None
    event_id: str
    frustration: float
    signals: tuple[ReasonCode, ...]
    engine: "DecisionEngine"
    duplicate: bool = False
    commands: tuple[BotCommand, ...] = ()
    replaces: Escalation | None = None
    withdraw: Escalation | None = None
    dropped: bool = False

    @property
    def matrix(self) -> "MatrixScores":
        """The CX Automation Matrix of the session after this event (computed on request)."""
        return self.engine.matrix(self.state)

    @property
    def trace(self) -> TraceRecord:
        """The ``replay --trace`` record of this event."""
        return TraceRecord(
            event_id=self.event_id,
            session_id=self.session_id,
            frustration=self.frustration,
            signals=list(self.signals),
            matrix=Matrix(**self.matrix._asdict()),
            escalation=self.escalation,
            duplicate=self.duplicate,
        )


def _bounded(items: list[T], item: T, limit: int) -> list[T]:
    return [*items, item][-limit:]


def _merge_facts(
    known: dict[str, list[str]], given: dict[str, list[str]], keep: int
) -> dict[str, list[str]]:
    """Latest distinct values per kind, newest last."""
    merged = {kind: list(values) for kind, values in known.items()}
    for kind, values in given.items():
        current = [value for value in merged.get(kind, []) if value not in values]
        merged[kind] = [*current, *dict.fromkeys(values)][-keep:]
    return merged


SHORT_TEXT = 80


def fit_packet(escalation: Escalation, max_bytes: int) -> Escalation:
    """Cut an escalation until its JSON fits ``max_bytes``: first the oldest transcript turns,
    then the evidence excerpts to SHORT_TEXT characters, the goal and the metadata. Reasons,
    facts and actions always stay; ``handoff.truncated`` says it was cut."""
    if len(escalation.model_dump_json()) <= max_bytes:
        return escalation
    handoff = escalation.handoff.model_copy(update={"truncated": True})
    packet = escalation.model_copy(update={"handoff": handoff})
    while handoff.transcript and len(packet.model_dump_json()) > max_bytes:
        handoff = handoff.model_copy(update={"transcript": handoff.transcript[1:]})
        packet = packet.model_copy(update={"handoff": handoff})
    if len(packet.model_dump_json()) > max_bytes:
        evidence = [
            item.model_copy(update={"excerpt": excerpt(item.excerpt, SHORT_TEXT)})
            for item in packet.evidence
        ]
        handoff = handoff.model_copy(
            update={"goal": excerpt(handoff.goal, 4 * SHORT_TEXT), "metadata": {}}
        )
        packet = packet.model_copy(update={"evidence": evidence, "handoff": handoff})
    return packet


class _Step:
    """Working copy of one event's changes: field updates plus the signals seen."""

    __slots__ = ("event", "request", "score", "signals", "state", "updates")

    def __init__(self, state: SessionState, event: MessageEvent | ActionEvent) -> None:
        self.state = state
        self.event = event
        self.updates: dict[str, Any] = {}
        self.signals: set[ReasonCode] = set()
        self.score = 0.0
        self.request: Evidence | None = None

    def get(self, name: str) -> Any:
        return self.updates[name] if name in self.updates else getattr(self.state, name)

    def evidence(
        self, reason: ReasonCode, cue: str, text: str = "", score: float | None = None
    ) -> Evidence:
        # Constructed without validation: every value comes from validated input or the engine.
        return Evidence.model_construct(
            reason=reason, event_id=self.event.event_id, cue=cue, excerpt=excerpt(text), score=score
        )


class DecisionEngine:
    """Pure and deterministic: the same state and event always give the same outcome."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        self._topics = {topic.name: topic for topic in self.policy.topics}
        self._taxonomy = Taxonomy(self.policy.topics)
        self._lifecycle = Lifecycle(self.policy)

    def apply(self, state: SessionState | None, event: InboundEvent) -> Outcome:
        """Fold ``event`` into ``state`` (None for a new session) and decide."""
        new = state is None
        state = state or _EMPTY_STATE
        if event.event_id in state.recent_event_ids:
            return self._redelivery(state, event)
        if isinstance(event, HandoffEvent | SessionEvent):
            if new:
                state = state.model_copy(update={"session_id": event.session_id})
            return self._lifecycle_event(state, event)

        bounds = self.policy.bounds
        step = _Step(state, event)
        if new:
            step.updates["session_id"] = event.session_id
        step.updates.update(
            events_applied=state.events_applied + 1,
            recent_event_ids=_bounded(
                state.recent_event_ids, event.event_id, bounds.recent_event_ids
            ),
            last_ts=max(state.last_ts, event.ts) if state.last_ts else event.ts,
        )
        if event.channel:
            step.updates["channel"] = event.channel
        if event.locale:
            step.updates["locale"] = event.locale
        if event.customer_tier:
            step.updates["customer_tier"] = event.customer_tier
        if event.metadata:
            merged = {**state.metadata, **event.metadata}
            step.updates["metadata"] = dict(list(merged.items())[-bounds.metadata_keys :])
        if isinstance(event, MessageEvent) and bounds.transcript_turns:
            turn = (
                event.event_id,
                event.ts,
                event.role.value,
                event.text[: bounds.transcript_chars],
            )
            step.updates["transcript"] = _bounded(state.transcript, turn, bounds.transcript_turns)
        if isinstance(event, ActionEvent):
            self._action(step, event)
        elif event.role is Role.CUSTOMER:
            self._customer(step, event)
        elif event.role is Role.BOT:
            self._bot(step, event)

        state = state.model_copy(update=step.updates)
        verdict = self._verdict(state)
        if verdict is Verdict.HUMAN_REQUIRED:
            step.signals.add(ReasonCode.HIGH_STAKES)

        new_escalation = None
        cooling = state.cooldown_until is not None and event.ts < state.cooldown_until
        if state.escalation is None and not cooling:
            triggers = self._triggers(state, step, verdict)
            if triggers:
                new_escalation = self._escalate(state, event, triggers)
                state = state.model_copy(
                    update={
                        "escalation": new_escalation,
                        "handoff": HandoffPhase.PENDING,
                        "escalated_at": event.ts,
                        "sla_breaches": 0,
                    }
                )

        return Outcome(
            state=state,
            session_id=event.session_id,
            deliver=new_escalation,
            escalation=new_escalation,
            event_id=event.event_id,
            frustration=step.score,
            signals=tuple(sorted(step.signals, key=REASON_RANK.__getitem__)),
            engine=self,
        )

    # -- folding events into state ---------------------------------------------------------

    def _customer(self, step: _Step, event: MessageEvent) -> None:
        policy, bounds, state = self.policy, self.policy.bounds, step.state
        text = event.text
        folded = normalise(text)
        scored = score_message(text, folded)
        step.score = scored.score
        level = (
            policy.frustration.smoothing * scored.score
            + (1 - policy.frustration.smoothing) * state.frustration_level
        )
        step.updates.update(
            customer_turns=state.customer_turns + 1,
            frustration_trend=_bounded(
                state.frustration_trend, scored.score, bounds.frustration_turns
            ),
            frustration_level=round(level, 4),
        )
        if not state.goal and text.strip():
            step.updates["goal"] = excerpt(text, GOAL_CHARS)
        negative = scored.score >= policy.frustration.negative_turn_score
        if negative:
            step.signals.add(ReasonCode.FRUSTRATION)
            item = step.evidence(
                ReasonCode.FRUSTRATION, "+".join(scored.cues) or "negative", text, scored.score
            )
            step.updates["consecutive_negative"] = state.consecutive_negative + 1
            step.updates["negative_run"] = _bounded(
                state.negative_run, item, bounds.evidence_per_reason
            )
        else:
            step.updates["consecutive_negative"] = 0
            step.updates["negative_run"] = []

        request = detect_human_request(text, folded)
        if request is not None:
            step.signals.add(ReasonCode.HUMAN_REQUESTED)
            step.request = step.evidence(ReasonCode.HUMAN_REQUESTED, request.cue, text)

        self._customer_loop(step, text, folded, negative=negative)
        self._topics_in(step, text, folded)
        given = loops.facts_in(folded)
        if given:
            step.updates["facts"] = _merge_facts(state.facts, given, bounds.facts_per_kind)

    def _customer_loop(self, step: _Step, text: str, folded: str, negative: bool) -> None:
        state, loop = step.state, self.policy.loop
        print_ = loops.fingerprint(folded, self.policy.bounds.fingerprint_tokens)
        cue_match = loops.RESTATEMENT_CUES.search(folded)
        earlier = state.customer_prints[-loop.turns_compared :]
        overlap = loops.most_similar(print_, earlier) if loops.is_substantial(print_) else 0.0
        bar = loop.negative_restatement_similarity if negative else loop.restatement_similarity
        if cue_match or overlap >= bar:
            cue = f"says:{cue_match.group(0)}" if cue_match else f"restated:{overlap:.2f}"
            self._loop_evidence(step, cue, text)
            step.updates["restatements"] = state.restatements + 1
        step.updates["customer_prints"] = _bounded(
            state.customer_prints, print_, loop.turns_compared
        )

    def _bot(self, step: _Step, event: MessageEvent) -> None:
        state, loop, bounds = step.state, self.policy.loop, self.policy.bounds
        text = event.text
        reply = loops.bot_reply(text, bounds.fingerprint_tokens)
        step.updates["bot_turns"] = state.bot_turns + 1
        if event.intent_confidence is not None:
            step.updates["intent_confidences"] = _bounded(
                state.intent_confidences, event.intent_confidence, bounds.intent_confidences
            )
        if event.intent:
            step.updates["intents"] = _bounded(
                state.intents, event.intent, bounds.intent_confidences
            )
        if reply.fallback:
            step.updates["fallbacks"] = state.fallbacks + 1

        print_ = reply.print_
        sent_links = reply.links
        repeated_link = next((url for url in sent_links if url in state.bot_links), None)
        overlap = loops.most_similar(print_, state.bot_prints[-loop.turns_compared :])
        repeated = repeated_link is not None or (
            loops.is_substantial(print_) and overlap >= loop.bot_repeat_similarity
        )
        if repeated:
            self._loop_evidence(
                step,
                f"same_link:{repeated_link}" if repeated_link else f"bot_repeat:{overlap:.2f}",
                text,
            )
            step.updates["bot_repeats"] = state.bot_repeats + 1
        step.updates["bot_prints"] = _bounded(state.bot_prints, print_, loop.turns_compared)
        if sent_links:
            step.updates["bot_links"] = (
                state.bot_links + [u for u in sent_links if u not in state.bot_links]
            )[-10:]

        news = not repeated and loops.is_substantial(print_)
        if reply.empathy:
            if state.empathy_seen and not state.news_since_empathy:
                self._loop_evidence(step, "hollow_empathy", text)
                step.updates["hollow_empathy"] = state.hollow_empathy + 1
            step.updates["empathy_seen"] = True
            step.updates["news_since_empathy"] = False
        elif news:
            step.updates["news_since_empathy"] = True

        asked = [kind for kind in reply.asks if kind in state.facts]
        if asked:
            self._loop_evidence(step, f"asks_again:{asked[0]}", text)
            step.updates["restatements"] = step.get("restatements") + 1

        if reply.refusal:
            self._gap(step, f"refusal:{reply.refusal}", text)

    def _action(self, step: _Step, event: ActionEvent) -> None:
        state, bounds = step.state, self.policy.bounds
        name, status = event.action.name, event.action.status
        attempt = ActionAttempt.model_construct(event_id=event.event_id, name=name, status=status)
        step.updates["actions"] = _bounded(state.actions, attempt, bounds.actions)
        if status is ActionStatus.SUCCEEDED:
            failures = {
                key: value for key, value in state.failures_by_action.items() if key != name
            }
            step.updates.update(gaps=0, failures_by_action=failures, news_since_empathy=True)
            return
        failures = dict(state.failures_by_action)
        failures[name] = failures.get(name, 0) + 1
        if len(failures) > bounds.actions:
            failures.pop(next(iter(failures)))
        step.updates["failures_by_action"] = failures
        self._gap(step, f"action_{status.value}:{name}", event.action.detail or name)

    def _gap(self, step: _Step, cue: str, text: str) -> None:
        step.signals.add(ReasonCode.CAPABILITY_GAP)
        item = step.evidence(ReasonCode.CAPABILITY_GAP, cue, text)
        step.updates["gaps"] = step.get("gaps") + 1
        step.updates["gap_evidence"] = _bounded(
            step.get("gap_evidence"), item, self.policy.bounds.evidence_per_reason
        )

    def _loop_evidence(self, step: _Step, cue: str, text: str) -> None:
        step.signals.add(ReasonCode.LOOP)
        item = step.evidence(ReasonCode.LOOP, cue, text)
        step.updates["loop_evidence"] = _bounded(
            step.get("loop_evidence"), item, self.policy.bounds.evidence_per_reason
        )

    def _topics_in(self, step: _Step, text: str, folded: str) -> None:
        hits = [
            hit
            for hit in self._taxonomy.find(folded)
            if hit.rule.consequence >= self.policy.matrix.watch_consequence
        ]
        if not hits:
            return
        step.signals.add(ReasonCode.HIGH_STAKES)
        known = list(step.state.topics)
        evidence = list(step.state.topic_evidence)
        for hit in hits:
            if hit.rule.name not in known:
                known.append(hit.rule.name)
                evidence.append(
                    step.evidence(
                        ReasonCode.HIGH_STAKES, f"topic:{hit.rule.name}", text, hit.rule.consequence
                    )
                )
        step.updates["topics"] = known
        step.updates["topic_evidence"] = evidence[-self.policy.bounds.evidence_per_reason :]

    # -- the matrix and the decision ---------------------------------------------------------

    def _session_topics(self, names: list[str]) -> list[TopicRule]:
        return [self._topics[name] for name in names if name in self._topics]

    def _verdict(self, state: SessionState) -> Verdict:
        """The matrix verdict, without building the matrix in the common case: a session with
        no topic and no ambiguity cue is judged on its frustration level alone."""
        if state.topics or state.intent_confidences or state.fallbacks or len(state.intents) > 1:
            return self.matrix(state).verdict
        if state.frustration_level >= self.policy.matrix.watch_emotional_load:
            return Verdict.WATCH
        return Verdict.AI_SAFE

    def matrix(self, state: SessionState) -> "MatrixScores":
        """Emotional load, context ambiguity and consequence of the session so far."""
        policy = self.policy.matrix
        topics = self._session_topics(state.topics) if state.topics else []
        emotional = state.frustration_level
        consequence = 0.0
        human_required = False
        for topic in topics:
            emotional = max(emotional, topic.emotional_load)
            consequence = max(consequence, topic.consequence)
            human_required = human_required or topic.human_required

        ambiguity = 0.0
        confidences = state.intent_confidences
        if confidences:
            ambiguity = 1.0 - sum(confidences) / len(confidences)
        if state.fallbacks:
            ambiguity = max(ambiguity, min(1.0, 2 * state.fallbacks / state.bot_turns))
        intents = state.intents
        if len(intents) > 1:
            switches = sum(1 for before, after in itertools.pairwise(intents) if before != after)
            ambiguity = max(ambiguity, switches / (len(intents) - 1))

        if (human_required or consequence >= policy.human_required_consequence) or (
            consequence >= policy.watch_consequence
            and emotional >= policy.watch_emotional_load
            and ambiguity >= policy.watch_context_ambiguity
        ):
            verdict = Verdict.HUMAN_REQUIRED
        elif (
            consequence >= policy.watch_consequence
            or emotional >= policy.watch_emotional_load
            or ambiguity >= policy.watch_context_ambiguity
        ):
            verdict = Verdict.WATCH
        else:
            verdict = Verdict.AI_SAFE
        return MatrixScores(
            emotional_load=round(emotional, 4),
            context_ambiguity=round(ambiguity, 4),
            consequence=consequence,
            topics=tuple(topic.name for topic in topics),
            verdict=verdict,
        )

    def _frustration_triggers(self, state: SessionState, watch: bool) -> bool:
        policy = self.policy.frustration
        persistent = (
            self.policy.watch.frustration_persistent_turns if watch else policy.persistent_turns
        )
        if state.consecutive_negative >= persistent:
            return True
        if state.consecutive_negative >= 2 and state.frustration_level >= policy.level_threshold:
            return True
        recent = state.frustration_trend[-policy.rising_turns :]
        rising = (
            len(recent) == policy.rising_turns
            and recent[0] >= policy.rising_from
            and all(a < b for a, b in itertools.pairwise(recent))
        )
        return rising and state.consecutive_negative >= 1

    def _triggers(
        self, state: SessionState, step: _Step, verdict: Verdict
    ) -> dict[ReasonCode, list[Evidence]]:
        """The reasons that justify a handoff now, each with its evidence."""
        if not step.signals:
            return {}
        watch = verdict is not Verdict.AI_SAFE
        loop = self.policy.loop
        tolerance = self.policy.watch if watch else None
        restatements = (
            tolerance.restatements_to_escalate if tolerance else loop.restatements_to_escalate
        )
        bot_repeats = (
            tolerance.bot_repeats_to_escalate if tolerance else loop.bot_repeats_to_escalate
        )
        hollow = (
            tolerance.hollow_empathy_to_escalate if tolerance else loop.hollow_empathy_to_escalate
        )
        gaps = tolerance.gaps_to_escalate if tolerance else self.policy.capability.gaps_to_escalate

        found: dict[ReasonCode, list[Evidence]] = {}
        if step.request is not None:
            found[ReasonCode.HUMAN_REQUESTED] = [step.request]
        if verdict is Verdict.HUMAN_REQUIRED:
            found[ReasonCode.HIGH_STAKES] = list(state.topic_evidence)
        if ReasonCode.FRUSTRATION in step.signals and self._frustration_triggers(state, watch):
            found[ReasonCode.FRUSTRATION] = list(state.negative_run)
        if ReasonCode.LOOP in step.signals and (
            state.restatements >= restatements
            or state.bot_repeats >= bot_repeats
            or state.hollow_empathy >= hollow
        ):
            found[ReasonCode.LOOP] = list(state.loop_evidence)
        if ReasonCode.CAPABILITY_GAP in step.signals and (
            state.gaps >= gaps
            or max(state.failures_by_action.values(), default=0)
            >= self.policy.capability.same_action_failures
        ):
            found[ReasonCode.CAPABILITY_GAP] = list(state.gap_evidence)
        if found and ReasonCode.HIGH_STAKES not in found and state.topic_evidence:
            # Context for the person and for routing: the session touches a consequential topic.
            found[ReasonCode.HIGH_STAKES] = list(state.topic_evidence)
        return {reason: items for reason, items in found.items() if items}

    def _route(
        self, state: SessionState, reasons: list[ReasonCode]
    ) -> tuple[Route, list[ReasonCode]]:
        """The most urgent route among the reasons; high stakes route by the weightiest topic."""
        routes: dict[ReasonCode, Route] = {}
        for reason in reasons:
            if reason is ReasonCode.HIGH_STAKES and state.topics:
                topics = self._session_topics(state.topics)
                weightiest = max(
                    topics, key=lambda topic: (topic.human_required, topic.consequence)
                )
                routes[reason] = weightiest.route
            else:
                routes[reason] = self.policy.route_for(reason)
        ordered = sorted(reasons, key=lambda r: (routes[r].priority, REASON_RANK[r]))
        return routes[ordered[0]], ordered

    def _escalate(
        self,
        state: SessionState,
        event: MessageEvent | ActionEvent,
        evidence: dict[ReasonCode, list[Evidence]],
    ) -> Escalation:
        route, reasons = self._route(state, list(evidence))
        # Personal data is redacted here, before the packet leaves for Redis and Kafka; SLA
        # re-escalations copy this packet, so they stay redacted.
        redaction = self.policy.redaction
        redact = redaction.packets.redact
        escalation = Escalation(
            escalation_id=escalation_id_for(event.session_id, event.event_id),
            session_id=event.session_id,
            trigger_event_id=event.event_id,
            reasons=reasons,
            priority=route.priority,
            queue=route.queue,
            created_at=event.ts,
            evidence=[  # never longer than before: the schema bounds an excerpt's length
                item.model_copy(
                    update={"excerpt": excerpt(redact(item.excerpt), max(len(item.excerpt), 1))}
                )
                for reason in reasons
                for item in evidence[reason]
            ],
            frustration=FrustrationSummary(
                level=state.frustration_level,
                trend=list(state.frustration_trend),
                consecutive_negative_turns=state.consecutive_negative,
            ),
            matrix=Matrix(**self.matrix(state)._asdict()),
            handoff=HandoffSummary(
                goal=redact(state.goal),
                facts={
                    kind: [redact(value) for value in values]
                    for kind, values in state.facts.items()
                    if kind not in redaction.drop_fact_kinds
                },
                actions=list(state.actions),
                transcript=[
                    TranscriptTurn(
                        event_id=event_id,
                        ts=ts,
                        role=role,
                        text=excerpt(redact(text), self.policy.bounds.transcript_chars),
                    )
                    for event_id, ts, role, text in state.transcript
                ],
                customer_turns=state.customer_turns,
                bot_turns=state.bot_turns,
                channel=state.channel,
                locale=state.locale,
                customer_tier=state.customer_tier,
                metadata={
                    key: redact(value) if isinstance(value, str) else value
                    for key, value in state.metadata.items()
                },
            ),
        )
        return fit_packet(escalation, self.policy.handoff.max_packet_bytes)

    def next_check(self, state: SessionState) -> datetime | None:
        """When a tick next has something to do for this session."""
        return self._lifecycle.next_check(state)

    def tick(self, state: SessionState, now: datetime, tick_id: str) -> Outcome:
        """Apply a clock tick: SLA watchdog and expiry (timers cannot write state; ticks can)."""
        return self._lifecycle_outcome(state, tick_id, self._lifecycle.tick(state, now, tick_id))

    def _lifecycle_event(self, state: SessionState, event: HandoffEvent | SessionEvent) -> Outcome:
        noted = state.model_copy(
            update={
                "events_applied": state.events_applied + 1,
                "recent_event_ids": _bounded(
                    state.recent_event_ids, event.event_id, self.policy.bounds.recent_event_ids
                ),
            }
        )
        if isinstance(event, HandoffEvent):
            result = self._lifecycle.handoff(noted, event)
        else:
            result = self._lifecycle.session(noted, event)
        return self._lifecycle_outcome(noted, event.event_id, result)

    def _lifecycle_outcome(
        self, before: SessionState, event_id: str, result: LifecycleResult
    ) -> Outcome:
        after = result.state
        return Outcome(
            state=after or before,
            dropped=after is None,
            session_id=before.session_id,
            deliver=result.deliver,
            escalation=result.deliver,
            event_id=event_id,
            frustration=0.0,
            signals=(ReasonCode.SLA_BREACH,) if result.deliver else (),
            engine=self,
            commands=result.commands,
            replaces=result.replaces,
            withdraw=result.withdraw,
        )

    def _redelivery(self, state: SessionState, event: InboundEvent) -> Outcome:
        """An event already applied: change nothing, but hand back what it caused, so a crash
        between saving state and delivering cannot lose an escalation or a bot command."""
        escalation = state.escalation
        deliver = (
            escalation if escalation and escalation.trigger_event_id == event.event_id else None
        )
        last = state.last_command
        repeat = (
            (last,)
            if last is not None
            and last.command_id == command_id_for(state, event.event_id, last.command)
            else ()
        )
        return Outcome(
            state=state,
            session_id=state.session_id,
            deliver=deliver,
            escalation=None,
            event_id=event.event_id,
            frustration=0.0,
            signals=(),
            engine=self,
            duplicate=True,
            commands=repeat,
        )
