"""DeskClient: how an agent desk takes escalations off the Redis queues and reports on them."""

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, contextmanager
from datetime import UTC, datetime
from types import TracebackType

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.escalation import Escalation
from schemas.lifecycle import HandoffEvent, HandoffStatus
from workers.desk.contract import Claim, DeskQueue, handoff_event
from workers.desk.exceptions import (
    ClaimLostError,
    DeskError,
    DeskUnavailableError,
    EscalationWithdrawnError,
    InvalidEntryError,
)
from workers.desk.publisher import HandoffPublisher, KafkaHandoffPublisher
from workers.desk.scripts import ACCEPT_SCRIPT, CLAIM_SCRIPT, FINISH_SCRIPT
from workers.queues.keys import DESK_GROUP, QueueKeys
from workers.queues.writer import MARKER_TTL_SECONDS
from workers.redis_clients import async_client, async_client_for_url
from workers.settings import Settings

# A claim not accepted within this long goes to the next desk that asks; well below the
# shortest queue SLA of the shipped policy (60 s), after which the worker re-raises it.
DEFAULT_CLAIM_TIMEOUT_SECONDS = 30.0
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


def default_consumer() -> str:
    """Unique per process, so two desk instances never share a consumer name by accident."""
    return f"{socket.gethostname()}-{os.getpid()}"


def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def redis_errors() -> Iterator[None]:
    """Turn a silent Redis into DeskUnavailableError and a refusal into DeskError."""
    try:
        yield
    except AuthenticationError:
        raise DeskError(
            "Redis refused the desk's credentials (or wants some): set the user and password "
            "in REDIS_URL or ESCALATOR_REDIS_USERNAME / ESCALATOR_REDIS_PASSWORD"
        ) from None
    except _REDIS_DOWN as exc:
        raise DeskUnavailableError(f"Redis did not answer: {type(exc).__name__}") from exc
    except ResponseError as exc:
        raise DeskError(f"Redis refused the desk operation: {exc}") from exc


class DeskClient(DeskQueue):
    """One desk instance's view of the agent queues (see docs/desk-integration.md).

    ``claim_next`` serves strict priority across every served queue (all of tier 1 before
    any of tier 2), oldest first within a tier; several instances share the queues through
    the consumer group ``group`` without double delivery. An async context manager: it starts
    and stops the publisher (when that is one) and closes a Redis connection it opened.

    ``max_stream_length`` is a safety cap, off by default: accept then trims the stream to its
    newest N entries, dropping the oldest *waiting* escalations (a Redis memory guard only).

    ``redis`` is a URL (a client is built by workers.redis_clients, and closed with this one)
    or a client to use, e.g. a test's; ``close_redis`` closes a given client too.
    """

    def __init__(
        self,
        redis: "str | aioredis.Redis",
        keys: QueueKeys,
        *,
        publisher: HandoffPublisher,
        queues: Sequence[str] | None = None,
        consumer: str | None = None,
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT_SECONDS,
        group: str = DESK_GROUP,
        max_stream_length: int | None = None,
        close_redis: bool = False,
    ) -> None:
        if claim_timeout <= 0:
            raise DeskError("claim_timeout must be positive")
        self._owns_redis = close_redis or isinstance(redis, str)
        self._redis = async_client_for_url(redis) if isinstance(redis, str) else redis
        self.keys = keys
        self.publisher = publisher
        self.queues = tuple(queues) if queues else None
        self.consumer = consumer or default_consumer()
        self.claim_timeout = claim_timeout
        self.group = group
        self.max_stream_length = max_stream_length
        self._claim = self._redis.register_script(CLAIM_SCRIPT)
        self._accept = self._redis.register_script(ACCEPT_SCRIPT)
        self._finish = self._redis.register_script(FINISH_SCRIPT)
        self._stack = AsyncExitStack()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        queues: Sequence[str] | None = None,
        consumer: str | None = None,
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT_SECONDS,
    ) -> "DeskClient":
        """A client on the configured Redis as the configured user (workers.redis_clients),
        publishing to the configured handoff topic."""
        return cls(
            async_client(settings),
            QueueKeys(settings.redis_prefix),
            publisher=KafkaHandoffPublisher.from_settings(settings),
            queues=queues,
            consumer=consumer,
            claim_timeout=claim_timeout,
            close_redis=True,
        )

    async def served_streams(self) -> list[tuple[int, str, str]]:
        """(priority, queue, stream) of every served queue stream, in service order.

        Read from the queue index on every call, so queues and tiers that appear later are
        served without a restart.
        """
        with redis_errors():
            members = await self._redis.smembers(self.keys.queue_index)
        served = []
        for member in members:
            stream = as_text(member)
            parsed = self.keys.parse_queue_stream(stream)
            if parsed and (self.queues is None or parsed[0] in self.queues):
                served.append((parsed[1], parsed[0], stream))
        return sorted(served)

    async def claim_next(self) -> Claim | None:
        """The next escalation for this desk, or None when nothing waits.

        Reclaims an entry another desk left unaccepted for longer than the claim timeout before
        reading new ones, tier by tier. Accept the claim within the timeout, or it moves on.
        """
        streams = await self.served_streams()
        if not streams:
            return None
        with redis_errors():
            found = await self._claim(
                keys=[stream for _, _, stream in streams],
                args=[
                    self.group,
                    self.consumer,
                    max(1, round(self.claim_timeout * 1000)),
                    *(priority for priority, _, _ in streams),
                ],
            )
        if not found:
            return None
        stream, entry_id, deliveries, flat = found
        fields = {as_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
        try:
            escalation = Escalation.model_validate_json(fields["payload"])
        except (KeyError, ValidationError) as exc:
            raise InvalidEntryError(
                f"entry {as_text(entry_id)} of {as_text(stream)} holds no valid escalation; "
                "it stays claimed by this desk until the claim timeout"
            ) from exc
        return Claim(escalation, as_text(stream), as_text(entry_id), int(deliveries))

    async def accept(self, claim: Claim, agent_id: str) -> HandoffEvent:
        """Acknowledge and delete the entry, record ``agent_id`` as owner, publish ``accepted``.

        Raises ClaimLostError when another desk reclaimed the entry after the claim timeout, and
        EscalationWithdrawnError when the worker took it out of its queue meanwhile (replaced
        after an SLA breach, session ended). Safe to retry: a repeated accept republishes the
        same event.
        """
        escalation = claim.escalation
        event = handoff_event(
            escalation.session_id,
            escalation.escalation_id,
            HandoffStatus.ACCEPTED,
            datetime.now(UTC),
            agent_id=agent_id,
        )
        with redis_errors():
            ok, detail = await self._accept(
                keys=[
                    claim.stream,
                    self.keys.owner(escalation.escalation_id),
                    self.keys.handoff(escalation.escalation_id),
                ],
                args=[
                    self.group,
                    self.consumer,
                    claim.entry_id,
                    agent_id,
                    escalation.session_id,
                    event.model_dump_json(),
                    MARKER_TTL_SECONDS,
                    self.max_stream_length or 0,
                ],
            )
        if ok == -1:
            raise EscalationWithdrawnError(
                f"escalation {escalation.escalation_id} was taken out of its queue while claimed; "
                "claim the next one"
            )
        if not ok:
            holder = as_text(detail)
            raise ClaimLostError(
                f"escalation {escalation.escalation_id} is "
                + (f"claimed by desk {holder}" if holder else "no longer claimed by this desk")
            )
        return await self._publish(detail)

    async def _finish_handoff(
        self,
        status: HandoffStatus,
        session_id: str,
        escalation_id: str,
        note: str | None,
        agent_id: str | None,
    ) -> HandoffEvent:
        """Report ``status``; without ``agent_id`` the event names the recorded owner."""
        owner_key = self.keys.owner(escalation_id)
        if agent_id is None:
            with redis_errors():
                owner = await self._redis.hget(owner_key, "agent_id")
            agent_id = as_text(owner) if owner else None
        event = handoff_event(
            session_id, escalation_id, status, datetime.now(UTC), agent_id=agent_id, note=note
        )
        with redis_errors():
            stored = await self._finish(
                keys=[owner_key, self.keys.handoff(escalation_id)],
                args=[status.value, event.model_dump_json(), MARKER_TTL_SECONDS],
            )
        return await self._publish(stored)

    async def _publish(self, stored: bytes | str) -> HandoffEvent:
        event = HandoffEvent.model_validate_json(stored)
        await self.publisher.publish(event)
        return event

    async def __aenter__(self) -> "DeskClient":
        if isinstance(self.publisher, AbstractAsyncContextManager):
            await self._stack.enter_async_context(self.publisher)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the publisher if this client started it; close a connection it opened."""
        await self._stack.aclose()
        if self._owns_redis:
            await self._redis.aclose()
