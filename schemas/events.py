"""Inbound chat events: one JSON object per Kafka record, keyed by ``session_id``."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

# Bounds on identifiers and free text keep hostile producers from bloating state and logs.
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 10_000
MAX_NAME_CHARS = 200
MAX_METADATA_KEYS = 32

Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
MetadataValue = str | int | float | bool | None


class Role(StrEnum):
    """Who spoke."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class ActionStatus(StrEnum):
    """How a bot action ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_PERMITTED = "not_permitted"


class _EventBase(BaseModel):
    """Fields every chat event carries; unknown fields are ignored for forward compatibility."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    event_id: Identifier = Field(description="Unique id of this event; redeliveries repeat it.")
    session_id: Identifier = Field(description="The conversation; also the Kafka record key.")
    ts: AwareDatetime = Field(description="RFC 3339 time with a zone, e.g. 2026-01-05T09:00:20Z.")
    channel: str | None = Field(
        default=None, max_length=MAX_NAME_CHARS, description="web, app, sms, ..."
    )
    locale: str | None = Field(default=None, max_length=35, description="BCP 47 tag, e.g. en-GB.")
    customer_tier: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict,
        max_length=MAX_METADATA_KEYS,
        description="Free key/value pairs carried into the handoff.",
    )


class MessageEvent(_EventBase):
    """Something a customer, the bot, an agent or the system said."""

    type: Literal["message"]
    role: Role
    text: str = Field(max_length=MAX_TEXT_CHARS)
    intent: str | None = Field(
        default=None, max_length=MAX_NAME_CHARS, description="The bot NLU's intent for this turn."
    )
    intent_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="The NLU's confidence in `intent`, 0..1."
    )


class ActionOutcome(BaseModel):
    """A bot action and how it ended."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    status: ActionStatus
    detail: str | None = Field(default=None, max_length=1_000, description="Why it ended so.")


class ActionEvent(_EventBase):
    """The bot tried to act (refund, rebook, change address) and this is the outcome."""

    type: Literal["action"]
    role: Literal[Role.BOT]
    action: ActionOutcome


ChatEvent = Annotated[MessageEvent | ActionEvent, Field(discriminator="type")]

chat_event_adapter: TypeAdapter[MessageEvent | ActionEvent] = TypeAdapter(ChatEvent)


def chat_event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one inbound record."""
    schema = chat_event_adapter.json_schema()
    schema["title"] = "ChatEvent"
    return schema
