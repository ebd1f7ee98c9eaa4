"""Least privilege on a real Redis: the worker and a desk run under exactly the ACL users of
workers/queues/acl.py (as docs/security.md writes them), every operation a desk must not do is
refused, and a user short of one permission changes nothing instead of half an escalation."""

import asyncio
import secrets
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from tests.faults import ESCALATING_TEXT
from tests.support import Deployment, chat, wait_for
from tests.unit.test_desk_stub import escalation
from workers.desk import DeskClient
from workers.desk.exceptions import DeskError
from workers.desk.stub import InMemoryPublisher
from workers.queues import AgentQueueWriter, QueueKeys
from workers.queues.acl import RedisUser, desk_user, worker_user
from workers.queues.exceptions import QueuePermissionError
from workers.queues.keys import DESK_GROUP

pytestmark = pytest.mark.integration


@pytest.fixture
def acl_users(redis_client: "redis.Redis") -> Iterator[dict[str, str]]:
    """Creates users on the suite's Redis; returns {name: password}; deletes them after."""
    created: dict[str, str] = {}
    yield created
    if created:
        run_command(redis_client, ["ACL", "DELUSER", *created])


def run_command(client: "redis.Redis", command: list[str]) -> object:
    return client.execute_command(*command)  # type: ignore[no-untyped-call]


async def refused_to(client: "aioredis.Redis", command: tuple[str, ...]) -> bool:
    """Whether Redis refuses ``command`` to the client's user (NOPERM)."""
    try:
        await client.execute_command(*command)  # type: ignore[no-untyped-call]
    except NoPermissionError:
        return True
    return False


def create(client: "redis.Redis", users: dict[str, str], user: RedisUser) -> str:
    password = secrets.token_urlsafe(18)
    run_command(client, user.setuser(password))
    users[user.name] = password
    return password


def as_user(url: str, name: str, password: str) -> "aioredis.Redis":
    return aioredis.Redis.from_url(url, username=name, password=password)


def test_worker_and_desk_run_as_their_users_and_a_desk_cannot_do_what_it_must_not(
    deployment: Deployment, redis_url: str, acl_users: dict[str, str]
) -> None:
    prefix = deployment.name
    worker = worker_user(prefix, name=f"w-{prefix}")
    deployment.extra_env["ESCALATOR_REDIS_USERNAME"] = worker.name
    deployment.extra_env["ESCALATOR_REDIS_PASSWORD"] = create(deployment.redis, acl_users, worker)
    running = deployment.start_worker()
    sessions = [f"acl-{n}" for n in range(3)]
    deployment.send([chat(s, f"{s}-e1", ESCALATING_TEXT) for s in sessions])
    assert wait_for(lambda: len(deployment.queue_entries()) == len(sessions), timeout=30), (
        running.log_path.read_text()[-3000:]
    )
    (queue,) = {entry.queue for _, entry in deployment.queue_entries()}
    desk = desk_user(prefix, [queue], name=f"d-{prefix}")
    desk_password = create(deployment.redis, acl_users, desk)
    other = f"{prefix}:queue:fraud:p1"
    deployment.redis.xadd(other, {"escalation_id": "x"})  # another queue's entry
    keys = QueueKeys(prefix)

    async def as_desk() -> None:
        client = as_user(redis_url, desk.name, desk_password)
        publisher = InMemoryPublisher()
        async with DeskClient(
            client, keys, publisher=publisher, queues=[queue], close_redis=True
        ) as desk_client:
            claim = await desk_client.claim_next()
            assert claim is not None
            await desk_client.accept(claim, "ana")
            await desk_client.resolve(claim.escalation.session_id, claim.escalation.escalation_id)
            assert [e.status for e in publisher.events] == ["accepted", "resolved"]

        marker = keys.escalation_marker(claim.escalation.escalation_id)
        stream = claim.stream
        forbidden = {
            "forge a marker": ("SET", keys.escalation_marker("forged"), "1-0"),
            "read a marker": ("GET", marker),
            "delete a queue stream": ("DEL", stream),
            "destroy the desks' group": ("XGROUP", "DESTROY", stream, DESK_GROUP),
            "skip waiting entries": ("XGROUP", "SETID", stream, DESK_GROUP, "$"),
            "create a group": ("XGROUP", "CREATE", stream, "mine", "$"),
            "read another queue": ("XRANGE", other, "-", "+"),
            "claim from another queue": (
                "XREADGROUP", "GROUP", DESK_GROUP, "me", "STREAMS", other, ">"
            ),
            "delete the queue index": ("DEL", keys.queue_index),
            "add to the queue index": ("SADD", keys.queue_index, other),
            "list every key": ("KEYS", "*"),
            "flush the database": ("FLUSHALL",),
        }  # fmt: skip
        client = as_user(redis_url, desk.name, desk_password)
        try:
            for attempt, command in forbidden.items():
                refused = await refused_to(client, command)
                assert refused, f"a desk could {attempt}"
        finally:
            await client.aclose()

    asyncio.run(as_desk())
    assert deployment.redis.exists(keys.queue_index)
    assert len(deployment.queue_entries()) == len(sessions) - 1, "only the accepted one left"


def test_a_worker_short_of_one_permission_writes_nothing_and_says_which(
    redis_client: "redis.Redis", redis_url: str, acl_users: dict[str, str]
) -> None:
    """Redis does not roll a failed script back: the enqueue checks every write first, so a
    user without SADD leaves no stream entry and no marker (before, the marker made every
    retry a silent "already enqueued" for an entry no desk could find)."""
    prefix = f"acl{uuid.uuid4().hex[:8]}"
    full = worker_user(prefix, name=f"short-{prefix}")
    short = RedisUser(full.name, tuple(rule for rule in full.rules if rule != "+sadd"))
    password = create(redis_client, acl_users, short)
    keys = QueueKeys(prefix)
    waiting = escalation(1, "general", 2)

    async def enqueue() -> None:
        writer = AgentQueueWriter(as_user(redis_url, short.name, password), keys)
        try:
            with pytest.raises(QueuePermissionError, match="SADD"):
                await writer.enqueue(waiting)
        finally:
            await writer.close()

    asyncio.run(enqueue())
    assert not redis_client.exists(keys.escalation_marker(waiting.escalation_id))
    assert not redis_client.exists(keys.queue_stream("general", 2))
    # With the permission, the same escalation is enqueued once.
    run_command(redis_client, full.setuser(acl_users[full.name]))

    async def enqueue_again() -> bool:
        writer = AgentQueueWriter(as_user(redis_url, full.name, acl_users[full.name]), keys)
        try:
            return (await writer.enqueue(waiting)).created
        finally:
            await writer.close()

    assert asyncio.run(enqueue_again())
    assert redis_client.xlen(keys.queue_stream("general", 2)) == 1
    redis_client.delete(*redis_client.keys(f"{prefix}:*"))


def test_a_desk_short_of_one_permission_keeps_the_escalation_waiting(
    redis_client: "redis.Redis", redis_url: str, acl_users: dict[str, str]
) -> None:
    """A desk user without HSET cannot record who accepted: the accept changes nothing, and
    the entry stays in its queue for a desk that can."""
    prefix = f"acl{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(prefix)
    full = desk_user(prefix, ["general"], name=f"desk-{prefix}")
    short = RedisUser(full.name, tuple(rule for rule in full.rules if rule != "+hset"))
    password = create(redis_client, acl_users, short)
    waiting = escalation(2, "general", 2)

    async def run() -> None:
        writer = AgentQueueWriter(aioredis.Redis.from_url(redis_url), keys)
        await writer.enqueue(waiting)
        await writer.close()
        async with DeskClient(
            as_user(redis_url, short.name, password),
            keys,
            publisher=InMemoryPublisher(),
            close_redis=True,
        ) as desk_client:
            claim = await desk_client.claim_next()
            assert claim is not None
            with pytest.raises(DeskError, match="HSET"):
                await desk_client.accept(claim, "ana")

    asyncio.run(run())
    stream = keys.queue_stream("general", 2)
    assert redis_client.xlen(stream) == 1, "the entry must still wait"
    assert not redis_client.exists(keys.owner(waiting.escalation_id))
    redis_client.delete(*redis_client.keys(f"{prefix}:*"))
