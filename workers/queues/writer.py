"""Idempotent enqueue of escalations into Redis stream agent queues."""

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.escalation import Escalation
from workers.queues.exceptions import QueueUnavailableError
from workers.queues.keys import QueueKeys

# How long the idempotency marker outlives the enqueue: longer than any realistic redelivery.
MARKER_TTL_SECONDS = 14 * 24 * 3600

# Atomic: the marker and the stream entry are written together or not at all, so however often
# an escalation is offered, exactly one entry exists.
# KEYS: marker, stream, index. ARGV: payload, ttl, escalation_id, session_id, priority.
ENQUEUE_SCRIPT = """
local existing = redis.call('GET', KEYS[1])
if existing then
  return {0, existing}
end
local entry = redis.call('XADD', KEYS[2], '*',
  'escalation_id', ARGV[3], 'session_id', ARGV[4], 'priority', ARGV[5], 'payload', ARGV[1])
redis.call('SET', KEYS[1], entry, 'EX', tonumber(ARGV[2]))
redis.call('SADD', KEYS[3], KEYS[2])
return {1, entry}
"""


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

    @classmethod
    def from_url(cls, url: str, keys: QueueKeys) -> "AgentQueueWriter":
        """A writer with its own connection pool."""
        client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, keys)

    async def enqueue(self, escalation: Escalation) -> EnqueueResult:
        """Add the escalation to its queue unless it is already there."""
        stream = self._keys.queue_stream(escalation.queue, escalation.priority)
        try:
            created, entry = await self._enqueue(
                keys=[
                    self._keys.escalation_marker(escalation.escalation_id),
                    stream,
                    self._keys.queue_index,
                ],
                args=[
                    escalation.model_dump_json(),
                    MARKER_TTL_SECONDS,
                    escalation.escalation_id,
                    escalation.session_id,
                    escalation.priority,
                ],
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return EnqueueResult(stream=stream, entry_id=entry_id, created=bool(created))

    async def ping(self) -> None:
        """Raise QueueUnavailableError unless Redis answers."""
        try:
            await self._client.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()
