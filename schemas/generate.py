"""Generate ``schemas/json/*.schema.json`` from the pydantic models."""

import json
from pathlib import Path
from typing import Any

from schemas.dead_letter import DeadLetter
from schemas.escalation import Escalation
from schemas.events import chat_event_json_schema
from schemas.inbound import inbound_event_json_schema
from schemas.lifecycle import BotCommand, HandoffEvent, SessionEvent
from schemas.trace import TraceRecord

JSON_DIR = Path(__file__).parent / "json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def build_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema document, for every public contract."""
    documents = {
        "chat-event": chat_event_json_schema(),
        "inbound-event": inbound_event_json_schema(),
        "session-event": SessionEvent.model_json_schema(),
        "handoff-event": HandoffEvent.model_json_schema(),
        "bot-command": BotCommand.model_json_schema(),
        "escalation": Escalation.model_json_schema(),
        "trace-record": TraceRecord.model_json_schema(),
        "dead-letter": DeadLetter.model_json_schema(),
    }
    return {
        f"{name}.schema.json": {"$schema": SCHEMA_DIALECT, **schema}
        for name, schema in documents.items()
    }


def render(schema: dict[str, Any]) -> str:
    """Stable text form, so the files diff cleanly."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    return [
        name
        for name, schema in build_schemas().items()
        if not (directory / name).is_file() or (directory / name).read_text() != render(schema)
    ]


def write_schemas(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in build_schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written
