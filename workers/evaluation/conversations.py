"""escalator's own conversation set: multi-turn chats labelled with when they must escalate.

Each line of ``conversations.jsonl`` (next to this module) is one conversation: its turns
(customer and bot messages, bot actions with their outcome), the customer turn by which a
competent supervisor would say "hand over now" (``escalate_by``, or null for "never") and the
customer turn before which a handover would be premature (``not_before``). Customer turns are
counted from 1; an escalation raised on a bot event or action counts at the number of customer
turns seen so far.

The conversations are replayed through the same ``Replayer`` as ``escalator replay`` and the
public sets, and only the trace records are read.
"""

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.escalation import ReasonCode
from schemas.events import (
    MAX_TEXT_CHARS,
    ActionEvent,
    ActionOutcome,
    ActionStatus,
    MessageEvent,
    Role,
)
from schemas.trace import TraceRecord
from workers.decision import DecisionEngine
from workers.errors import EscalatorError
from workers.replay import Replayer

DEFAULT_PATH = Path(__file__).with_name("conversations.jsonl")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""Replayed events are 15 seconds apart from here."""
STEP = timedelta(seconds=15)


class ConversationFileError(EscalatorError):
    """A conversation file cannot be read or a line of it is not a valid conversation."""


class MessageTurn(BaseModel):
    """Something the customer or the bot said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["customer", "bot"]
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class ActionTurn(BaseModel):
    """A bot action and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(min_length=1, max_length=200)
    status: ActionStatus
    detail: str | None = Field(default=None, max_length=1_000)


Turn = MessageTurn | ActionTurn


class LabelledConversation(BaseModel):
    """One line of the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._-]+$")]
    domain: str = Field(min_length=1)
    case: str = Field(min_length=1)
    description: str = Field(min_length=1)
    escalate_by: int | None = Field(ge=1, description="Customer turn; null means never.")
    not_before: int = Field(default=1, ge=1)
    reason: ReasonCode | None = None
    turns: list[Turn] = Field(min_length=2)

    @property
    def customer_turns(self) -> int:
        """How many customer messages the conversation has."""
        return sum(1 for t in self.turns if isinstance(t, MessageTurn) and t.role == "customer")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        count = self.customer_turns
        if count == 0:
            raise ValueError("the conversation has no customer turn")
        if self.escalate_by is not None:
            if self.escalate_by > count:
                raise ValueError(
                    f"escalate_by {self.escalate_by} is past the last customer turn ({count})"
                )
            if self.not_before > self.escalate_by:
                raise ValueError(
                    f"not_before {self.not_before} is after escalate_by {self.escalate_by}"
                )
        elif self.not_before != 1:
            raise ValueError("not_before only applies to a conversation that escalates")
        return self

    def events(self) -> list[MessageEvent | ActionEvent]:
        """The turns as chat events with deterministic ids (``<id>-01``...) and times."""
        events: list[MessageEvent | ActionEvent] = []
        for number, turn in enumerate(self.turns, start=1):
            common = {
                "event_id": f"{self.id}-{number:02d}",
                "session_id": f"eval-{self.id}",
                "ts": START + STEP * number,
            }
            if isinstance(turn, MessageTurn):
                events.append(
                    MessageEvent(type="message", role=Role(turn.role), text=turn.text, **common)
                )
            else:
                outcome = ActionOutcome(name=turn.action, status=turn.status, detail=turn.detail)
                events.append(ActionEvent(type="action", role=Role.BOT, action=outcome, **common))
        return events


def load(path: Path = DEFAULT_PATH) -> list[LabelledConversation]:
    """Read and validate a conversation file; the first bad line raises with its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConversationFileError(f"cannot read the conversation set {path}: {exc}") from exc
    return parse_lines(lines, str(path))


def parse_lines(
    lines: Iterable[str], source: str = "<conversations>"
) -> list[LabelledConversation]:
    """Validate JSON lines (blank lines skipped); ids must be unique."""
    conversations: list[LabelledConversation] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            conversation = LabelledConversation.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConversationFileError(f"{source}:{number}: not JSON: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'line'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConversationFileError(f"{source}:{number}: {problems}") from exc
        if conversation.id in seen:
            raise ConversationFileError(
                f"{source}:{number}: id {conversation.id!r} already used on line "
                f"{seen[conversation.id]}"
            )
        seen[conversation.id] = number
        conversations.append(conversation)
    if not conversations:
        raise ConversationFileError(f"{source}: no conversations")
    return conversations


class Outcome(StrEnum):
    """How one conversation was judged."""

    RIGHT = "right"
    MISSED = "missed"
    LATE = "late"
    EARLY = "early"
    FALSE_ESCALATION = "false escalation"


@dataclass(frozen=True, slots=True)
class Judged:
    """One conversation's expectation beside what the engine did."""

    id: str
    case: str
    escalate_by: int | None
    not_before: int
    escalated_at: int | None
    """Customer turn (1-based) at which the engine escalated; None when it never did."""
    reasons: tuple[str, ...]
    outcome: Outcome
    lateness: int | None = None
    """Customer turns past ``escalate_by`` for a late escalation."""

    @property
    def right(self) -> bool:
        return self.outcome is Outcome.RIGHT

    @property
    def expected(self) -> str:
        """The expectation in words: "never", "by 3" or "2..3"."""
        if self.escalate_by is None:
            return "never"
        if self.not_before == self.escalate_by:
            return f"at turn {self.escalate_by}"
        if self.not_before > 1:
            return f"turn {self.not_before}..{self.escalate_by}"
        return f"by turn {self.escalate_by}"

    @property
    def got(self) -> str:
        """What the engine did, in words."""
        return "never" if self.escalated_at is None else f"turn {self.escalated_at}"

    @property
    def miss(self) -> str:
        """The kind of miss, with the lateness for a late one."""
        if self.outcome is Outcome.LATE:
            return f"late by {self.lateness}"
        return self.outcome.value


def judge(
    conversation: LabelledConversation, escalated_at: int | None, reasons: Sequence[str] = ()
) -> Judged:
    """Compare the engine's escalation turn with the conversation's labels."""
    expected_by, not_before = conversation.escalate_by, conversation.not_before
    lateness = None
    if expected_by is None:
        outcome = Outcome.RIGHT if escalated_at is None else Outcome.FALSE_ESCALATION
    elif escalated_at is None:
        outcome = Outcome.MISSED
    elif escalated_at < not_before:
        outcome = Outcome.EARLY
    elif escalated_at > expected_by:
        outcome, lateness = Outcome.LATE, escalated_at - expected_by
    else:
        outcome = Outcome.RIGHT
    return Judged(
        conversation.id,
        conversation.case,
        expected_by,
        not_before,
        escalated_at,
        tuple(reasons),
        outcome,
        lateness,
    )


@dataclass(frozen=True, slots=True)
class ConversationScore:
    """The whole set's score."""

    source: str
    judged: tuple[Judged, ...]

    @property
    def n(self) -> int:
        return len(self.judged)

    @property
    def never(self) -> int:
        """How many conversations must never escalate."""
        return sum(1 for j in self.judged if j.escalate_by is None)

    @property
    def share_right(self) -> float | None:
        return sum(j.right for j in self.judged) / self.n if self.n else None

    @property
    def median_lateness(self) -> float | None:
        """Median customer turns late, over the escalating cases that escalated late."""
        late = [j.lateness for j in self.judged if j.lateness is not None]
        return float(statistics.median(late)) if late else None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for j in self.judged if j.outcome is outcome)

    @property
    def false_escalations(self) -> int:
        return self.count(Outcome.FALSE_ESCALATION)

    @property
    def missed(self) -> int:
        return self.count(Outcome.MISSED)

    @property
    def early(self) -> int:
        return self.count(Outcome.EARLY)

    @property
    def late(self) -> int:
        return self.count(Outcome.LATE)

    @property
    def wrong(self) -> tuple[Judged, ...]:
        return tuple(j for j in self.judged if not j.right)


def escalation_turn(
    conversation: LabelledConversation, traces: Sequence[TraceRecord]
) -> tuple[int | None, tuple[str, ...]]:
    """The customer turn of the first escalating event and its reasons."""
    customer = 0
    for turn, trace in zip(conversation.turns, traces, strict=True):
        if isinstance(turn, MessageTurn) and turn.role == "customer":
            customer += 1
        if trace.escalation is not None:
            return customer, tuple(str(reason) for reason in trace.escalation.reasons)
    return None, ()


def replay_conversation(
    conversation: LabelledConversation, replayer: Replayer
) -> tuple[TraceRecord, ...]:
    """Every event of one conversation through ``replayer``, in order."""
    return tuple(replayer.step_event(event) for event in conversation.events())


def score(
    conversations: Sequence[LabelledConversation],
    engine: DecisionEngine | None = None,
    source: str = "conversations.jsonl",
) -> ConversationScore:
    """Replay each conversation as its own session and judge when it escalated."""
    replayer = Replayer(engine or DecisionEngine())
    judged = []
    for conversation in conversations:
        traces = replay_conversation(conversation, replayer)
        at, reasons = escalation_turn(conversation, traces)
        judged.append(judge(conversation, at, reasons))
    return ConversationScore(source, tuple(judged))


def score_file(path: Path | None = None, engine: DecisionEngine | None = None) -> ConversationScore:
    """Load, replay and score a conversation file (the shipped set by default)."""
    chosen = path or DEFAULT_PATH
    name = DEFAULT_PATH.name if path is None else str(path)
    return score(load(chosen), engine, name)
