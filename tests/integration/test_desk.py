"""DeskClient on the real Redis and the real embedded broker: the desk contract (shared with the
stub's tests), concurrency between desk instances, the Kafka side, the CLI, and the worker
reacting to what a desk reports."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import cast

import pytest
import redis
import redis.asyncio as aioredis

from schemas.escalation import Escalation
from schemas.lifecycle import BotCommand, BotCommandKind, HandoffEvent, HandoffStatus
from tests.support import Deployment, _read_topic, chat, wait_for
from tests.unit.test_desk_stub import CONTRACT, Scenario, escalation
from workers.desk import DeskClient, DeskQueue, KafkaHandoffPublisher
from workers.desk.commands import EXIT_NOTHING_WAITING
from workers.embedded import free_port
from workers.queues import AgentQueueWriter
from workers.queues.keys import DESK_GROUP
from workers.queues.reader import StreamEntries
from workers.settings import Settings, load_settings

pytestmark = pytest.mark.integration

ESCALATOR = Path(sys.executable).parent / "escalator"


class RedisHarness:
    """The contract's surroundings for DeskClient: the deployment's Redis prefix, the real
    writer, and a Kafka publisher to the deployment's handoff topic."""

    claim_timeout = 1.0

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.redis = aioredis.Redis.from_url(deployment.redis_url)
        self.writer = AgentQueueWriter(self.redis, deployment.keys)
        self.publisher = KafkaHandoffPublisher(
            [deployment.broker.bootstrap], deployment.handoff_topic
        )
        self.desks: list[DeskClient] = []

    async def __aenter__(self) -> "RedisHarness":
        await self.publisher.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for desk in self.desks:
            await desk.close()
        await self.publisher.stop()
        await self.redis.aclose()

    async def enqueue(self, escalation: Escalation) -> None:
        await self.writer.enqueue(escalation)
        # Entry ids are millisecond clocks kept per stream: two streams written within the same
        # millisecond get equal ids, so space the writes to make the enqueue order visible.
        await asyncio.sleep(0.002)

    async def withdraw(self, escalation: Escalation) -> None:
        assert await self.writer.withdraw(escalation)

    def desk(self, consumer: str, queues: Sequence[str] | None = None) -> DeskQueue:
        desk = DeskClient(
            self.deployment.redis_url,
            self.deployment.keys,
            publisher=self.publisher,
            queues=queues,
            consumer=consumer,
            claim_timeout=self.claim_timeout,
        )
        self.desks.append(desk)
        return desk

    async def expire_claims(self) -> None:
        await asyncio.sleep(self.claim_timeout + 0.05)

    async def waiting(self) -> list[str]:
        found: list[str] = []
        for stream in sorted(await self.redis.smembers(self.deployment.keys.queue_index)):
            entries = cast(StreamEntries, await self.redis.xrange(stream))
            found.extend(fields[b"escalation_id"].decode() for _, fields in entries)
        return found

    async def events(self, count: int) -> list[HandoffEvent]:
        records = await _read_topic(
            self.deployment.broker.bootstrap, self.deployment.handoff_topic, count, 20.0
        )
        assert len(records) == count
        return [HandoffEvent.model_validate_json(value) for _, value in records]


@pytest.mark.parametrize("scenario", CONTRACT, ids=lambda scenario: scenario.__name__)
def test_contract(scenario: Scenario, deployment: Deployment) -> None:
    async def run() -> None:
        async with RedisHarness(deployment) as harness:
            await scenario(harness)

    asyncio.run(run())


def test_accept_deletes_the_entry_records_the_owner_and_publishes_keyed_by_session(
    deployment: Deployment,
) -> None:
    keys = deployment.keys
    waiting = escalation(7, "fraud", 1)

    async def run() -> tuple[HandoffEvent, HandoffEvent]:
        async with RedisHarness(deployment) as harness:
            await harness.enqueue(waiting)
            desk = harness.desk("desk-a")
            claim = await desk.claim_next()
            assert claim is not None
            assert claim.stream == keys.queue_stream("fraud", 1)
            accepted = await desk.accept(claim, "ana")
            stream = claim.stream
            assert await harness.redis.xlen(stream) == 0, "acknowledged entries are deleted"
            groups = await harness.redis.xinfo_groups(stream)
            assert [(g["name"], g["pending"]) for g in groups] == [(DESK_GROUP.encode(), 0)]
            owner = await harness.redis.hgetall(keys.owner(waiting.escalation_id))
            assert owner == {
                b"agent_id": b"ana",
                b"consumer": b"desk-a",
                b"session_id": waiting.session_id.encode(),
                b"stream": stream.encode(),
                b"entry_id": claim.entry_id.encode(),
            }
            assert await harness.redis.ttl(keys.owner(waiting.escalation_id)) > 0
            resolved = await desk.resolve(waiting.session_id, waiting.escalation_id)
            assert not await harness.redis.exists(keys.owner(waiting.escalation_id))
            stored = await harness.redis.hgetall(keys.handoff(waiting.escalation_id))
            assert {HandoffEvent.model_validate_json(v) for v in stored.values()} == {
                accepted,
                resolved,
            }
            return accepted, resolved

    accepted, resolved = asyncio.run(run())
    records = deployment.read_topic(deployment.handoff_topic, minimum=2)
    assert [key for key, _ in records] == [waiting.session_id.encode()] * 2
    assert [HandoffEvent.model_validate_json(value) for _, value in records] == [
        accepted,
        resolved,
    ]
    assert json.loads(records[0][1])["status"] == "accepted"
    assert resolved.agent_id == "ana", "reports name the owner recorded at accept"


def test_many_desk_instances_claim_every_entry_exactly_once(deployment: Deployment) -> None:
    placed = [escalation(n, ("general", "fraud", "billing")[n % 3], 1 + n % 4) for n in range(240)]

    async def claim_all(desk: DeskClient) -> list[tuple[int, str]]:
        taken = []
        while (claim := await desk.claim_next()) is not None:
            taken.append((claim.escalation.priority, claim.escalation.escalation_id))
        return taken

    async def run() -> list[list[tuple[int, str]]]:
        writer = AgentQueueWriter.from_url(deployment.redis_url, deployment.keys)
        for item in placed:
            await writer.enqueue(item)
        await writer.close()
        # Each desk has its own connection, so their scripts really interleave in Redis.
        desks = [
            DeskClient(
                deployment.redis_url,
                deployment.keys,
                publisher=KafkaHandoffPublisher(
                    [deployment.broker.bootstrap], deployment.handoff_topic
                ),
                consumer=f"desk-{n}",
            )
            for n in range(3)
        ]
        try:
            return list(await asyncio.gather(*(claim_all(desk) for desk in desks)))
        finally:
            for desk in desks:
                await desk.close()

    per_desk = asyncio.run(run())
    claimed = [escalation_id for taken in per_desk for _, escalation_id in taken]
    assert sorted(claimed) == sorted(e.escalation_id for e in placed), "each exactly once"
    assert all(taken for taken in per_desk), "every desk got a share"
    for taken in per_desk:
        priorities = [priority for priority, _ in taken]
        assert priorities == sorted(priorities), "no desk saw a lower tier before a higher one"


def test_the_optional_length_cap_trims_the_stream_at_accept(deployment: Deployment) -> None:
    async def run() -> int:
        async with RedisHarness(deployment) as harness:
            for n in range(6):
                await harness.enqueue(escalation(n, "general", 2))
            desk = DeskClient(
                harness.redis,
                deployment.keys,
                publisher=harness.publisher,
                consumer="capped",
                max_stream_length=3,
            )
            claim = await desk.claim_next()
            assert claim is not None
            await desk.accept(claim, "ana")
            return int(await harness.redis.xlen(claim.stream))

    assert asyncio.run(run()) == 3


def _desk_cli(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **deployment.env(free_port())}
    return subprocess.run(
        [str(ESCALATOR), "desk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _enqueue(deployment: Deployment, escalations: list[Escalation]) -> None:
    async def run() -> None:
        writer = AgentQueueWriter.from_url(deployment.redis_url, deployment.keys)
        for item in escalations:
            await writer.enqueue(item)
            await asyncio.sleep(0.002)
        await writer.close()

    asyncio.run(run())


def test_desk_cli_claims_accepts_and_reports(deployment: Deployment) -> None:
    general, fraud = escalation(1, "general", 2), escalation(2, "fraud", 1)
    _enqueue(deployment, [general, fraud])

    first = _desk_cli(deployment, "claim", "--agent", "ana", "--consumer", "cli-desk")
    assert first.returncode == 0, first.stderr
    packet = json.loads(first.stdout)
    assert packet["escalation"]["escalation_id"] == fraud.escalation_id, "priority 1 first"
    assert (packet["agent_id"], packet["consumer"]) == ("ana", "cli-desk")
    assert packet["stream"] == deployment.keys.queue_stream("fraud", 1)
    assert Escalation.model_validate(packet["escalation"]) == fraud

    second = _desk_cli(deployment, "claim", "--queue", "general", "--agent", "bo")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["escalation"]["session_id"] == general.session_id
    empty = _desk_cli(deployment, "claim")
    assert empty.returncode == EXIT_NOTHING_WAITING
    assert "nothing waiting" in empty.stderr

    resolved = _desk_cli(
        deployment, "resolve", fraud.session_id, fraud.escalation_id, "--note", "refunded"
    )
    assert resolved.returncode == 0, resolved.stderr
    event = HandoffEvent.model_validate_json(resolved.stdout)
    assert (event.status, event.agent_id, event.note) == (HandoffStatus.RESOLVED, "ana", "refunded")

    records = deployment.read_topic(deployment.handoff_topic, minimum=3)
    published = sorted(
        (HandoffEvent.model_validate_json(value) for _, value in records),
        key=lambda e: (e.session_id, e.ts),
    )
    assert [(e.session_id, e.status) for e in published] == [
        (general.session_id, HandoffStatus.ACCEPTED),
        (fraud.session_id, HandoffStatus.ACCEPTED),
        (fraud.session_id, HandoffStatus.RESOLVED),
    ]


def test_desk_tail_once_shows_the_queue_in_service_order(deployment: Deployment) -> None:
    escalations = [
        escalation(1, "general", 2),
        escalation(2, "fraud", 1),
        escalation(3, "general", 1),
        escalation(4, "general", 2),
    ]
    _enqueue(deployment, escalations)
    shown = _desk_cli(deployment, "tail", "general", "--once")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "queue general: 3 waiting" in out
    assert "s2" not in out, "other queues are not shown"
    assert out.index("s3") < out.index("s1") < out.index("s4"), "tier by tier, oldest first"
    assert "human_requested" in out
    assert "let me talk to a person (3)" in out
    assert "p1" in out
    assert "p2" in out


def test_desk_tail_refreshes_until_interrupted(deployment: Deployment) -> None:
    _enqueue(deployment, [escalation(1, "general", 2)])
    env = {**os.environ, **deployment.env(free_port())}
    with redis.Redis.from_url(deployment.redis_url) as watcher:
        before = int(watcher.info("clients")["connected_clients"])
        live = subprocess.Popen(
            [str(ESCALATOR), "desk", "tail", "general", "--interval", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C as at a terminal, even when the suite runs where SIGINT is ignored (a job
            # started in the background by a script): Python then never raises KeyboardInterrupt.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        # Ctrl-C while the command still starts (a fresh checkout compiles its modules first) is
        # an interrupted start, exit 130; this test is about a tail that is running: it has
        # connected to Redis, then refreshed a few times.
        assert wait_for(lambda: int(watcher.info("clients")["connected_clients"]) > before, 60)
    time.sleep(1)
    assert live.poll() is None, "it keeps refreshing"
    live.send_signal(signal.SIGINT)
    out, err = live.communicate(timeout=20)
    assert live.returncode == 0, err
    assert "s1" in out


def _settings(deployment: Deployment) -> Settings:
    env = deployment.env(free_port())
    return load_settings(**{k.removeprefix("ESCALATOR_").lower(): v for k, v in env.items()})


def test_the_worker_pauses_and_resumes_the_bot_on_what_a_desk_reports(
    deployment: Deployment,
) -> None:
    deployment.start_worker()
    deployment.send([chat("s-desk", "c1", "I want to speak to a human", second=0)])
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)

    settings = _settings(deployment)

    async def accept() -> Escalation:
        async with DeskClient.from_settings(settings, consumer="desk-e2e") as desk:
            claim = await desk.claim_next()
            assert claim is not None
            await desk.accept(claim, "ana")
            return claim.escalation

    taken = asyncio.run(accept())
    paused = _commands(deployment, 1)
    assert [(c.command, c.escalation_id) for c in paused] == [
        (BotCommandKind.PAUSE, taken.escalation_id)
    ]

    async def resolve() -> None:
        async with DeskClient.from_settings(settings) as desk:
            await desk.resolve(taken.session_id, taken.escalation_id, note="sorted")

    asyncio.run(resolve())
    commands = _commands(deployment, 2)
    assert [c.command for c in commands] == [BotCommandKind.PAUSE, BotCommandKind.RESUME]
    assert deployment.queue_entries() == []


def _commands(deployment: Deployment, minimum: int) -> list[BotCommand]:
    return [
        BotCommand.model_validate_json(value)
        for _, value in deployment.read_topic(
            deployment.bot_control_topic, minimum=minimum, timeout=30
        )
    ]
