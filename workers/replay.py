"""Offline replay: JSON-lines chat events through exactly the worker's decision code.

No Kafka, no Redis: state lives in a dict, in input order. This is what ``escalator replay``
and the evaluation run.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from schemas.inbound import InboundEvent
from schemas.trace import TraceRecord
from workers.decision import DecisionEngine, SessionState
from workers.intake import DEFAULT_MAX_WORD_CHARS, RejectedRecordError, parse_record


@dataclass(slots=True)
class ReplayStats:
    """What a replay saw."""

    events: int = 0
    escalations: int = 0
    invalid_lines: int = 0


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One input line and where it came from, for error messages."""

    source: str
    number: int
    text: str


def read_lines(
    paths: Iterable[str], stdin: IO[str], on_read: Callable[[int], None] | None = None
) -> Iterator[SourceLine]:
    """Lines of each path in turn; ``-`` (or no path at all) reads standard input.

    ``on_read`` gets the size in bytes of each line as it is read (a progress bar's hook).
    """
    names = list(paths) or ["-"]
    for name in names:
        if name == "-":
            yield from _numbered("<stdin>", stdin, on_read)
            continue
        with Path(name).open(encoding="utf-8", errors="surrogateescape") as handle:
            yield from _numbered(name, handle, on_read)


def _numbered(
    source: str, handle: IO[str], on_read: Callable[[int], None] | None
) -> Iterator[SourceLine]:
    for number, text in enumerate(handle, start=1):
        if on_read is not None:
            on_read(len(text.encode("utf-8", errors="surrogateescape")))
        yield SourceLine(source, number, text)


class Replayer:
    """Feeds events to the engine in order, one state per session."""

    def __init__(
        self,
        engine: DecisionEngine,
        max_record_bytes: int = 64 * 1024,
        max_word_chars: int = DEFAULT_MAX_WORD_CHARS,
    ) -> None:
        self.engine = engine
        self.max_record_bytes = max_record_bytes
        self.max_word_chars = max_word_chars
        self.sessions: dict[str, SessionState] = {}
        self.stats = ReplayStats()

    def run(
        self, lines: Iterable[SourceLine], out: IO[str], err: IO[str], trace: bool = False
    ) -> ReplayStats:
        """Write escalations (or, with ``trace``, one record per event) as JSON lines to ``out``."""
        for line in lines:
            if not line.text.strip():
                continue
            try:
                raw = line.text.encode("utf-8", errors="surrogateescape")
                event = parse_record(raw, None, self.max_record_bytes, self.max_word_chars)
            except RejectedRecordError as exc:
                self.stats.invalid_lines += 1
                err.write(f"{line.source}:{line.number}: {exc.reason}: {exc}\n")
                continue
            record = self.step_event(event)
            if trace:
                out.write(record.model_dump_json() + "\n")
            elif record.escalation is not None:
                out.write(record.escalation.model_dump_json() + "\n")
        return self.stats

    def step_event(self, event: InboundEvent) -> TraceRecord:
        """Apply one parsed event and keep the session's new state."""
        outcome = self.engine.apply(self.sessions.get(event.session_id), event)
        if outcome.dropped:
            self.sessions.pop(event.session_id, None)
        else:
            self.sessions[event.session_id] = outcome.state
        self.stats.events += 1
        if outcome.escalation is not None:
            self.stats.escalations += 1
        return outcome.trace
