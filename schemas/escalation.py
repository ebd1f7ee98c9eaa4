"""The outbound contract: an escalation event, on Kafka and in a Redis agent queue."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import ActionStatus


class ReasonCode(StrEnum):
    """The fixed vocabulary of reasons a session goes to a person.

    Agent desks may switch on these values; new codes are only ever added.
    """

    HUMAN_REQUESTED = "human_requested"
    """The customer asked for a person, directly or indirectly."""
    HIGH_STAKES = "high_stakes"
    """The CX Automation Matrix says the topic needs human judgement."""
    FRUSTRATION = "frustration"
    """Frustration is high and persistent or rising."""
    LOOP = "loop"
    """Heard but not helped: restating, repeated replies, empathy without action."""
    CAPABILITY_GAP = "capability_gap"
    """The bot cannot do what is asked: refusals, failed or not-permitted actions."""
    SLA_BREACH = "sla_breach"
    """An earlier escalation was not accepted within its queue's SLA and is raised again."""


class Verdict(StrEnum):
    """The CX Automation Matrix verdict for a session."""

    AI_SAFE = "ai_safe"
    WATCH = "watch"
    HUMAN_REQUIRED = "human_required"


class Matrix(BaseModel):
    """The CX Automation Matrix: three scores 0..1, the topics found and the verdict."""

    model_config = ConfigDict(frozen=True)

    emotional_load: float = Field(ge=0.0, le=1.0)
    context_ambiguity: float = Field(ge=0.0, le=1.0)
    consequence: float = Field(ge=0.0, le=1.0)
    topics: list[str] = Field(default_factory=list)
    verdict: Verdict


class Evidence(BaseModel):
    """One observation behind a reason: which event, which cue, and the words involved."""

    model_config = ConfigDict(frozen=True)

    reason: ReasonCode
    event_id: str
    cue: str = Field(description="Stable name of the rule that fired, e.g. 'explicit_request'.")
    excerpt: str = Field(default="", max_length=280, description="The words the cue rests on.")
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    contribution: float | None = Field(
        default=None,
        ge=0.0,
        description=(
            "How much this observation added to the decision: its weight in the session's "
            "evidence score, or its share of a threshold the reason reached alone (0 for "
            "context that did not decide)."
        ),
    )


class ActionAttempt(BaseModel):
    """A bot action taken during the session."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    name: str
    status: ActionStatus


class FrustrationSummary(BaseModel):
    """The session's frustration when it escalated."""

    model_config = ConfigDict(frozen=True)

    level: float = Field(ge=0.0, le=1.0, description="Smoothed session level, 0..1.")
    trend: list[float] = Field(description="Per-customer-turn scores, oldest first (bounded).")
    consecutive_negative_turns: int = Field(ge=0)


class TranscriptTurn(BaseModel):
    """One turn of the conversation as the person will see it."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    ts: datetime
    role: str
    text: str = Field(description="Cut to a bounded length; see docs/desk-integration.md.")


class HandoffSummary(BaseModel):
    """What a person needs so the customer does not have to restate anything."""

    model_config = ConfigDict(frozen=True)

    goal: str = Field(default="", description="The customer's first message, in their own words.")
    facts: dict[str, list[str]] = Field(
        default_factory=dict,
        description="What the customer already gave, by kind (order_number, amount, date, ...).",
    )
    actions: list[ActionAttempt] = Field(default_factory=list, description="What the bot tried.")
    transcript: list[TranscriptTurn] = Field(
        default_factory=list, description="The last turns, oldest first (bounded, texts cut)."
    )
    customer_turns: int = Field(ge=0)
    bot_turns: int = Field(ge=0)
    channel: str | None = None
    locale: str | None = None
    customer_tier: str | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    truncated: bool = Field(
        default=False, description="Parts were cut to keep the packet under its size limit."
    )


class Escalation(BaseModel):
    """A decision that a person must take over a session, with the evidence for it.

    ``escalation_id`` is derived from the session and the triggering event, so processing the
    same event again yields the same id and consumers can de-duplicate on it.
    """

    model_config = ConfigDict(frozen=True)

    escalation_id: str
    session_id: str
    trigger_event_id: str
    reasons: list[ReasonCode] = Field(min_length=1, description="Most urgent first.")
    priority: int = Field(ge=1, le=9, description="1 is served first.")
    queue: str = Field(min_length=1)
    created_at: datetime = Field(description="Time of the triggering event (deterministic).")
    evidence: list[Evidence] = Field(min_length=1)
    frustration: FrustrationSummary
    matrix: Matrix | None = Field(default=None, description="The CX Automation Matrix then.")
    handoff: HandoffSummary
