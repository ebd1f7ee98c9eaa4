"""Read the agent queues for the board: waiting entries and the desks' claims on them.

Read-only, and one pipelined round trip per refresh (the queue index first, then per stream
its length, its oldest entries and the ``desks`` group's pending entries), so a board polled
by several supervisors costs Redis little. Any worker can serve any escalation: everything
comes from Redis, nothing from the worker's own table partitions.
"""

import logging
from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.escalation import Escalation
from workers.board.model import BoardSnapshot, DeskClaim, QueueCount, QueuedEscalation
from workers.desk.client import as_text
from workers.queues.keys import DESK_GROUP, QueueKeys

logger = logging.getLogger(__name__)

# A queue this long is an incident already; the board shows its oldest entries and the count.
MAX_ENTRIES_PER_STREAM = 200
StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


class BoardUnavailableError(Exception):
    """Redis did not answer; the page keeps its last data and says so."""


class BoardSource:
    """The queues under one root prefix, as the board sees them."""

    def __init__(
        self,
        client: "aioredis.Redis",
        keys: QueueKeys,
        max_entries_per_stream: int = MAX_ENTRIES_PER_STREAM,
    ) -> None:
        self._client = client
        self._keys = keys
        self._limit = max_entries_per_stream

    async def snapshot(self) -> BoardSnapshot:
        """Every queue stream's length, oldest entries and claims, read in one round trip."""
        try:
            members = await self._client.smembers(self._keys.queue_index)
            streams = sorted(
                (parsed, as_text(member))
                for member in members
                if (parsed := self._keys.parse_queue_stream(as_text(member)))
            )
            pipe = self._client.pipeline(transaction=False)
            for _, stream in streams:
                pipe.xlen(stream)
                pipe.xrange(stream, count=self._limit)
                pipe.xpending_range(stream, DESK_GROUP, "-", "+", self._limit)
            replies = await pipe.execute(raise_on_error=False)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BoardUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc
        counts: list[QueueCount] = []
        entries: list[QueuedEscalation] = []
        for index, ((queue, priority), stream) in enumerate(streams):
            length, found, pending = replies[3 * index : 3 * index + 3]
            for reply in (length, found):
                if isinstance(reply, Exception):
                    raise BoardUnavailableError(f"Redis refused a read of {stream}") from reply
            counts.append(QueueCount(queue, priority, int(length)))
            claims = _claims(pending)
            for entry_id, fields in cast(StreamEntries, found):
                escalation = _escalation(stream, as_text(entry_id), fields)
                if escalation is not None:
                    entry = as_text(entry_id)
                    entries.append(
                        QueuedEscalation(queue, priority, entry, escalation, claims.get(entry))
                    )
        return BoardSnapshot(streams=counts, entries=entries)


def _claims(pending: Any) -> dict[str, DeskClaim]:
    """Entry id -> claim; a stream no desk has read yet has no group (NOGROUP): no claims."""
    if isinstance(pending, ResponseError) and "NOGROUP" in str(pending):
        return {}
    if isinstance(pending, Exception):
        raise BoardUnavailableError("Redis refused a read of the desks' claims") from pending
    return {
        as_text(item["message_id"]): DeskClaim(
            consumer=as_text(item["consumer"]),
            idle_seconds=int(item["time_since_delivered"]) / 1000,
            deliveries=int(item["times_delivered"]),
        )
        for item in pending
    }


def _escalation(stream: str, entry_id: str, fields: dict[bytes, bytes]) -> Escalation | None:
    """The entry's escalation; an unreadable entry is logged by id (never its content) and
    left off the board rather than blanking it."""
    try:
        return Escalation.model_validate_json(fields[b"payload"])
    except (KeyError, ValidationError):
        logger.warning("board: entry %s of %s holds no valid escalation", entry_id, stream)
        return None
