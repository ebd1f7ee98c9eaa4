"""Everything escalator consumes: chat events, session events and desks' handoff reports."""

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from schemas.events import ActionEvent, MessageEvent
from schemas.lifecycle import HandoffEvent, SessionEvent

InboundEvent = MessageEvent | ActionEvent | SessionEvent | HandoffEvent

inbound_event_adapter: TypeAdapter[InboundEvent] = TypeAdapter(
    Annotated[InboundEvent, Field(discriminator="type")]
)


def inbound_event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one inbound record of any kind."""
    schema = inbound_event_adapter.json_schema()
    schema["title"] = "InboundEvent"
    return schema
