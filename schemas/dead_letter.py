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
    """The text is not a JSON document, or not a strict one: NaN and Infinity, numbers out of
    range and nesting deeper than 32 levels are refused too, as other languages cannot read them
    back and deep nesting exhausts parsers' stacks."""
    SCHEMA_VIOLATION = "schema_violation"
    """The JSON does not match the chat-event contract."""
    KEY_MISMATCH = "key_mismatch"
    """The record key differs from the event's session_id, so ordering cannot be trusted."""
    INVALID_UNICODE = "invalid_unicode"
    """Raised: a string anywhere in the JSON holds a lone surrogate escape such as ``"\\ud800"``.

    Why: JSON parsers accept the escape, but no UTF-8 encoder does, so the text would crash the
    worker later, when it is written to Redis or Kafka."""
    CONTROL_CHARACTER = "control_character"
    """Raised: a string anywhere in the JSON holds a control character other than tab, newline
    and carriage return (NUL, ESC, DEL, C1 controls).

    Why: no person types them; they truncate C strings, and escape sequences rewrite terminals
    and logs that show the text to agents and operators."""
    LONG_WORD = "long_word"
    """Raised: a free-text field (message text, action detail, handoff note, metadata) has a run
    of non-space characters longer than the configured limit (``max_word_chars``).

    Why: no person writes such a word; it is a blob or an attack, and it bloats turn
    fingerprints, handoff packets and logs."""


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
