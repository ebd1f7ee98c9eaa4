"""State survives a worker stop and start: recovered from the changelog, every update kept."""

from typing import Any

import pytest

from schemas.escalation import ReasonCode
from tests.support import Deployment, chat, wait_for
from workers.embedded import WorkerProcess

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
