"""Idempotent enqueue of escalations into Redis stream agent queues."""

from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.escalation import Escalation
from workers.queues.exceptions import QueuePermissionError, QueueUnavailableError
from workers.queues.keys import DESK_GROUP, QueueKeys
from workers.redis_clients import async_client, async_client_for_url
from workers.settings import Settings

# How long the idempotency marker outlives the enqueue: longer than any realistic redelivery.
MARKER_TTL_SECONDS = 14 * 24 * 3600


def lua(name: str, package: str = "workers.queues") -> str:
    """A Lua script (``lua/NAME.lua`` of ``package``) after the shared ``permit`` function
    its ACL checks call (``workers/queues/lua/permit.lua``)."""
    prelude = resources.files("workers.queues").joinpath("lua/permit.lua").read_text("utf-8")
    script = resources.files(package).joinpath(f"lua/{name}.lua").read_text("utf-8")
    return prelude + script


# Atomic: the marker and the stream entry are written together or not at all, so however often
# an escalation is offered, exactly one entry exists; with the old escalation's keys it also
# replaces that one (an SLA breach).
ENQUEUE_SCRIPT = lua("enqueue")
WITHDRAW_SCRIPT = lua("withdraw")


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

    @classmethod
    def from_url(
        cls,
        url: str,
        keys: QueueKeys,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> "AgentQueueWriter":
        """A writer with its own connection pool (workers.redis_clients); ``username`` and
        ``password``, when given, win over the URL's."""
        return cls(async_client_for_url(url, username=username, password=password), keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AgentQueueWriter":
        """A writer on the configured Redis and prefix, as the configured user."""
        return cls(async_client(settings), QueueKeys(settings.redis_prefix))

    def _stream(self, escalation: Escalation) -> str:
        return self._keys.queue_stream(escalation.queue, escalation.priority)

    def _payload(self, escalation: Escalation) -> list[str | int]:
        return [
            escalation.model_dump_json(),
            MARKER_TTL_SECONDS,
            escalation.escalation_id,
            escalation.session_id,
            escalation.priority,
            DESK_GROUP,
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
            self._keys.escalation_marker(new.escalation_id),
            stream,
            self._keys.queue_index,
            self._keys.escalation_marker(old.escalation_id),
            self._stream(old),
        ]
        created, entry = await self._run(self._enqueue, keys, self._payload(new))
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
        except ResponseError as exc:
            if isinstance(exc, NoPermissionError) or "NOPERM" in str(exc):
                raise QueuePermissionError(f"Redis refused this user: {exc}") from exc
            raise

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
