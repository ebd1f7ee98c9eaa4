"""Turn raw Kafka records into chat events, or say precisely why not.

Pure: the worker dead-letters what this rejects, and replay reports it with a line number.
Checks run cheapest and most fundamental first (size, UTF-8, JSON, Unicode, control
characters, schema, word length, key), so each record gets one deterministic reason.
"""

import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import NoReturn

from pydantic import ValidationError

from schemas.dead_letter import DeadLetterReason
from schemas.events import ActionEvent, MessageEvent
from schemas.inbound import InboundEvent, inbound_event_adapter
from schemas.lifecycle import HandoffEvent
from workers.errors import EscalatorError

MAX_ERRORS_SHOWN = 5
DEFAULT_MAX_WORD_CHARS = 1_000
# Far deeper than any event (two levels); shallow enough that no parser's stack runs out, so a
# record is refused the same way whatever the caller's stack depth.
MAX_NESTING = 32
# Field names and keys quoted in error messages are cut here: messages go to logs.
MAX_NAME_SHOWN = 40

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls except tab, newline and carriage return; DEL; C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In valid JSON text, a decoded string can only hold a surrogate or a control character if the
# text has an escape for one (\uD800-\uDFFF, \u0000-\u001F, \u007F-\u009F, \b, \f) or a
# raw DEL/C1 character (raw C0 characters are refused by the parser): without one, the walk
# over every string is skipped. An escaped backslash may look like one: then it just walks.
_MAYBE_HOSTILE = re.compile(
    r"\\(?:u(?:[dD][89a-fA-F]|00[01][0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F])|[bf])"
    "|[\x7f-\x9f]"
)


class RejectedRecordError(EscalatorError):
    """Raised when a record is not an acceptable chat event; carries the dead-letter reason."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _NotStrictJSONError(ValueError):
    """Raised by the JSON hooks for what Python's parser accepts but JSON does not."""


def _show(name: str) -> str:
    """A key safe to print: ASCII, escapes visible, cut short (it may be hostile)."""
    shown = json.dumps(name[:MAX_NAME_SHOWN])[1:-1]
    return shown + "..." if len(name) > MAX_NAME_SHOWN else shown


def _printable(message: str) -> str:
    """A message that may quote the record (pydantic echoes bad values), control characters
    escaped so the one-line error stays one printable line."""
    return message if message.isprintable() else json.dumps(message)[1:-1]


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each with the field's location, e.g. ``action.status: ...``."""
    problems = [
        f"{'.'.join(_show(str(part)) for part in err['loc']) or '<record>'}: "
        + _printable(err["msg"])
        for err in exc.errors(include_url=False)[:MAX_ERRORS_SHOWN]
    ]
    hidden = exc.error_count() - len(problems)
    if hidden > 0:
        problems.append(f"... and {hidden} more")
    return "; ".join(problems)


def _refuse_constant(name: str) -> NoReturn:
    raise _NotStrictJSONError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotStrictJSONError(f"the number {text[:MAX_NAME_SHOWN]} is out of range")
    return number


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _too_deep() -> RejectedRecordError:
    return RejectedRecordError(
        DeadLetterReason.MALFORMED_JSON, f"not JSON: nested deeper than {MAX_NESTING} levels"
    )


def _load_json(text: str) -> object:
    """Strict JSON: no NaN/Infinity, finite numbers, bounded nesting."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise RejectedRecordError(
            DeadLetterReason.MALFORMED_JSON,
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except _NotStrictJSONError as exc:
        raise RejectedRecordError(DeadLetterReason.MALFORMED_JSON, f"not JSON: {exc}") from None
    except ValueError:  # Python's limit on integer digits
        raise RejectedRecordError(
            DeadLetterReason.MALFORMED_JSON, "not JSON: an integer has too many digits"
        ) from None
    except RecursionError:
        raise _too_deep() from None


def _strings(document: object) -> Iterator[tuple[str, str]]:
    """(location, string) for every string in the document, object keys included, in a fixed
    order; iterative, so hostile nesting cannot exhaust the stack."""
    stack: list[tuple[object, str, int]] = [(document, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            yield where or "<record>", value
            continue
        if isinstance(value, dict | list) and depth >= MAX_NESTING:
            raise _too_deep()
        if isinstance(value, dict):
            children: list[tuple[object, str, int]] = []
            for key, item in value.items():
                inner = f"{where}.{_show(key)}" if where else _show(key)
                yield f"{inner} (the key)", key
                children.append((item, inner, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(
                (item, f"{where}[{index}]", depth + 1)
                for index, item in reversed(list(enumerate(value)))
            )


def _check_depth(document: object) -> None:
    """Refuse nesting deeper than MAX_NESTING (iteratively: hostile depth cannot exhaust the
    stack)."""
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                raise _too_deep()
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def _check_characters(document: object) -> None:
    """Reject lone surrogates (UTF-8 cannot encode them) and control characters anywhere."""
    for where, value in _strings(document):
        if found := _SURROGATE.search(value):
            raise RejectedRecordError(
                DeadLetterReason.INVALID_UNICODE,
                f"{where}: lone surrogate U+{ord(found.group()):04X} at character "
                f"{found.start()}: not Unicode text, UTF-8 cannot encode it",
            )
        if found := _CONTROL.search(value):
            raise RejectedRecordError(
                DeadLetterReason.CONTROL_CHARACTER,
                f"{where}: control character U+{ord(found.group()):04X} at character "
                f"{found.start()}; only tab, newline and carriage return are accepted",
            )


def _free_text(event: InboundEvent) -> Iterator[tuple[str, str]]:
    """(location, text) of the fields people and producers write freely; identifiers and
    names are bounded by the schema itself."""
    if isinstance(event, MessageEvent):
        yield "text", event.text
    if isinstance(event, ActionEvent) and event.action.detail is not None:
        yield "action.detail", event.action.detail
    if isinstance(event, HandoffEvent) and event.note is not None:
        yield "note", event.note
    if isinstance(event, MessageEvent | ActionEvent):
        for key, value in event.metadata.items():
            yield f"metadata.{_show(key)} (the key)", key
            if isinstance(value, str):
                yield f"metadata.{_show(key)}", value


def _check_words(event: InboundEvent, max_word_chars: int) -> None:
    """Reject a run of non-space characters no person writes (a blob, an attack)."""
    if isinstance(event, MessageEvent) and not event.metadata and len(event.text) <= max_word_chars:
        return
    too_long = _long_word(max_word_chars)
    for where, text in _free_text(event):
        if len(text) > max_word_chars and (word := too_long.search(text)):
            raise RejectedRecordError(
                DeadLetterReason.LONG_WORD,
                f"{where}: a word of {word.end() - word.start()} characters without a space at "
                f"character {word.start()}; the limit is {max_word_chars}",
            )


@lru_cache(maxsize=8)
def _long_word(max_word_chars: int) -> re.Pattern[str]:
    """A run of non-space characters longer than the limit (greedy: the whole run)."""
    return re.compile(rf"\S{{{max_word_chars + 1},}}")


def parse_record(
    value: bytes | None,
    key: bytes | None,
    max_bytes: int,
    max_word_chars: int = DEFAULT_MAX_WORD_CHARS,
) -> InboundEvent:
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
    document = _load_json(text)
    # Before the schema: pydantic would call a lone surrogate a schema violation, and error
    # messages quote keys, which must be printable first.
    if _MAYBE_HOSTILE.search(text):
        _check_characters(document)  # walks every string, checking the nesting on the way
    elif text.count("[") + text.count("{") > MAX_NESTING:
        _check_depth(document)
    try:
        event = inbound_event_adapter.validate_python(document)
    except ValidationError as exc:
        raise RejectedRecordError(
            DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc)
        ) from None
    _check_words(event, max_word_chars)
    if key is not None and key != event.session_id.encode():
        raise RejectedRecordError(
            DeadLetterReason.KEY_MISMATCH,
            "record key must equal session_id so one session stays on one partition",
        )
    return event
