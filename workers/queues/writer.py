"""Idempotent enqueue of escalations into Redis stream agent queues."""

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.escalation import Escalation
from workers.queues.exceptions import QueueUnavailableError
from workers.queues.keys import QueueKeys

# How long the idempotency marker outlives the enqueue: longer than any realistic redelivery.
MARKER_TTL_SECONDS = 14 * 24 * 3600


def _enqueue_lua(marker: int, stream: int, index: int) -> str:
    """The enqueue step, on the given KEYS positions. ARGV: payload, ttl, escalation_id,
    session_id, priority."""
    return f"""
local existing = redis.call('GET', KEYS[{marker}])
if existing then
  return {{0, existing}}
end
local entry = redis.call('XADD', KEYS[{stream}], '*',
  'escalation_id', ARGV[3], 'session_id', ARGV[4], 'priority', ARGV[5], 'payload', ARGV[1])
redis.call('SET', KEYS[{marker}], entry, 'EX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[{index}], KEYS[{stream}])
return {{1, entry}}
"""


# Atomic: the marker and the stream entry are written together or not at all, so however often
# an escalation is offered, exactly one entry exists. KEYS: marker, stream, index.
ENQUEUE_SCRIPT = _enqueue_lua(marker=1, stream=2, index=3)

# Take an escalation out of its queue (answered elsewhere, session ended); the marker stays,
# so a redelivered event cannot put it back. KEYS: marker, stream.
WITHDRAW_SCRIPT = """
local entry = redis.call('GET', KEYS[1])
if entry then
  return redis.call('XDEL', KEYS[2], entry)
end
return 0
"""

# Replace an escalation by its successor (an SLA breach) in one step, so a desk never sees
# both or neither. KEYS: old marker, old stream, new marker, new stream, index.
# ARGV: as ENQUEUE_SCRIPT.
REQUEUE_SCRIPT = """
local old = redis.call('GET', KEYS[1])
if old then
  redis.call('XDEL', KEYS[2], old)
end
""" + _enqueue_lua(marker=3, stream=4, index=5)


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """Where the escalation lives, and whether this call put it there."""

    stream: str
    entry_id: str
    created: bool


class AgentQueueWriter:
    """Writes escalations to ``{root}:queue:{queue}:p{priority}`` exactly once each."""

    def __init__(self, client: "aioredis.Redis", keys: QueueKeys) -> None:
        self._client = client
        self._keys = keys
        self._enqueue = client.register_script(ENQUEUE_SCRIPT)
        self._withdraw = client.register_script(WITHDRAW_SCRIPT)
        self._requeue = client.register_script(REQUEUE_SCRIPT)

    @classmethod
    def from_url(cls, url: str, keys: QueueKeys, **client_kwargs: Any) -> "AgentQueueWriter":
        """A writer with its own connection pool; ``client_kwargs`` (ACL username and password,
        TLS options) go to the redis client."""
        client = aioredis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, **client_kwargs
        )
        return cls(client, keys)

    def _stream(self, escalation: Escalation) -> str:
        return self._keys.queue_stream(escalation.queue, escalation.priority)

    def _payload(self, escalation: Escalation) -> list[str | int]:
        return [
            escalation.model_dump_json(),
            MARKER_TTL_SECONDS,
            escalation.escalation_id,
            escalation.session_id,
            escalation.priority,
        ]

    async def enqueue(self, escalation: Escalation) -> EnqueueResult:
        """Add the escalation to its queue unless it is already there."""
        stream = self._stream(escalation)
        keys = [
            self._keys.escalation_marker(escalation.escalation_id),
            stream,
            self._keys.queue_index,
        ]
        created, entry = await self._run(self._enqueue, keys, self._payload(escalation))
        return EnqueueResult(stream=stream, entry_id=_text(entry), created=bool(created))

    async def requeue(self, old: Escalation, new: Escalation) -> EnqueueResult:
        """Put ``new`` in its queue in place of ``old`` (whose entry is removed), atomically."""
        stream = self._stream(new)
        keys = [
            self._keys.escalation_marker(old.escalation_id),
            self._stream(old),
            self._keys.escalation_marker(new.escalation_id),
            stream,
            self._keys.queue_index,
        ]
        created, entry = await self._run(self._requeue, keys, self._payload(new))
        return EnqueueResult(stream=stream, entry_id=_text(entry), created=bool(created))

    async def withdraw(self, escalation: Escalation) -> bool:
        """Remove the escalation's waiting entry, if there is one; True if one was removed."""
        keys = [self._keys.escalation_marker(escalation.escalation_id), self._stream(escalation)]
        return bool(await self._run(self._withdraw, keys, []))

    async def _run(self, script: AsyncScript, keys: list[str], args: list[str | int]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc

    async def ping(self) -> None:
        """Raise QueueUnavailableError unless Redis answers."""
        try:
            await self._client.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
