"""The handoff lifecycle: what agent desks report, session events, and commands to the bot.

Desks publish ``HandoffEvent`` records to the handoff-events topic (keyed by session id);
chat platforms may publish ``SessionEvent`` records to the chat-events topic. escalator
publishes ``BotCommand`` records to the bot-control topic for the bot (or the chat front end)
to obey.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import MAX_ID_CHARS, Identifier


class HandoffStatus(StrEnum):
    """What a desk reports about an escalation."""

    ACCEPTED = "accepted"
    """A person owns the session now; the bot must stay silent."""
    RESOLVED = "resolved"
    """The person solved it; the session may go on with the bot."""
    RETURNED_TO_BOT = "returned_to_bot"
    """The person handed the session back to the bot."""
    ABANDONED = "abandoned"
    """The handoff ended without resolution (the customer left, or the desk gave up)."""


class HandoffEvent(BaseModel):
    """A desk's report on one escalation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Identifier = Field(description="Unique id of this report; redeliveries repeat it.")
    session_id: Identifier
    ts: AwareDatetime
    type: Literal["handoff"]
    status: HandoffStatus
    escalation_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    agent_id: str | None = Field(default=None, max_length=MAX_ID_CHARS, description="Who owns it.")
    note: str | None = Field(default=None, max_length=2_000)


class SessionAction(StrEnum):
    """Session lifecycle."""

    STARTED = "started"
    ENDED = "ended"


class SessionEvent(BaseModel):
    """The chat platform says a session started or ended; an ended session's state is dropped."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Identifier
    session_id: Identifier
    ts: AwareDatetime
    type: Literal["session"]
    action: SessionAction


class BotCommandKind(StrEnum):
    """What escalator tells the bot or the customer-facing side."""

    PAUSE = "pause"
    """A person owns the session: stay silent."""
    RESUME = "resume"
    """The session is back with the bot."""
    NOTIFY_CUSTOMER = "notify_customer"
    """Tell the customer what is happening (e.g. the wait for a person is longer than usual)."""


class BotCommand(BaseModel):
    """A command on the bot-control topic, keyed by session id."""

    model_config = ConfigDict(frozen=True)

    command_id: str = Field(description="Deterministic: a redelivered cause gives the same id.")
    session_id: str
    command: BotCommandKind
    escalation_id: str | None = None
    reason: str = Field(description="Why, for logs and the customer-facing text.")
    message: str | None = Field(
        default=None, description="Customer-facing text, for notify_customer."
    )
    created_at: datetime
