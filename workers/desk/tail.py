"""What ``escalator desk tail`` shows: one queue's waiting escalations across its tiers."""

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError
from rich.table import Table

from schemas.escalation import Escalation
from workers.desk.client import as_text, redis_errors
from workers.desk.contract import entry_order, entry_time
from workers.desk.exceptions import InvalidEntryError
from workers.queues.keys import QueueKeys

StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    """An escalation still in its queue stream (waiting, or claimed but not yet accepted)."""

    priority: int
    entry_id: str
    escalation: Escalation

    @property
    def enqueued_at(self) -> datetime:
        """When it entered the queue: the stream entry id's timestamp."""
        return entry_time(self.entry_id)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The first ``limit`` entries of a queue in service order, and how many wait in all."""

    queue: str
    entries: list[WaitingEntry]
    total: int


async def snapshot(
    client: "aioredis.Redis", keys: QueueKeys, queue: str, limit: int
) -> QueueSnapshot:
    """The queue's entries in the order desks are served: tier by tier, oldest first."""
    found: list[WaitingEntry] = []
    total = 0
    with redis_errors():
        members = await client.smembers(keys.queue_index)
        tiers = sorted(
            parsed[1]
            for member in members
            if (parsed := keys.parse_queue_stream(as_text(member))) and parsed[0] == queue
        )
        for priority in tiers:
            stream = keys.queue_stream(queue, priority)
            total += await client.xlen(stream)
            if len(found) < limit:
                entries = cast(StreamEntries, await client.xrange(stream, count=limit - len(found)))
                found.extend(_waiting(stream, priority, entry) for entry in entries)
    found.sort(key=lambda entry: (entry.priority, entry_order(entry.entry_id)))
    return QueueSnapshot(queue, found[:limit], total)


def _waiting(stream: str, priority: int, entry: tuple[bytes, dict[bytes, bytes]]) -> WaitingEntry:
    entry_id = entry[0].decode()
    try:
        escalation = Escalation.model_validate_json(entry[1][b"payload"])
    except (KeyError, ValidationError) as exc:
        raise InvalidEntryError(f"entry {entry_id} of {stream} holds no valid escalation") from exc
    return WaitingEntry(priority, entry_id, escalation)


def waited(since: datetime, now: datetime) -> str:
    """A short duration such as ``45s``, ``3m07s`` or ``2h05m``."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def render(shot: QueueSnapshot, now: datetime) -> Table:
    """The table ``desk tail`` shows: one row per waiting escalation, in service order."""
    table = Table(
        title=f"queue {shot.queue}: {shot.total} waiting",
        caption=f"{now:%H:%M:%S} UTC"
        + (f", showing the first {len(shot.entries)}" if len(shot.entries) < shot.total else ""),
    )
    for column in ("session", "prio", "reasons", "waiting", "first evidence"):
        table.add_column(column, overflow="fold")
    for entry in shot.entries:
        escalation = entry.escalation
        first = escalation.evidence[0]
        table.add_row(
            escalation.session_id,
            f"p{entry.priority}",
            ", ".join(escalation.reasons),
            waited(entry.enqueued_at, now),
            f"{first.cue}: \u201c{first.excerpt}\u201d",
        )
    return table
