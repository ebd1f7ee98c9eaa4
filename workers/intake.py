"""Turn raw Kafka records into chat events, or say precisely why not.

Pure: the worker dead-letters what this rejects, and replay reports it with a line number.
"""

import json

from pydantic import ValidationError

from schemas.dead_letter import DeadLetterReason
from schemas.inbound import InboundEvent, inbound_event_adapter
from workers.errors import EscalatorError

MAX_ERRORS_SHOWN = 5


class RejectedRecordError(EscalatorError):
    """Raised when a record is not an acceptable chat event; carries the dead-letter reason."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each with the field's location, e.g. ``action.status: ...``."""
    problems = [
        f"{'.'.join(str(part) for part in err['loc']) or '<record>'}: {err['msg']}"
        for err in exc.errors(include_url=False)[:MAX_ERRORS_SHOWN]
    ]
    hidden = exc.error_count() - len(problems)
    if hidden > 0:
        problems.append(f"... and {hidden} more")
    return "; ".join(problems)


def parse_record(value: bytes | None, key: bytes | None, max_bytes: int) -> InboundEvent:
    """Validate one record; ``key=None`` skips the key check (offline replay has no keys)."""
    if value is None:
        raise RejectedRecordError(
            DeadLetterReason.MALFORMED_JSON, "record has no value (tombstone)"
        )
    if len(value) > max_bytes:
        raise RejectedRecordError(
            DeadLetterReason.OVERSIZED, f"record is {len(value)} bytes, the limit is {max_bytes}"
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedRecordError(
            DeadLetterReason.INVALID_ENCODING, f"not UTF-8: invalid byte at position {exc.start}"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RejectedRecordError(
            DeadLetterReason.MALFORMED_JSON,
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    try:
        event = inbound_event_adapter.validate_python(document)
    except ValidationError as exc:
        raise RejectedRecordError(
            DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc)
        ) from None
    if key is not None and key != event.session_id.encode():
        raise RejectedRecordError(
            DeadLetterReason.KEY_MISMATCH,
            "record key must equal session_id so one session stays on one partition",
        )
    return event
