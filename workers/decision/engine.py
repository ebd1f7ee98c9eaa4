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
from workers.decision.evolve import construct, evolve
from workers.decision.frustration import score_message
from workers.decision.human_request import HumanRequest, detect_human_request, negated_before
from workers.decision.lifecycle import Lifecycle, LifecycleResult, Removal, command_id_for
from workers.decision.models import ngrams_of, shared_model
from workers.decision.policy import EvidenceKind, Policy, Route, TopicRule, default_policy
from workers.decision.state import HandoffPhase, Observation, SessionState
from workers.decision.text import excerpt, normalise, words
from workers.decision.topics import Taxonomy, TopicHit, hypothetical
from workers.redaction import Redactor

# Fixed namespace: escalation ids must be the same on every worker and in every replay.
ESCALATION_NAMESPACE = uuid.UUID("6b1d8a52-3c1e-4c43-9a59-2f2f6f0f5e10")
GOAL_CHARS = 500
# Reasons in the order they are listed when several have the same priority.
REASON_ORDER = tuple(ReasonCode)
REASON_RANK = {reason: rank for rank, reason in enumerate(REASON_ORDER)}
BOT_FAILURES = frozenset(
    {
        EvidenceKind.BOT_REPEAT,
        EvidenceKind.ASKS_AGAIN,
        EvidenceKind.HOLLOW_EMPATHY,
        EvidenceKind.DEFLECTION,
        EvidenceKind.SYMPATHY_ONLY,
    }
)
"""What the bot does that makes praise right after it read as sarcasm."""
EXCHANGE_LIMIT = 16
"""Observations of one exchange kept at most (the oldest go first)."""
T = TypeVar("T")
# Validated once; new sessions start as shallow copies (the engine never mutates lists in place).
_EMPTY_STATE = SessionState(session_id="-")


def escalation_id_for(session_id: str, trigger_event_id: str) -> str:
    """Deterministic id: re-processing the same event cannot create a second escalation."""
    return str(uuid.uuid5(ESCALATION_NAMESPACE, f"{session_id}\n{trigger_event_id}"))


class EvidenceScore(NamedTuple):
    """The session's evidence score: the contribution of each kind and the items behind it."""

    score: float
    parts: dict[EvidenceKind, float]
    items: tuple[Evidence, ...]


NO_EVIDENCE = EvidenceScore(score=0.0, parts={}, items=())
TOPIC_SCORES_KEPT = 4096
"""How many topic combinations' evidence scores an engine remembers (a handful in practice)."""


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
    supersedes in the queues (an SLA breach), ``withdraw`` one to take out of them;
    ``removal`` says why the state is dropped, or an escalation withdrawn or replaced.
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
    evidence_score: float = 0.0
    duplicate: bool = False
    commands: tuple[BotCommand, ...] = ()
    replaces: Escalation | None = None
    withdraw: Escalation | None = None
    dropped: bool = False
    removal: Removal | None = None

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
            evidence_score=self.evidence_score,
            duplicate=self.duplicate,
        )


def _added(item: Evidence) -> float:
    return item.contribution or 0.0


def _shared(items: list[Evidence], threshold: float) -> list[Evidence]:
    """A reason that reached its own threshold: its items share that threshold equally."""
    share = round(threshold / len(items), 4)
    return [item.model_copy(update={"contribution": share}) for item in items]


def _bounded(items: list[T], item: T, limit: int) -> list[T]:
    return [*items, item][-limit:]


def _latest(known: datetime | None, now: datetime) -> datetime:
    """The later of two readings of the worker's clock: after a rebalance the session's new
    worker may run a little behind the old one, and idleness must not grow backwards."""
    return max(known, now) if known else now


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

    __slots__ = (
        "event",
        "observed",
        "redactor",
        "request",
        "say_do",
        "score",
        "signals",
        "state",
        "updates",
    )

    def __init__(
        self, state: SessionState, event: MessageEvent | ActionEvent, redactor: Redactor
    ) -> None:
        self.redactor = redactor
        self.state = state
        self.event = event
        self.updates: dict[str, Any] = {}
        self.signals: set[ReasonCode] = set()
        self.score = 0.0
        self.request: Evidence | None = None
        self.observed: list[tuple[EvidenceKind, Evidence]] = []
        self.say_do: list[Evidence] = []

    def get(self, name: str) -> Any:
        return self.updates[name] if name in self.updates else getattr(self.state, name)

    def evidence(
        self, reason: ReasonCode, cue: str, text: str = "", score: float | None = None
    ) -> Evidence:
        # Constructed without validation: every value comes from validated input or the engine.
        return construct(
            Evidence,
            reason=reason,
            event_id=self.event.event_id,
            cue=cue,
            excerpt=excerpt(self.redactor.redact(text)),  # redacted whole: a cut e-mail is not one
            score=score,
            contribution=None,
        )

    def observe(self, kind: EvidenceKind, item: Evidence) -> None:
        """Note an observation for the session's evidence score."""
        self.observed.append((kind, item))


class DecisionEngine:
    """Pure and deterministic: the same state and event always give the same outcome."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or default_policy()
        self._topics = {topic.name: topic for topic in self.policy.topics}
        self._taxonomy = Taxonomy(self.policy.topics)
        self._lifecycle = Lifecycle(self.policy)
        models = self.policy.models
        self._request_model = shared_model(models.human_request) if models.human_request else None
        self._topic_model = shared_model(models.high_stakes) if models.high_stakes else None
        self._topic_scores: dict[tuple[str, ...], EvidenceScore] = {}
        self._phrases_only = frozenset(models.high_stakes_phrases_only)
        self._vocabulary = frozenset().union(
            *(model.vocabulary for model in (self._request_model, self._topic_model) if model)
        )

    def apply(
        self, state: SessionState | None, event: InboundEvent, seen_at: datetime | None = None
    ) -> Outcome:
        """Fold ``event`` into ``state`` (None for a new session) and decide.

        ``seen_at`` is the worker's clock as it takes the event. Idleness counts from it, and
        an escalation the event raises is enqueued in the same step, so its SLA counts from it
        too: event times may be days old on arrival. Without it (replay, evaluation,
        benchmarks) the event's own time stands in, so those stay deterministic. A redelivered
        event changes nothing, its time of arrival included.
        """
        new = state is None
        state = state or _EMPTY_STATE
        if event.event_id in state.recent_event_ids:
            return self._redelivery(state, event)
        if isinstance(event, HandoffEvent | SessionEvent):
            if new:
                state = evolve(state, {"session_id": event.session_id})
            return self._lifecycle_event(state, event, seen_at)

        bounds = self.policy.bounds
        step = _Step(state, event, self.policy.redaction.packets)
        if new:
            step.updates["session_id"] = event.session_id
        step.updates.update(
            events_applied=state.events_applied + 1,
            recent_event_ids=_bounded(
                state.recent_event_ids, event.event_id, bounds.recent_event_ids
            ),
            last_ts=max(state.last_ts, event.ts) if state.last_ts else event.ts,
        )
        if seen_at is not None:
            step.updates["seen_at"] = _latest(state.seen_at, seen_at)
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

        if step.observed or state.exchange:
            step.updates["exchange"] = self._exchange(step, event)
        state = evolve(state, step.updates)
        verdict = self._verdict(state)
        if verdict is Verdict.HUMAN_REQUIRED:
            step.signals.add(ReasonCode.HIGH_STAKES)

        evidence = self._evidence_score(state)
        new_escalation = None
        cooling = state.cooldown_until is not None and event.ts < state.cooldown_until
        if state.escalation is None and not cooling:
            triggers = self._triggers(state, step, verdict, evidence)
            if triggers:
                new_escalation = self._escalate(state, event, triggers)
                state = evolve(
                    state,
                    {
                        "escalation": new_escalation,
                        "handoff": HandoffPhase.PENDING,
                        "escalated_at": seen_at or event.ts,
                        "sla_breaches": 0,
                    },
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
            evidence_score=evidence.score,
        )

    # -- folding events into state ---------------------------------------------------------

    def _customer(self, step: _Step, event: MessageEvent) -> None:
        policy, bounds, state = self.policy, self.policy.bounds, step.state
        text = event.text
        folded = normalise(text)
        tokens = words(folded)  # once, for the score, the request phrases and the models
        scored = score_message(text, folded, tokens)
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
            step.observe(EvidenceKind.FRUSTRATION, item)
        else:
            step.updates["consecutive_negative"] = 0
            step.updates["negative_run"] = []
            self._praise_after_failure(step, text, folded)

        # The n-grams some model knows, looked up once; the others weigh nothing.
        grams = self._vocabulary.intersection(ngrams_of(tokens))
        request = detect_human_request(text, folded, tokens) or self._learned_request(folded, grams)
        if request is not None:
            step.signals.add(ReasonCode.HUMAN_REQUESTED)
            step.request = step.evidence(ReasonCode.HUMAN_REQUESTED, request.cue, text)

        # Fingerprints and facts are kept and shown: taken from the redacted text, no fragment
        # of an e-mail, phone or card becomes a token or a fact ("[email]" may).
        cleaned = policy.redaction.packets.redact(text)
        redacted = folded if cleaned == text else normalise(cleaned)
        self._customer_loop(step, text, folded, redacted, negative=negative)
        self._topics_in(step, text, folded, tokens, grams)
        given = loops.facts_in(redacted)
        if given:
            step.updates["facts"] = _merge_facts(state.facts, given, bounds.facts_per_kind)

    def _praise_after_failure(self, step: _Step, text: str, folded: str) -> None:
        """Exaggerated praise right after the bot failed again is sarcasm: it counts as a
        negative turn's worth of frustration in the exchange (the turn's score is unchanged)."""
        failed = any(
            not seen.customer and seen.kind in BOT_FAILURES for seen in step.state.exchange
        )
        if not failed or loops.PRAISE.search(folded) is None:
            return
        score = self.policy.frustration.negative_turn_score
        step.signals.add(ReasonCode.FRUSTRATION)
        item = step.evidence(ReasonCode.FRUSTRATION, "sarcasm_after_failure", text, score)
        step.observe(EvidenceKind.FRUSTRATION, item)

    def _learned_request(self, folded: str, grams: frozenset[str]) -> HumanRequest | None:
        """A request for a person the phrase rules missed but the learned model recognises,
        unless a negation comes before its strongest cue ("no need to speak to anyone")."""
        if self._request_model is None:
            return None
        found = self._request_model.find(grams, self.policy.models.human_request_threshold)
        if found is None:
            return None
        position = folded.find(found.cues[0]) if found.cues else -1
        if position > 0 and negated_before(folded, position):
            return None
        return HumanRequest(cue=f"learned:{found.probability:.2f}", matched=" | ".join(found.cues))

    def _customer_loop(
        self, step: _Step, text: str, folded: str, redacted: str, negative: bool
    ) -> None:
        state, loop = step.state, self.policy.loop
        print_ = loops.fingerprint(redacted, self.policy.bounds.fingerprint_tokens)
        cue_match = loops.RESTATEMENT_CUES.search(folded)
        earlier = state.customer_prints[-loop.turns_compared :]
        overlap = loops.most_similar(print_, earlier) if loops.is_substantial(print_) else 0.0
        bar = loop.negative_restatement_similarity if negative else loop.restatement_similarity
        rejected = loops.REJECTS_REPLY.search(folded)
        if rejected:
            item = self._loop_evidence(step, f"rejects:{rejected.group(0).strip()}", text)
            step.observe(EvidenceKind.REPLY_REJECTED, item)
        if cue_match or overlap >= bar:
            cue = f"says:{cue_match.group(0)}" if cue_match else f"restated:{overlap:.2f}"
            step.observe(EvidenceKind.RESTATEMENT, self._loop_evidence(step, cue, text))
            step.updates["restatements"] = state.restatements + 1
        elif loops.shares_a_fact(print_, earlier) and not any(
            seen.kind is EvidenceKind.ASKS_AGAIN for seen in state.exchange
        ):
            # An amount or reference given again unasked, however the rest is worded ("Monday.
            # 1,200. Not there."): evidence for the exchange, not a restatement the loop rule
            # counts. Asked for it again, the customer is answering (the bot's re-ask counts).
            step.observe(EvidenceKind.RESTATEMENT, self._loop_evidence(step, "gives_again", text))
        step.updates["customer_prints"] = _bounded(
            state.customer_prints, print_, loop.turns_compared
        )

    def _bot(self, step: _Step, event: MessageEvent) -> None:
        state, loop, bounds = step.state, self.policy.loop, self.policy.bounds
        text = event.text
        reply = loops.bot_reply(text, bounds.fingerprint_tokens, self.policy.redaction.packets)
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
            item = self._loop_evidence(
                step,
                f"same_link:{repeated_link}" if repeated_link else f"bot_repeat:{overlap:.2f}",
                text,
            )
            step.observe(EvidenceKind.BOT_REPEAT, item)
            step.updates["bot_repeats"] = state.bot_repeats + 1
        step.updates["bot_prints"] = _bounded(state.bot_prints, print_, loop.turns_compared)
        if sent_links:
            step.updates["bot_links"] = (
                state.bot_links + [u for u in sent_links if u not in state.bot_links]
            )[-10:]

        news = not repeated and loops.is_substantial(print_)
        if reply.empathy:
            if state.empathy_seen and not state.news_since_empathy:
                item = self._loop_evidence(step, "hollow_empathy", text)
                step.observe(EvidenceKind.HOLLOW_EMPATHY, item)
                step.updates["hollow_empathy"] = state.hollow_empathy + 1
            step.updates["empathy_seen"] = True
            step.updates["news_since_empathy"] = False
        elif news:
            step.updates["news_since_empathy"] = True

        # "Please confirm: pick-up on March 4th?" repeats the value back: a confirmation.
        asked = [kind for kind in reply.asks if kind in state.facts and kind not in reply.states]
        if asked:
            item = self._loop_evidence(step, f"asks_again:{asked[0]}", text)
            step.observe(EvidenceKind.ASKS_AGAIN, item)
            step.updates["restatements"] = step.get("restatements") + 1

        if reply.refusal:
            self._gap(step, f"refusal:{reply.refusal}", text)
        elif reply.claims_success:
            self._say_do(step, text)
        if (reply.links or reply.empathy) and not (reply.asks or reply.refusal or repeated):
            self._deflection(step, bool(reply.links), text)

    def _say_do(self, step: _Step, text: str) -> None:
        """A reply that claims success after an action of this exchange failed or was not
        permitted: the bot cannot do it and says it did, a capability gap at once."""
        actions = step.state.actions
        if not actions or actions[-1].status is ActionStatus.SUCCEEDED:
            return
        latest, turn = actions[-1].event_id, step.get("customer_turns")
        failed = next(
            (
                seen.evidence
                for seen in step.state.exchange
                if seen.turn == turn and seen.evidence.event_id == latest
            ),
            None,
        )
        if failed is None:
            return
        claim = self._gap(step, f"say_do:{failed.cue.partition(':')[2]}", text)
        step.say_do = [failed, claim]

    def _deflection(self, step: _Step, link: bool, text: str) -> None:
        """A help link or sympathy with nothing done, on a topic where something is at stake:
        the watch goes on, and the reply is evidence of its own (a link, which sends the
        customer away, weighs more)."""
        state = step.state
        if (
            self._watch_consequence(state.topics) <= 0.0
            or state.succeeded_at_turn == state.customer_turns
        ):
            return
        item = self._loop_evidence(step, "deflected:link" if link else "deflected:sympathy", text)
        step.observe(EvidenceKind.DEFLECTION if link else EvidenceKind.SYMPATHY_ONLY, item)

    def _action(self, step: _Step, event: ActionEvent) -> None:
        state, bounds = step.state, self.policy.bounds
        name, status = event.action.name, event.action.status
        attempt = ActionAttempt.model_construct(event_id=event.event_id, name=name, status=status)
        step.updates["actions"] = _bounded(state.actions, attempt, bounds.actions)
        if status is ActionStatus.SUCCEEDED:
            failures = {
                key: value for key, value in state.failures_by_action.items() if key != name
            }
            step.updates.update(
                gaps=0,
                failures_by_action=failures,
                news_since_empathy=True,
                succeeded_at_turn=state.customer_turns,
            )
            return
        failures = dict(state.failures_by_action)
        failures[name] = failures.get(name, 0) + 1
        if len(failures) > bounds.actions:
            failures.pop(next(iter(failures)))
        step.updates["failures_by_action"] = failures
        self._gap(step, f"action_{status.value}:{name}", event.action.detail or name)

    def _gap(self, step: _Step, cue: str, text: str) -> Evidence:
        step.signals.add(ReasonCode.CAPABILITY_GAP)
        item = step.evidence(ReasonCode.CAPABILITY_GAP, cue, text)
        step.updates["gaps"] = step.get("gaps") + 1
        step.updates["gap_evidence"] = _bounded(
            step.get("gap_evidence"), item, self.policy.bounds.evidence_per_reason
        )
        step.observe(EvidenceKind.CAPABILITY_GAP, item)
        return item

    def _loop_evidence(self, step: _Step, cue: str, text: str) -> Evidence:
        step.signals.add(ReasonCode.LOOP)
        item = step.evidence(ReasonCode.LOOP, cue, text)
        step.updates["loop_evidence"] = _bounded(
            step.get("loop_evidence"), item, self.policy.bounds.evidence_per_reason
        )
        return item

    def _learned_topic(
        self, folded: str, grams: frozenset[str], hits: list[TopicHit]
    ) -> TopicHit | None:
        """A topic the phrases missed but the learned model recognises, unless the message only
        asks what would happen (the same test phrase hits pass)."""
        if self._topic_model is None:
            return None
        skip = (
            self._phrases_only.union(hit.rule.name for hit in hits) if hits else self._phrases_only
        )
        found = self._topic_model.find(grams, self.policy.models.high_stakes_threshold, skip)
        if found is None:
            return None
        rule = self._topics.get(found.candidate)
        if rule is None or (not hits and hypothetical(folded)):
            return None
        return TopicHit(rule=rule, matched=" | ".join(found.cues), learned=True)

    def _topics_in(
        self, step: _Step, text: str, folded: str, tokens: list[str], grams: frozenset[str]
    ) -> None:
        found = self._taxonomy.find(folded, tokens)
        learned = self._learned_topic(folded, grams, found)
        if learned is not None:
            found.append(learned)
        hits = [
            hit for hit in found if hit.rule.consequence >= self.policy.matrix.watch_consequence
        ]
        if not hits:
            return
        step.signals.add(ReasonCode.HIGH_STAKES)
        known = list(step.state.topics)
        evidence = list(step.state.topic_evidence)
        for hit in hits:
            if hit.rule.name not in known:
                known.append(hit.rule.name)
                cue = f"topic:{hit.rule.name}" + (":learned" if hit.learned else "")
                evidence.append(
                    step.evidence(ReasonCode.HIGH_STAKES, cue, text, hit.rule.consequence)
                )
        step.updates["topics"] = known
        step.updates["topic_evidence"] = evidence[-self.policy.bounds.evidence_per_reason :]

    # -- weak signals that add up --------------------------------------------------------------

    def _exchange(self, step: _Step, event: MessageEvent | ActionEvent) -> list[Observation]:
        """The observations of the current exchange after this event: a customer turn weighs
        what the bot did since the previous turn; a bot event or an action weighs the bot's
        events since the customer's latest turn (the customer has not answered them yet)."""
        turn = step.get("customer_turns")
        customer = isinstance(event, MessageEvent) and event.role is Role.CUSTOMER
        kept = [
            seen
            for seen in step.state.exchange
            if not seen.customer and seen.turn == (turn - 1 if customer else turn)
        ]
        weights = self.policy.evidence.weights
        for kind, item in step.observed:
            scale = (item.score or 0.0) if kind is EvidenceKind.FRUSTRATION else 1.0
            weight = round(weights[kind] * scale, 4)
            noted = evolve(
                item, {"excerpt": excerpt(item.excerpt, SHORT_TEXT), "contribution": weight}
            )
            kept.append(
                construct(Observation, turn=turn, customer=customer, kind=kind, evidence=noted)
            )
        return kept[-EXCHANGE_LIMIT:]

    def _watch_consequence(self, names: list[str]) -> float:
        """The consequence of the weightiest topic at `watch` level or above, else 0."""
        bar = self.policy.matrix.watch_consequence
        return max(
            (t.consequence for t in self._session_topics(names) if t.consequence >= bar),
            default=0.0,
        )

    def _evidence_score(self, state: SessionState) -> "EvidenceScore":
        """Per kind the largest contribution of the exchange, plus the weightiest watch topic.

        A bot event counts once, by its largest observation: a repeated empathetic reply is
        both a repeat and hollow empathy, but one thing the bot did. A customer turn counts
        for each kind: "I already told you!!" says both that the customer is angry and that
        they are repeating themselves.
        """
        if not state.exchange:
            return self._topics_only(tuple(state.topics)) if state.topics else NO_EVIDENCE
        counted: dict[str, Observation] = {}
        for seen in state.exchange:
            key = (
                f"{seen.kind}:{seen.evidence.event_id}" if seen.customer else seen.evidence.event_id
            )
            held = counted.get(key)
            if held is None or _added(seen.evidence) > _added(held.evidence):
                counted[key] = seen
        best: dict[EvidenceKind, Evidence] = {}
        for seen in counted.values():
            held_item = best.get(seen.kind)
            if held_item is None or _added(seen.evidence) > _added(held_item):
                best[seen.kind] = seen.evidence
        parts = {kind: _added(item) for kind, item in best.items()}
        if state.topics:
            parts.update(self._topics_only(tuple(state.topics)).parts)
        return EvidenceScore(
            score=round(sum(parts.values()), 4),
            parts=parts,
            items=tuple(best.values()),
        )

    def _topics_only(self, topics: tuple[str, ...]) -> "EvidenceScore":
        """The evidence score of a session's topics alone (the weightiest watch topic), the
        same for every session with those topics, so worked out once."""
        found = self._topic_scores.get(topics)
        if found is None:
            stakes = self._watch_consequence(list(topics))
            weight = self.policy.evidence.weights[EvidenceKind.HIGH_STAKES]
            parts = {EvidenceKind.HIGH_STAKES: weight * stakes} if stakes else {}
            found = EvidenceScore(score=round(sum(parts.values()), 4), parts=parts, items=())
            if len(self._topic_scores) < TOPIC_SCORES_KEPT:
                self._topic_scores[topics] = found
        return found

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
        self, state: SessionState, step: _Step, verdict: Verdict, evidence: EvidenceScore
    ) -> dict[ReasonCode, list[Evidence]]:
        """The reasons that justify a handoff now, each with its evidence and what it added:
        a reason that reached its own threshold shares that threshold among its items; weak
        signals that only add up carry their weights."""
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
        if step.say_do:
            found[ReasonCode.CAPABILITY_GAP] = step.say_do
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
        if (
            ReasonCode.CAPABILITY_GAP in step.signals
            and not step.say_do
            and (
                state.gaps >= gaps
                or max(state.failures_by_action.values(), default=0)
                >= self.policy.capability.same_action_failures
            )
        ):
            found[ReasonCode.CAPABILITY_GAP] = list(state.gap_evidence)
        threshold = self.policy.evidence.threshold
        triggered = {reason: _shared(items, threshold) for reason, items in found.items() if items}
        stakes_added = 0.0
        if not triggered:
            triggered = self._added_up(evidence)
            stakes_added = evidence.parts.get(EvidenceKind.HIGH_STAKES, 0.0) if triggered else 0.0
        if triggered and ReasonCode.HIGH_STAKES not in triggered and state.topic_evidence:
            # Context for the person and for routing: the session touches a consequential topic.
            triggered[ReasonCode.HIGH_STAKES] = self._topic_context(state, stakes_added)
        return triggered

    def _added_up(self, evidence: EvidenceScore) -> dict[ReasonCode, list[Evidence]]:
        """The exchange's observations when together they reach the evidence threshold."""
        policy = self.policy.evidence
        if (
            evidence.score < policy.threshold
            or len(evidence.parts) < policy.min_kinds
            or policy.context_kinds.issuperset(evidence.parts)
        ):
            return {}
        found: dict[ReasonCode, list[Evidence]] = {}
        for item in evidence.items:
            found.setdefault(item.reason, []).append(item)
        return found

    def _topic_context(self, state: SessionState, added: float) -> list[Evidence]:
        """The session's topic evidence; the weightiest watch topic carries what it added to
        observations that added up (0 beside a reason that reached its own threshold)."""
        weightiest = self._watch_consequence(state.topics)
        items = []
        for item in state.topic_evidence:
            counts = added and item.score == weightiest
            items.append(item.model_copy(update={"contribution": added if counts else 0.0}))
            added = 0.0 if counts else added
        return items

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
        """Apply a clock tick: SLA watchdog and expiry (timers cannot write state; ticks can).
        ``now`` is the worker's clock, the one ``apply`` was given as ``seen_at``."""
        return self._lifecycle_outcome(state, tick_id, self._lifecycle.tick(state, now, tick_id))

    def _lifecycle_event(
        self, state: SessionState, event: HandoffEvent | SessionEvent, seen_at: datetime | None
    ) -> Outcome:
        updates: dict[str, Any] = {
            "events_applied": state.events_applied + 1,
            "recent_event_ids": _bounded(
                state.recent_event_ids, event.event_id, self.policy.bounds.recent_event_ids
            ),
        }
        if seen_at is not None:
            updates["seen_at"] = _latest(state.seen_at, seen_at)
        noted = state.model_copy(update=updates)
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
            removal=result.removal,
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
