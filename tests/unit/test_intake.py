"""Intake against hostile input: every record is an event or a reasoned rejection, nothing else.

Property tests feed ``parse_record`` arbitrary bytes and mutated valid records, then run what
it accepts through the decision core, which must cope with any text a person can send.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.events import MAX_TEXT_CHARS, ActionEvent, MessageEvent
from schemas.inbound import InboundEvent, inbound_event_adapter
from schemas.lifecycle import HandoffEvent
from workers.decision import DecisionEngine, SessionState
from workers.intake import (
    _CONTROL,
    _MAYBE_HOSTILE,
    _SURROGATE,
    DEFAULT_MAX_WORD_CHARS,
    MAX_NESTING,
    RejectedRecordError,
    parse_record,
)
from workers.settings import Settings

MAX_BYTES = 64 * 1024
T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
Outcome = InboundEvent | DeadLetterReason
# Control characters intake refuses: C0 but tab, newline, carriage return; DEL; C1.
REFUSED_CONTROLS = [
    chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
]

# Text a person (or a phone keyboard) really sends: must be accepted and survive the engine.
HOSTILE_BUT_VALID = [
    "😡😡😡 still not working 👎🏽",
    "👨‍👩‍👧‍👦 my family's tickets were cancelled!!! 🛫❌",
    "أريد التحدث إلى موظف الآن",  # Arabic: "I want to talk to an employee now"
    "אני רוצה לדבר עם נציג",  # Hebrew: "I want to talk to a representative"
    "\u202eesrever\u202c text with a right-to-left override",
    "a\u200bg\u200be\u200bn\u200bt please, zero\u200dwidth\ufeff joiners",
    "Z̴̡̛a̸̢l̷̨g̶̛o̵ text with combining marks",
    "ＡＧＥＮＴ ＰＬＥＡＳＥ (full width)",  # noqa: RUF001
    "line one\nline two\r\n\ttabbed",
    "𝓱𝓾𝓶𝓪𝓷 𝓹𝓵𝓮𝓪𝓼𝓮",  # noqa: RUF001
    "我要投诉，我的退款还没有到账。",  # noqa: RUF001
    "\u2028line separator\u2029paragraph separator",
    "",
    "   ",
]


def record(document: Any) -> bytes:
    """JSON as a producer writes it: escapes keep lone surrogates as ``\\ud800``."""
    return json.dumps(document).encode()


def message(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "session_id": "s1",
        "ts": "2026-01-05T09:00:20Z",
        "type": "message",
        "role": "customer",
        "text": text,
        **extra,
    }


def outcome(value: bytes | None, key: bytes | None = None) -> Outcome:
    """The event, or the reason it was refused; any other exception fails the test."""
    try:
        return parse_record(value, key, MAX_BYTES)
    except RejectedRecordError as exc:
        rejected = exc
    letter = DeadLetter(
        reason=rejected.reason,
        error=str(rejected),
        source_topic="chat-events",
        source_partition=0,
        source_offset=0,
        key_b64=None,
        value_b64="",
        received_at=T0.isoformat(),
    )
    # The error text goes to logs and the dead-letter topic: printable, encodable.
    letter.model_dump_json().encode()
    assert str(rejected).isprintable()
    return rejected.reason


def rejection(value: bytes, key: bytes | None = None, max_word_chars: int = 1_000) -> str:
    with pytest.raises(RejectedRecordError) as caught:
        parse_record(value, key, MAX_BYTES, max_word_chars)
    return f"{caught.value.reason}: {caught.value}"


# --- examples: one per rule, with the message a producer sees ---------------------------------


def test_the_setting_default_is_the_intake_default() -> None:
    assert Settings().max_word_chars == DEFAULT_MAX_WORD_CHARS


@pytest.mark.parametrize("text", HOSTILE_BUT_VALID)
def test_text_people_send_is_accepted(text: str) -> None:
    event = parse_record(record(message(text)), b"s1", MAX_BYTES)
    assert isinstance(event, MessageEvent)
    assert event.text == text


def test_a_lone_surrogate_is_invalid_unicode_with_field_and_position() -> None:
    assert rejection(record(message("ab\ud800cd"))) == (
        "invalid_unicode: text: lone surrogate U+D800 at character 2: not Unicode text, "
        "UTF-8 cannot encode it"
    )


def test_a_surrogate_pair_escape_is_an_ordinary_emoji() -> None:
    event = parse_record(
        b'{"type": "message", "event_id": "e", "session_id": "s", '
        b'"ts": "2026-01-05T09:00:20Z", "role": "bot", "text": "\\ud83d\\ude00"}',
        None,
        MAX_BYTES,
    )
    assert isinstance(event, MessageEvent)
    assert event.text == "😀"


def test_a_lone_surrogate_anywhere_is_refused_even_in_a_key_or_an_unknown_field() -> None:
    in_key = rejection(record(message("hi", metadata={"x\udfff": 1})))
    assert in_key.startswith("invalid_unicode: metadata.x\\udfff (the key): lone surrogate U+DFFF")
    unknown = rejection(record(message("hi", extra=["ok", "\ud800"])))
    assert unknown.startswith("invalid_unicode: extra[1]: lone surrogate U+D800 at character 0")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (message("hi\x00there"), "text: control character U+0000 at character 2"),
        (message("\x1b[2J\x1b[1;1H cleared"), "text: control character U+001B at character 0"),
        (message("ok", channel="web\x7f"), "channel: control character U+007F at character 3"),
        (message("ok", metadata={"order": "A\x85B"}), "metadata.order: control character U+0085"),
        (
            {
                **message("x"),
                "type": "action",
                "role": "bot",
                "action": {"name": "refund\x07", "status": "failed"},
            },
            "action.name: control character U+0007 at character 6",
        ),
    ],
)
def test_control_characters_are_refused_with_field_and_position(
    document: dict[str, Any], expected: str
) -> None:
    assert rejection(record(document)).startswith(f"control_character: {expected}")


def test_raw_control_bytes_inside_a_json_string_are_not_json() -> None:
    assert rejection(b'{"text": "a\x1bb"}').startswith("malformed_json: not JSON: Invalid control")


def test_a_word_longer_than_the_limit_is_refused_with_field_position_and_limit() -> None:
    text = "see " + "A" * 1_001 + " please"
    assert rejection(record(message(text))) == (
        "long_word: text: a word of 1001 characters without a space at character 4; "
        "the limit is 1000"
    )
    assert isinstance(
        parse_record(record(message("see " + "A" * 1_000)), None, MAX_BYTES), MessageEvent
    )


def test_the_word_limit_is_configurable_and_covers_every_free_text_field() -> None:
    word = "w" * 150
    action = {
        **message(""),
        "type": "action",
        "role": "bot",
        "action": {"name": "refund", "status": "failed", "detail": f"because {word}"},
    }
    handoff = {
        "event_id": "h1",
        "session_id": "s1",
        "ts": "2026-01-05T09:00:20Z",
        "type": "handoff",
        "status": "resolved",
        "escalation_id": "esc-1",
        "note": f"{word} done",
    }
    assert rejection(record(action), max_word_chars=100).startswith("long_word: action.detail:")
    assert rejection(record(handoff), max_word_chars=100).startswith("long_word: note:")
    assert rejection(record(message("x", metadata={"k": word})), max_word_chars=100).startswith(
        "long_word: metadata.k:"
    )
    assert rejection(record(message("x", metadata={word: 1})), max_word_chars=100).startswith(
        "long_word: metadata.wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww... (the key):"
    )
    for accepted in (action, handoff):
        parse_record(record(accepted), None, MAX_BYTES, max_word_chars=150)


def test_a_long_word_in_an_ignored_field_does_not_matter() -> None:
    parse_record(record(message("hi", blob="b" * 5_000)), None, MAX_BYTES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"intent_confidence": NaN}', "NaN is not a JSON number"),
        (b'{"x": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"x": 1e999}', "the number 1e999 is out of range"),
        (b'{"x": ' + b"9" * 5_000 + b"}", "an integer has too many digits"),
        (b"[" * 50_000, f"nested deeper than {MAX_NESTING} levels"),
        (b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1), "nested deeper than"),
        (
            record(
                message(
                    "x",
                    extra={
                        "a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                    },
                )
            ),
            "nested deeper than",
        ),
    ],
)
def test_what_python_accepts_but_json_does_not_is_malformed(value: bytes, expected: str) -> None:
    assert expected in rejection(value)
    assert rejection(value).startswith("malformed_json: not JSON: ")


def test_nesting_up_to_the_limit_is_fine() -> None:
    nested: Any = 1
    for _ in range(MAX_NESTING - 1):
        nested = [nested]
    parse_record(record(message("hi", extra=nested)), None, MAX_BYTES)


def test_schema_errors_quote_hostile_keys_safely() -> None:
    found = rejection(record(message("hi", metadata={"k" * 500: [1]})))
    assert found.startswith("schema_violation: message.metadata.kkkk")
    assert len(found) < 1_000


# --- properties of intake ---------------------------------------------------------------------

# Characters of valid free text: anything but surrogates and refused controls.
SAFE_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="".join(REFUSED_CONTROLS)),
    max_size=120,
)
IDS = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=20)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inbound event of any kind, as a producer's dict."""
    seconds = draw(st.integers(0, 10**6))
    base: dict[str, Any] = {
        "event_id": draw(IDS),
        "session_id": draw(IDS),
        "ts": (T0 + timedelta(seconds=seconds)).isoformat(),
    }
    kind = draw(st.sampled_from(["message", "action", "session", "handoff"]))
    metadata = draw(
        st.dictionaries(IDS, st.none() | st.booleans() | st.integers() | SAFE_TEXT, max_size=3)
    )
    if kind == "message":
        return {
            **base,
            "type": "message",
            "role": draw(st.sampled_from(["customer", "bot", "agent", "system"])),
            "text": draw(SAFE_TEXT | st.sampled_from(HOSTILE_BUT_VALID)),
            "intent_confidence": draw(st.none() | st.floats(0.0, 1.0)),
            "metadata": metadata,
        }
    if kind == "action":
        detail = draw(st.none() | SAFE_TEXT)
        status = draw(st.sampled_from(["succeeded", "failed", "not_permitted"]))
        return {
            **base,
            "type": "action",
            "role": "bot",
            "action": {"name": draw(IDS), "status": status, "detail": detail},
            "metadata": metadata,
        }
    if kind == "session":
        return {**base, "type": "session", "action": draw(st.sampled_from(["started", "ended"]))}
    return {
        **base,
        "type": "handoff",
        "status": draw(st.sampled_from(["accepted", "resolved", "returned_to_bot", "abandoned"])),
        "escalation_id": draw(IDS),
        "note": draw(st.none() | SAFE_TEXT),
    }


JUNK_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just([]),
    st.just({}),
    st.text(max_size=5),
    st.just("x" * 70_000),
    st.just(("y" * 999 + " ") * 12),
    st.just("see " + "z" * 1_500),
    st.sampled_from(REFUSED_CONTROLS).map(lambda c: f"a{c}b"),
    st.sampled_from(["\ud800", "\udfff", "x\udbff"]),
)


def _set(document: dict[str, Any], path: list[str], value: Any) -> None:
    """Set a (possibly nested) field, making the parent an object if it is not one."""
    target = document
    for part in path[:-1]:
        inner = target.get(part)
        if not isinstance(inner, dict):
            inner = target[part] = {}
        target = inner
    target[path[-1]] = value


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A valid record and its key, then damage a buggy or hostile producer does."""
    document = draw(valid_documents())
    key = draw(st.sampled_from([document["session_id"].encode(), b"another-session"]))
    for _ in range(draw(st.integers(1, 2))):
        fields = [*document, "action.detail", "action.status", "metadata.k", "unknown"]
        path = draw(st.sampled_from(fields)).split(".")
        damage = draw(st.sampled_from(["delete", "replace", "insert", "nest"]))
        if damage == "delete" and path[0] in document:
            del document[path[0]]
        elif damage == "replace":
            _set(document, path, draw(JUNK_VALUES))
        elif damage == "insert" and isinstance(document.get(path[0]), str):
            text: str = document[path[0]]
            at = draw(st.integers(0, len(text)))
            junk = draw(st.sampled_from([*REFUSED_CONTROLS, "\ud800", "\udc00", "\U0001f600"]))
            document[path[0]] = text[:at] + junk + text[at:]
        elif damage == "nest":
            nested: Any = document.get(path[0])
            for _ in range(draw(st.integers(1, 400))):
                nested = [nested]
            document[path[0]] = nested
    value = json.dumps(document, ensure_ascii=draw(st.booleans())).encode(
        "utf-8", errors="surrogatepass"
    )
    byte_damage = draw(st.sampled_from(["none", "none", "none", "flip", "truncate", "wrap"]))
    if byte_damage == "flip" and value:
        at = draw(st.integers(0, len(value) - 1))
        value = value[:at] + bytes([value[at] ^ draw(st.integers(1, 255))]) + value[at + 1 :]
    elif byte_damage == "truncate":
        value = value[: draw(st.integers(0, len(value)))]
    elif byte_damage == "wrap":
        depth = draw(st.integers(1, 20_000))
        value = b"[" * depth + value + b"]" * depth
    return value, key


def check_accepted(event: InboundEvent) -> None:
    """What intake accepts can be encoded, stored and re-read unchanged."""
    encoded = event.model_dump_json().encode("utf-8")
    assert parse_record(encoded, event.session_id.encode(), 10 * MAX_BYTES) == event


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.none(), st.binary(max_size=20) | st.none())
def test_arbitrary_bytes_are_an_event_or_a_rejection(
    value: bytes | None, key: bytes | None
) -> None:
    result = outcome(value, key)
    assert result == outcome(value, key)
    if not isinstance(result, DeadLetterReason):
        check_accepted(result)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_arbitrary_json_is_an_event_or_a_rejection(document: Any) -> None:
    value = json.dumps(document).encode()
    assert outcome(value) == outcome(value)


@settings(max_examples=300, deadline=None)
@given(valid_documents())
def test_valid_events_round_trip(document: dict[str, Any]) -> None:
    event = parse_record(record(document), document["session_id"].encode(), MAX_BYTES)
    assert event == inbound_event_adapter.validate_python(document)
    check_accepted(event)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_records())
def test_mutated_records_are_an_event_or_a_rejection(record_and_key: tuple[bytes, bytes]) -> None:
    value, key = record_and_key
    result = outcome(value, key)
    assert result == outcome(value, key)
    if not isinstance(result, DeadLetterReason):
        check_accepted(result)
        for text in free_texts(result):
            assert all(len(word) <= DEFAULT_MAX_WORD_CHARS for word in text.split())


def free_texts(event: InboundEvent) -> list[str]:
    if isinstance(event, MessageEvent):
        return [event.text]
    if isinstance(event, ActionEvent):
        return [event.action.detail or ""]
    if isinstance(event, HandoffEvent):
        return [event.note or ""]
    return []


# --- the decision core on whatever intake accepts -----------------------------------------------

LONG_TEXTS = st.sampled_from(
    [
        ("I want a refund 😡 " * 600)[:MAX_TEXT_CHARS],
        ("أريد التحدث إلى موظف " * 500)[:MAX_TEXT_CHARS],
        ("a\u200b" * 5_000)[:999] + " " + "agent please " * 600,
        ("Z̴̡̛a̸̢l̷̨g̶̛o̵ " * 700)[:MAX_TEXT_CHARS],
        " " * MAX_TEXT_CHARS,
    ]
)


@st.composite
def accepted_sequences(draw: st.DrawFn) -> list[InboundEvent]:
    """Raw records of two sessions through intake; only what it accepts reaches the engine."""
    events: list[InboundEvent] = []
    for i in range(draw(st.integers(1, 25))):
        document = draw(valid_documents())
        document["session_id"] = draw(st.sampled_from(["s1", "s2"]))
        document["event_id"] = f"e{draw(st.integers(0, i))}"  # some redeliveries
        document["ts"] = (T0 + timedelta(seconds=10 * i)).isoformat()
        if document["type"] == "message":
            document["text"] = draw(SAFE_TEXT | st.sampled_from(HOSTILE_BUT_VALID) | LONG_TEXTS)
        result = outcome(record(document))
        if not isinstance(result, DeadLetterReason):
            events.append(result)
    return events


def run(events: list[InboundEvent]) -> list[tuple[Any, ...]]:
    """Apply events in order, one state per session; what the worker stores and sends."""
    engine = DecisionEngine()
    states: dict[str, SessionState | None] = {}
    seen: list[tuple[Any, ...]] = []
    for event in events:
        result = engine.apply(states.get(event.session_id), event)
        states[event.session_id] = None if result.dropped else result.state
        assert 0.0 <= result.frustration <= 1.0
        stored = json.dumps(result.state.to_json_dict(), ensure_ascii=False).encode("utf-8")
        delivered = result.deliver.model_dump_json().encode() if result.deliver else None
        seen.append((result.frustration, result.signals, stored, delivered, result.commands))
    return seen


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accepted_sequences())
def test_the_engine_copes_with_any_accepted_sequence_and_is_deterministic(
    events: list[InboundEvent],
) -> None:
    assert run(events) == run(events)


@pytest.mark.parametrize("text", [*HOSTILE_BUT_VALID, ("agent please 🙏 " * 700)[:MAX_TEXT_CHARS]])
def test_hostile_but_valid_text_escalates_normally_when_a_person_is_asked_for(text: str) -> None:
    engine = DecisionEngine()
    first = parse_record(record(message(text)), b"s1", MAX_BYTES)
    asked = parse_record(
        record({**message("can I talk to a human please"), "event_id": "e2"}), b"s1", MAX_BYTES
    )
    opened = engine.apply(None, first)
    answered = engine.apply(opened.state, asked)
    assert (opened.escalation or answered.escalation) is not None


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xFFFF)))
def test_the_shortcut_never_skips_a_string_that_needs_the_character_walk(value: str) -> None:
    """Skipping the walk is only a shortcut: whenever a decoded string holds a surrogate or
    a control character, the JSON text it came from matches the pre-check."""
    hostile = _SURROGATE.search(value) or _CONTROL.search(value)
    texts = [json.dumps({"x": value})]
    unescaped = json.dumps({"x": value}, ensure_ascii=False)
    if not _SURROGATE.search(unescaped):  # raw surrogates cannot come out of UTF-8 decoding
        texts.append(unescaped)
    for text in texts:
        if hostile:
            assert _MAYBE_HOSTILE.search(text)
