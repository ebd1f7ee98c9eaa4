"""The inbound contract (schemas.events) and the generated JSON Schema files."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.events import (
    MAX_TEXT_CHARS,
    ActionEvent,
    ActionStatus,
    MessageEvent,
    Role,
    chat_event_adapter,
)
from schemas.generate import stale_files

MESSAGE: dict[str, Any] = {
    "event_id": "billing-loop-01",
    "session_id": "demo-billing-loop",
    "ts": "2026-01-05T09:00:20Z",
    "type": "message",
    "role": "customer",
    "text": "I was charged twice.",
}
ACTION: dict[str, Any] = {
    "event_id": "refund-fixed-04",
    "session_id": "demo-refund-fixed",
    "ts": "2026-01-05T09:00:20Z",
    "type": "action",
    "role": "bot",
    "action": {"name": "issue_refund", "status": "succeeded"},
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k != key}


def test_message_example_validates() -> None:
    event = chat_event_adapter.validate_json(json.dumps(MESSAGE))
    assert isinstance(event, MessageEvent)
    assert event.role is Role.CUSTOMER
    assert event.ts == datetime(2026, 1, 5, 9, 0, 20, tzinfo=UTC)
    assert event.text == "I was charged twice."
    assert event.metadata == {}
    assert event.channel is None


def test_action_example_validates() -> None:
    event = chat_event_adapter.validate_json(json.dumps(ACTION))
    assert isinstance(event, ActionEvent)
    assert event.role is Role.BOT
    assert event.action.name == "issue_refund"
    assert event.action.status is ActionStatus.SUCCEEDED


@pytest.mark.parametrize("status", [s.value for s in ActionStatus])
def test_every_action_status_validates(status: str) -> None:
    data = with_(ACTION, action={"name": "rebook_flight", "status": status})
    event = chat_event_adapter.validate_python(data)
    assert isinstance(event, ActionEvent)
    assert event.action.status == status


def test_optional_fields_validate() -> None:
    data = with_(
        MESSAGE,
        role="bot",
        channel="sms",
        locale="en-GB",
        customer_tier="gold",
        intent="billing_question",
        intent_confidence=0.64,
        metadata={"booking_ref": "BK-TEST-0042", "attempt": 2, "vip": False, "note": None},
    )
    event = chat_event_adapter.validate_json(json.dumps(data))
    assert isinstance(event, MessageEvent)
    assert event.intent_confidence == 0.64
    assert event.metadata["attempt"] == 2


def test_timestamp_with_offset_validates() -> None:
    event = chat_event_adapter.validate_python(with_(MESSAGE, ts="2026-01-05T10:00:20+01:00"))
    assert event.ts == datetime(2026, 1, 5, 9, 0, 20, tzinfo=UTC)


@pytest.mark.parametrize("field", ["event_id", "session_id", "ts", "type", "role", "text"])
def test_missing_message_field_is_rejected(field: str) -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(without(MESSAGE, field)))


@pytest.mark.parametrize("field", ["event_id", "session_id", "ts", "role", "action"])
def test_missing_action_field_is_rejected(field: str) -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(without(ACTION, field)))


@pytest.mark.parametrize(
    "data",
    [
        with_(MESSAGE, text=42),
        with_(MESSAGE, text=None),
        with_(MESSAGE, event_id=["a"]),
        with_(MESSAGE, event_id=""),
        with_(MESSAGE, session_id=7),
        with_(MESSAGE, ts="yesterday"),
        with_(MESSAGE, role="robot"),
        with_(MESSAGE, intent_confidence=1.5),
        with_(MESSAGE, intent_confidence=-0.1),
        with_(MESSAGE, metadata={"nested": {"a": 1}}),
        with_(MESSAGE, metadata=["a"]),
        with_(ACTION, role="customer"),
        with_(ACTION, action={"name": "issue_refund", "status": "done"}),
        with_(ACTION, action={"name": "", "status": "failed"}),
        with_(ACTION, action={"status": "failed"}),
        with_(ACTION, action="issue_refund"),
    ],
    ids=lambda d: str(d)[:60],
)
def test_wrong_types_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(data))


@pytest.mark.parametrize("kind", ["note", "Message", "", None])
def test_unknown_type_is_rejected(kind: str | None) -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(with_(MESSAGE, type=kind)))


@pytest.mark.parametrize("ts", ["2026-01-05T09:00:20", "2026-01-05 09:00:20"])
def test_naive_timestamp_is_rejected(ts: str) -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(with_(MESSAGE, ts=ts)))


def test_text_over_limit_is_rejected() -> None:
    ok = chat_event_adapter.validate_json(json.dumps(with_(MESSAGE, text="a" * MAX_TEXT_CHARS)))
    assert isinstance(ok, MessageEvent)
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(
            json.dumps(with_(MESSAGE, text="a" * (MAX_TEXT_CHARS + 1)))
        )


def test_too_long_identifier_is_rejected() -> None:
    with pytest.raises(ValidationError):
        chat_event_adapter.validate_json(json.dumps(with_(MESSAGE, session_id="s" * 201)))


def test_unknown_fields_are_ignored() -> None:
    data = with_(MESSAGE, sentiment="angry", schema_version=3)
    event = chat_event_adapter.validate_json(json.dumps(data))
    assert isinstance(event, MessageEvent)
    assert "sentiment" not in event.model_dump()
    action = with_(ACTION, action={"name": "issue_refund", "status": "failed", "amount": 10})
    parsed = chat_event_adapter.validate_json(json.dumps(action))
    assert isinstance(parsed, ActionEvent)
    assert "amount" not in parsed.action.model_dump()


def test_events_are_immutable() -> None:
    event = chat_event_adapter.validate_python(MESSAGE)
    assert isinstance(event, MessageEvent)
    with pytest.raises(ValidationError):
        event.text = "changed"  # type: ignore[misc]


def test_json_schema_files_are_up_to_date() -> None:
    stale = stale_files()
    assert stale == [], f"schemas/json is out of date ({stale}); run `escalator schemas`"
