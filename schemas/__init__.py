"""The contracts escalator speaks: inbound chat events, escalations, traces and dead letters.

Pydantic v2 models are the source of truth; ``schemas/json/*.schema.json`` are generated from
them (``escalator schemas``) for consumers written in other languages.
"""

from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.escalation import Escalation, Evidence, FrustrationSummary, HandoffSummary, ReasonCode
from schemas.events import (
    ActionEvent,
    ActionOutcome,
    ActionStatus,
    ChatEvent,
    MessageEvent,
    Role,
    chat_event_adapter,
)
from schemas.trace import Matrix, TraceRecord, Verdict

__all__ = [
    "ActionEvent",
    "ActionOutcome",
    "ActionStatus",
    "ChatEvent",
    "DeadLetter",
    "DeadLetterReason",
    "Escalation",
    "Evidence",
    "FrustrationSummary",
    "HandoffSummary",
    "Matrix",
    "MessageEvent",
    "ReasonCode",
    "Role",
    "TraceRecord",
    "Verdict",
    "chat_event_adapter",
]
