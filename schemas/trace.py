"""One line of ``escalator replay --trace``: what the decision core saw at each event.

Tools outside the project read these field names; they are stable.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.escalation import Escalation, ReasonCode


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


class TraceRecord(BaseModel):
    """The decision core's view after one event."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    session_id: str
    frustration: float = Field(ge=0.0, le=1.0, description="This event's frustration score.")
    signals: list[ReasonCode] = Field(description="Reason codes active at this event.")
    matrix: Matrix
    escalation: Escalation | None
    duplicate: bool = Field(default=False, description="The event id was already applied.")
