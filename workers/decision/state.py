"""Per-session state: bounded, JSON-serialisable, kept in a changelog-backed Faust table."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.escalation import ActionAttempt, Escalation, Evidence
from schemas.lifecycle import BotCommand
from workers.decision.policy import EvidenceKind


class HandoffPhase(StrEnum):
    """Where an open escalation stands."""

    PENDING = "pending"
    """Waiting in an agent queue."""
    OWNED = "owned"
    """A person accepted it; the bot is paused."""


class Observation(BaseModel):
    """One observation of the current exchange, kept for the session's evidence score.

    ``turn`` is the number of customer turns when it was seen: an exchange is a customer turn
    and what the bot did after it, and a customer turn also weighs the bot's events before it.
    """

    model_config = ConfigDict(frozen=True)

    turn: int
    customer: bool
    kind: EvidenceKind
    evidence: Evidence


class SessionState(BaseModel):
    """What the decision core remembers about one session between events.

    Every list is capped by ``Policy.bounds``; the transcript itself is never kept, only
    compact fingerprints of the last few turns of each side.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str
    events_applied: int = 0
    recent_event_ids: list[str] = Field(default_factory=list)
    last_ts: datetime | None = Field(default=None, description="Latest event time applied.")
    seen_at: datetime | None = Field(
        default=None,
        description="The worker's clock when it last took an event of the session: idleness "
        "counts from it, since event times may be old (a backlog, replayed history, a skewed "
        "producer). None without a worker clock (replay, evaluation): event times stand in.",
    )
    customer_turns: int = 0
    bot_turns: int = 0
    goal: str = ""
    channel: str | None = None
    locale: str | None = None
    customer_tier: str | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    transcript: list[tuple[str, datetime, str, str]] = Field(
        default_factory=list, description="Last turns: (event id, time, role, text cut short)."
    )

    # Frustration: per-turn scores, smoothed level and the current run of negative turns.
    frustration_trend: list[float] = Field(default_factory=list)
    frustration_level: float = 0.0
    consecutive_negative: int = 0
    negative_run: list[Evidence] = Field(default_factory=list)

    # Loops: fingerprints of recent turns and what repeated.
    customer_prints: list[list[str]] = Field(default_factory=list)
    bot_prints: list[list[str]] = Field(default_factory=list)
    bot_links: list[str] = Field(default_factory=list)
    facts: dict[str, list[str]] = Field(
        default_factory=dict, description="Values the customer gave, by kind (order_number, ...)."
    )
    restatements: int = 0
    bot_repeats: int = 0
    hollow_empathy: int = 0
    empathy_seen: bool = False
    news_since_empathy: bool = False
    loop_evidence: list[Evidence] = Field(default_factory=list)

    # Capability: what the bot could not do since its last success.
    actions: list[ActionAttempt] = Field(default_factory=list)
    gaps: int = 0
    failures_by_action: dict[str, int] = Field(default_factory=dict)
    gap_evidence: list[Evidence] = Field(default_factory=list)
    succeeded_at_turn: int = Field(default=-1, description="Customer turns at the last success.")

    # CX Automation Matrix inputs.
    topics: list[str] = Field(default_factory=list)
    topic_evidence: list[Evidence] = Field(default_factory=list)
    intent_confidences: list[float] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)
    fallbacks: int = 0

    # Weak signals that add up: the observations of the current exchange.
    exchange: list[Observation] = Field(default_factory=list)

    # The handoff: the open escalation, who owns it, and what closed before.
    escalation: Escalation | None = None
    handoff: HandoffPhase | None = None
    owner: str | None = None
    escalated_at: datetime | None = Field(
        default=None,
        description="When the open escalation reached its queue: the SLA counts from it.",
    )
    sla_breaches: int = 0
    cooldown_until: datetime | None = None
    closed_escalations: list[str] = Field(default_factory=list)
    last_command: BotCommand | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The form stored in the table (and its changelog)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "SessionState":
        """Inverse of ``to_json_dict``."""
        return cls.model_validate(data)
