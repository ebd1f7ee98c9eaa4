"""Per-session state: bounded, JSON-serialisable, kept in a changelog-backed Faust table."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.escalation import ActionAttempt, Escalation, Evidence


class SessionState(BaseModel):
    """What the decision core remembers about one session between events.

    Every list is capped by ``Policy.bounds``; the transcript itself is never kept whole.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str
    events_applied: int = 0
    recent_event_ids: list[str] = Field(default_factory=list)
    last_ts: datetime | None = None
    customer_turns: int = 0
    bot_turns: int = 0
    goal: str = ""
    frustration_trend: list[float] = Field(default_factory=list)
    frustration_level: float = 0.0
    consecutive_negative: int = 0
    negative_run: list[Evidence] = Field(default_factory=list)
    actions: list[ActionAttempt] = Field(default_factory=list)
    intent_confidences: list[float] = Field(default_factory=list)
    channel: str | None = None
    locale: str | None = None
    customer_tier: str | None = None
    escalation: Escalation | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The form stored in the table (and its changelog)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "SessionState":
        """Inverse of ``to_json_dict``."""
        return cls.model_validate(data)
