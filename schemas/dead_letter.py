"""A record the worker could not accept, kept whole with the reason and where it came from."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterReason(StrEnum):
    """Why a record was dead-lettered."""

    OVERSIZED = "oversized"
    """The record is larger than the configured limit."""
    INVALID_ENCODING = "invalid_encoding"
    """The bytes are not valid UTF-8."""
    MALFORMED_JSON = "malformed_json"
    """The text is not a JSON document."""
    SCHEMA_VIOLATION = "schema_violation"
    """The JSON does not match the chat-event contract."""
    KEY_MISMATCH = "key_mismatch"
    """The record key differs from the event's session_id, so ordering cannot be trusted."""


class DeadLetter(BaseModel):
    """What goes to the dead-letter topic."""

    model_config = ConfigDict(frozen=True)

    reason: DeadLetterReason
    error: str = Field(description="Human-readable explanation, with field locations.")
    source_topic: str
    source_partition: int
    source_offset: int
    key_b64: str | None = Field(description="The original record key, base64.")
    value_b64: str = Field(description="The original record value, base64, unmodified.")
    received_at: str = Field(description="RFC 3339 time the worker saw the record.")
