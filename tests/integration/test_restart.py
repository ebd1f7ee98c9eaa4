"""State survives a worker stop and start: recovered from the changelog, every update kept."""

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from benchmarks.memory import stored_states
from benchmarks.mix import opening_session_id
from schemas.escalation import ReasonCode
from tests.support import PARTITIONS, Deployment, chat, wait_for
from workers.embedded import WorkerProcess
from workers.stream.app import SESSIONS_TABLE

pytestmark = pytest.mark.integration

SESSIONS = [f"s-restart-{n}" for n in range(12)]
TURNS = 40  # a burst this size makes the worker write multi-record changelog batches
ANGRY = "It is still not working"  # negative, but two such turns alone do not escalate


def states(worker: WorkerProcess) -> dict[str, Any]:
    found = {}
    for session in SESSIONS:
        status, body = worker.get_json(f"/sessions/{session}")
        if status == 200:
            found[session] = body
    return found


def applied(worker: WorkerProcess) -> int:
    return sum(state["events_applied"] for state in states(worker).values())


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_state_continues_from_the_changelog_after_a_restart(
    deployment: Deployment, store: str
) -> None:
    """In memory, the new worker reads the whole changelog; with RocksDB it keeps its local
    files and reads only what the changelog has beyond them."""
    deployment.extra_env["ESCALATOR_STORE"] = store
    worker = deployment.start_worker()
    first_round = [
        chat(session, f"{session}-a{turn}", f"question {turn} about order 10{turn}", second=turn)
        for turn in range(TURNS)
        for session in SESSIONS
    ]
    # Two angry turns on one session before the restart; the third comes after it.
    first_round += [chat(SESSIONS[0], f"angry-{n}", ANGRY, second=100 + n) for n in range(2)]
    deployment.send(first_round, burst=True)
    assert wait_for(lambda: applied(worker) == len(first_round), timeout=60)
    before = states(worker)
    assert deployment.queue_entries() == []

    assert worker.stop() == 0
    worker = deployment.start_worker()
    assert states(worker) == before, "recovered state differs from the state before the restart"

    second_round = [
        chat(session, f"{session}-b", "one more thing", second=120) for session in SESSIONS[1:]
    ]
    second_round.append(chat(SESSIONS[0], "angry-2", ANGRY, second=110))
    deployment.send(second_round)
    assert wait_for(lambda: applied(worker) == len(first_round) + len(second_round), timeout=30)

    after = states(worker)
    for session in SESSIONS[1:]:
        assert after[session]["events_applied"] == TURNS + 1
        assert after[session]["recent_event_ids"][-1] == f"{session}-b"
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    escalation = deployment.queue_entries()[0][1]
    assert escalation.session_id == SESSIONS[0]
    assert escalation.reasons == [ReasonCode.FRUSTRATION]
    assert [item.event_id for item in escalation.evidence] == ["angry-0", "angry-1", "angry-2"]


CHANGELOG_SESSIONS = 300


async def _write_in_one_batch_per_partition(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=500)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, key=key, value=value, partition=partition)
            for partition, key, value in stored_states(CHANGELOG_SESSIONS, PARTITIONS)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_changelog_ending_in_a_batch_of_many_records_is_recovered_to_its_last_record(
    deployment: Deployment, store: str
) -> None:
    """The embedded broker reports a partition's end as its last batch's start + 1; the
    embedded transport reads that batch to its end, so recovery misses none of it."""
    deployment.extra_env["ESCALATOR_STORE"] = store
    deployment.create_topics()
    empty = deployment.start_worker()  # creates the changelog topic
    assert empty.stop() == 0
    changelog = f"{deployment.name}-{SESSIONS_TABLE}-changelog"
    asyncio.run(_write_in_one_batch_per_partition(deployment.broker.bootstrap, changelog))

    worker = deployment.start_worker()
    held = {
        number
        for number in range(CHANGELOG_SESSIONS)
        if worker.get_json(f"/sessions/{opening_session_id(number)}")[0] == 200
    }
    assert held == set(range(CHANGELOG_SESSIONS))
