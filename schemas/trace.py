"""One line of ``escalator replay --trace``: what the decision core saw at each event.

Tools outside the project read these field names; they are stable.
"""

from pydantic import BaseModel, ConfigDict, Field

from schemas.escalation import Escalation, Matrix, ReasonCode, Verdict

__all__ = ["Matrix", "TraceRecord", "Verdict"]


class TraceRecord(BaseModel):
    """The decision core's view after one event."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    session_id: str
    frustration: float = Field(ge=0.0, le=1.0, description="This event's frustration score.")
    signals: list[ReasonCode] = Field(description="Reason codes active at this event.")
    matrix: Matrix
    escalation: Escalation | None
    evidence_score: float = Field(
        default=0.0,
        ge=0.0,
        description="The session's combined evidence score after this event (policy [evidence]).",
    )
    duplicate: bool = Field(default=False, description="The event id was already applied.")
