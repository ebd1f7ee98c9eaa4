"""Policy as code: thresholds, the topic taxonomy and routes, validated by pydantic.

The shipped default is ``workers/decision/default_policy.toml``; ``--policy FILE`` or the
setting ``ESCALATOR_POLICY_FILE`` replace it. Every section is optional in a custom file:
what it leaves out keeps the default value.
"""

import re
import tomllib
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.escalation import ReasonCode
from workers.decision.models import ModelError, shared_model
from workers.errors import ConfigurationError
from workers.redaction import ALL_KINDS, RedactionKind, Redactor

DEFAULT_POLICY_RESOURCE = "decision/default_policy.toml"
QUEUE_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class PolicyError(ConfigurationError):
    """Raised when a policy file cannot be read or does not validate; says where."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Route(_Section):
    """Where an escalation goes."""

    queue: str = Field(pattern=QUEUE_NAME)
    priority: int = Field(ge=1, le=9, description="1 is served first.")


class FrustrationPolicy(_Section):
    """When frustration alone is worth a handoff: high and persistent, not one mild complaint."""

    negative_turn_score: float = Field(default=0.5, ge=0.0, le=1.0)
    persistent_turns: int = Field(default=3, ge=1, description="Consecutive negative turns.")
    level_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    smoothing: float = Field(default=0.5, gt=0.0, le=1.0, description="Weight of the newest turn.")
    rising_turns: int = Field(
        default=3, ge=2, description="Strictly rising scores that mark a trend."
    )
    rising_from: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="A trend starts from a turn at least this negative.",
    )


class LoopPolicy(_Section):
    """Heard but not helped: when repetition means the conversation is going nowhere."""

    restatement_similarity: float = Field(default=0.75, gt=0.0, le=1.0)
    negative_restatement_similarity: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Lower bar for a turn that is itself negative."
    )
    restatements_to_escalate: int = Field(
        default=2, ge=1, description="2 = the second restatement."
    )
    bot_repeat_similarity: float = Field(default=0.9, gt=0.0, le=1.0)
    bot_repeats_to_escalate: int = Field(
        default=2, ge=1, description="2 = the third near-identical reply."
    )
    hollow_empathy_to_escalate: int = Field(
        default=2, ge=1, description="Empathy with no action or news."
    )
    turns_compared: int = Field(
        default=6, ge=2, description="Earlier turns each turn is compared with."
    )


class CapabilityPolicy(_Section):
    """When the bot lacks the authority or ability to act."""

    gaps_to_escalate: int = Field(
        default=3, ge=1, description="Refusals + failed/not-permitted actions."
    )
    same_action_failures: int = Field(default=2, ge=1)


class WatchPolicy(_Section):
    """Far less tolerance while the matrix verdict is ``watch``."""

    restatements_to_escalate: int = Field(default=1, ge=1)
    bot_repeats_to_escalate: int = Field(default=1, ge=1)
    hollow_empathy_to_escalate: int = Field(default=1, ge=1)
    gaps_to_escalate: int = Field(default=1, ge=1)
    frustration_persistent_turns: int = Field(default=2, ge=1)


class MatrixPolicy(_Section):
    """Thresholds of the CX Automation Matrix verdict."""

    watch_emotional_load: float = Field(default=0.6, ge=0.0, le=1.0)
    watch_context_ambiguity: float = Field(default=0.6, ge=0.0, le=1.0)
    watch_consequence: float = Field(default=0.5, ge=0.0, le=1.0)
    human_required_consequence: float = Field(default=0.85, ge=0.0, le=1.0)


class EvidenceKind(StrEnum):
    """The observations the session's evidence score adds up (docs/decisions.md)."""

    FRUSTRATION = "frustration"
    """The customer's latest turn is negative; its weight is multiplied by the turn's score."""
    RESTATEMENT = "restatement"
    """The customer restates, or says they already did ("I already gave you that")."""
    BOT_REPEAT = "bot_repeat"
    """The bot repeats a reply or sends a link it sent before."""
    ASKS_AGAIN = "asks_again"
    """The bot asks for something the customer already gave."""
    HOLLOW_EMPATHY = "hollow_empathy"
    """Empathy again with nothing done or said since the last."""
    DEFLECTION = "deflection"
    """A consequential topic answered with a help link and no action."""
    SYMPATHY_ONLY = "sympathy_only"
    """A consequential topic answered with sympathy alone: no link, no action."""
    REPLY_REJECTED = "reply_rejected"
    """The customer says the reply does not help ("I don't need the policy, I need ...")."""
    CAPABILITY_GAP = "capability_gap"
    """A refusal, or an action that failed or was not permitted."""
    HIGH_STAKES = "high_stakes"
    """A topic at `watch` level; its weight is multiplied by the topic's consequence."""


def _default_weights() -> dict[EvidenceKind, float]:
    return {
        EvidenceKind.FRUSTRATION: 1.0,
        EvidenceKind.RESTATEMENT: 0.5,
        EvidenceKind.BOT_REPEAT: 0.5,
        EvidenceKind.ASKS_AGAIN: 0.5,
        EvidenceKind.HOLLOW_EMPATHY: 0.5,
        EvidenceKind.DEFLECTION: 0.55,
        EvidenceKind.SYMPATHY_ONLY: 0.45,
        EvidenceKind.REPLY_REJECTED: 0.5,
        EvidenceKind.CAPABILITY_GAP: 0.5,
        EvidenceKind.HIGH_STAKES: 0.8,
    }


class EvidencePolicy(_Section):
    """Weak signals that add up: observations of different kinds in the same exchange (the
    customer's latest turn and what the bot did around it) are weighed and summed, so two
    moderate ones can escalate where each alone waits for its own threshold."""

    threshold: float = Field(default=1.0, gt=0.0, description="Score that escalates.")
    min_kinds: int = Field(
        default=2, ge=1, description="Distinct kinds needed; one kind alone keeps its own rule."
    )
    weights: dict[EvidenceKind, float] = Field(
        default_factory=_default_weights, description="Contribution of each kind of observation."
    )
    context_kinds: frozenset[EvidenceKind] = Field(
        default=frozenset(
            {EvidenceKind.FRUSTRATION, EvidenceKind.HIGH_STAKES, EvidenceKind.RESTATEMENT}
        ),
        description=(
            "Kinds that add to the score but need a kind outside this set beside them: the "
            "customer's own unhappiness on a consequential topic is the watch verdict's case, "
            "not yet a sign that the bot is failing."
        ),
    )

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: dict[EvidenceKind, float]) -> dict[EvidenceKind, float]:
        negative = sorted(kind.value for kind, weight in weights.items() if weight < 0)
        if negative:
            raise ValueError(f"weights must be >= 0; negative: {', '.join(negative)}")
        return {**_default_weights(), **weights}


class ModelsPolicy(_Section):
    """Learned classifiers that back the phrase rules (docs/models.md): a message that either
    recognises counts. A bare file name is a shipped artefact, anything else a path; an empty
    name (the default outside the shipped policy file) switches the model off. A threshold
    left out is the artefact's own, chosen by cross-validation for a precision of 0.95."""

    human_request: str = ""
    human_request_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    high_stakes: str = ""
    high_stakes_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    high_stakes_phrases_only: frozenset[str] = Field(
        default=frozenset(),
        description="Topics the model may not add on its own: only their phrases find them.",
    )


class HandoffPolicy(_Section):
    """The handoff lifecycle: SLAs, the cooldown after a return, and when state expires."""

    sla_seconds: float = Field(
        default=120.0, gt=0, description="Time to accept from the enqueue, by default."
    )
    queue_sla_seconds: dict[str, float] = Field(default_factory=dict, description="Per queue.")
    overflow_queue: str = Field(default="supervisor", pattern=QUEUE_NAME)
    overflow_after_breaches: int = Field(default=2, ge=1, description="Breaches before overflow.")
    max_sla_breaches: int = Field(default=3, ge=1, description="Re-escalations at most.")
    notify_message: str = Field(
        default=(
            "It is taking longer than usual to connect you with a person. You keep your place "
            "in the queue, and they will see everything you have told us so far."
        ),
        min_length=1,
        max_length=500,
    )
    cooldown_seconds: float = Field(
        default=300.0, ge=0, description="No escalation after a return."
    )
    idle_expiry_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="Idle session state TTL, from when the worker last took an event of it.",
    )
    max_packet_bytes: int = Field(
        default=16_384, ge=2_048, description="Escalation JSON size limit; see fit_packet."
    )
    open_escalation_expiry_seconds: float = Field(
        default=86_400.0, gt=0, description="TTL of an idle session with an open escalation."
    )

    def sla_for(self, queue: str) -> float:
        """Seconds a queue's escalation may wait before it is raised again."""
        return self.queue_sla_seconds.get(queue, self.sla_seconds)


class StateBounds(_Section):
    """Caps on what a session keeps, so state stays small however long the chat runs."""

    recent_event_ids: int = Field(
        default=64, ge=1, description="Ids remembered to drop redeliveries."
    )
    frustration_turns: int = Field(default=20, ge=1)
    actions: int = Field(default=10, ge=1)
    intent_confidences: int = Field(default=10, ge=1)
    evidence_per_reason: int = Field(default=5, ge=1)
    fingerprint_tokens: int = Field(
        default=24, ge=4, description="Tokens kept per turn fingerprint."
    )
    transcript_turns: int = Field(default=6, ge=0, description="Last turns kept for the handoff.")
    transcript_chars: int = Field(default=280, ge=20, description="Characters kept per turn.")
    facts_per_kind: int = Field(default=3, ge=1, description="Latest values kept per fact kind.")
    metadata_keys: int = Field(default=16, ge=0, description="Metadata entries kept.")


class RedactionPolicy(_Section):
    """Which personal data is replaced before anything leaves the worker: in the handoff
    packet (Redis queues, the escalations topic) and in log lines."""

    packet_kinds: frozenset[RedactionKind] = Field(
        default=ALL_KINDS, description="Redacted in handoff packets."
    )
    packet_card_last4: bool = Field(
        default=True, description="Keep a card's last four digits; agents identify cards by them."
    )
    log_kinds: frozenset[RedactionKind] = Field(default=ALL_KINDS, description="Redacted in logs.")
    log_card_last4: bool = False
    drop_fact_kinds: frozenset[str] = Field(
        default=frozenset({"email", "phone"}),
        description="Fact kinds left out of the packet; other facts are redacted.",
    )

    @cached_property
    def packets(self) -> Redactor:
        """The redactor for handoff packets."""
        return Redactor(self.packet_kinds, card_last4=self.packet_card_last4)

    @cached_property
    def logs(self) -> Redactor:
        """The redactor for log records."""
        return Redactor(self.log_kinds, card_last4=self.log_card_last4)


class TopicRule(_Section):
    """One topic of the consequence taxonomy and how to recognise it."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,48}$")
    description: str = ""
    consequence: float = Field(ge=0.0, le=1.0, description="How much is at stake, 0..1.")
    emotional_load: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Load it carries by itself."
    )
    human_required: bool = Field(default=False, description="Escalate at once when found.")
    route: Route
    phrases: list[str] = Field(min_length=1, description="Regular expressions on normalised text.")

    @field_validator("phrases")
    @classmethod
    def _compiles(cls, phrases: list[str]) -> list[str]:
        for index, phrase in enumerate(phrases):
            try:
                re.compile(phrase)
            except re.error as exc:
                raise ValueError(
                    f"phrase {index} {phrase!r} is not a valid regular expression: {exc}"
                ) from None
        return phrases

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """All phrases as one compiled alternation."""
        return re.compile("|".join(f"(?:{phrase})" for phrase in self.phrases))


def _default_routes() -> dict[ReasonCode, Route]:
    return {
        ReasonCode.HIGH_STAKES: Route(queue="priority", priority=1),
        ReasonCode.HUMAN_REQUESTED: Route(queue="general", priority=2),
        ReasonCode.FRUSTRATION: Route(queue="general", priority=2),
        ReasonCode.CAPABILITY_GAP: Route(queue="general", priority=3),
        ReasonCode.LOOP: Route(queue="general", priority=3),
    }


class Policy(_Section):
    """Everything the decision core is tuned by."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached_property,))

    version: int = Field(default=1, ge=1, le=1)
    frustration: FrustrationPolicy = FrustrationPolicy()
    loop: LoopPolicy = LoopPolicy()
    capability: CapabilityPolicy = CapabilityPolicy()
    watch: WatchPolicy = WatchPolicy()
    matrix: MatrixPolicy = MatrixPolicy()
    evidence: EvidencePolicy = EvidencePolicy()
    models: ModelsPolicy = ModelsPolicy()
    handoff: HandoffPolicy = HandoffPolicy()
    bounds: StateBounds = StateBounds()
    redaction: RedactionPolicy = RedactionPolicy()
    routes: dict[ReasonCode, Route] = Field(default_factory=_default_routes)
    default_route: Route = Route(queue="general", priority=3)
    topics: list[TopicRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_topics(self) -> "Policy":
        names = [topic.name for topic in self.topics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"topic names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _models_load(self) -> "Policy":
        """A model that is missing, damaged or names topics this policy lacks is a policy
        error, found by `escalator policy check` rather than by the first message."""
        models = self.models
        try:
            if models.human_request:
                shared_model(models.human_request).check_labels({"human_requested"})
            if models.high_stakes:
                topic_model = shared_model(models.high_stakes)
        except ModelError as exc:
            raise ValueError(str(exc)) from None
        if models.high_stakes:
            try:
                topic_model.check_labels(topic.name for topic in self.topics)
            except ModelError as exc:
                raise ValueError(
                    f'{exc}; a taxonomy without the model\'s topics sets [models] high_stakes = ""'
                ) from None
        return self

    def route_for(self, reason: ReasonCode) -> Route:
        """The route for one reason, or the default route."""
        return self.routes.get(reason, self.default_route)


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s)"]
    for err in exc.errors(include_url=False):
        location = ".".join(str(part) for part in err["loc"]) or "<top level>"
        lines.append(f"  {location}: {err['msg']}")
    return "\n".join(lines)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else (values, arrays such as topics) replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None


def default_policy_text() -> str:
    """The shipped default policy file, as text."""
    return resources.files("workers").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")


def parse_policy(text: str, source: str = "<policy>", *, over_default: bool = True) -> Policy:
    """Validate policy TOML; with ``over_default`` it is layered on the shipped default."""
    document = _read_toml(text, source)
    if over_default:
        document = _merge(_read_toml(default_policy_text(), DEFAULT_POLICY_RESOURCE), document)
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, source)) from None


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, or the shipped default when None."""
    if path is None:
        return default_policy()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_policy(text, str(path))


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    """The shipped default, parsed once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = parse_policy(default_policy_text(), DEFAULT_POLICY_RESOURCE, over_default=False)
    return _DEFAULT
