"""The live board's logic and JSON without Redis or a browser (tests/integration/test_board.py
drives the real page)."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from schemas.escalation import (
    Escalation,
    Evidence,
    FrustrationSummary,
    HandoffSummary,
    Matrix,
    ReasonCode,
    Verdict,
)
from workers.board.model import (
    BoardSnapshot,
    DeskClaim,
    QueueCount,
    QueuedEscalation,
    SlaState,
    board_json,
    find_session,
    sla_state,
)
from workers.board.source import BoardUnavailableError
from workers.board.web import STATIC_FILES, BoardApi, load_static_files
from workers.decision.policy import load_policy

NOW = datetime(2026, 1, 5, 9, 10, 0, tzinfo=UTC)
POLICY = load_policy()  # the shipped default: fraud 60 s, claims 90 s, anything else 120 s


def entry_id(seconds_ago: float, sequence: int = 0) -> str:
    """A stream entry id written ``seconds_ago`` before NOW."""
    return f"{int((NOW - timedelta(seconds=seconds_ago)).timestamp() * 1000)}-{sequence}"


def escalation(session: str, queue: str, priority: int, created_minutes_ago: int = 0) -> Escalation:
    return Escalation(
        escalation_id=f"esc-{session}",
        session_id=session,
        trigger_event_id="e3",
        reasons=[ReasonCode.HIGH_STAKES, ReasonCode.LOOP],
        priority=priority,
        queue=queue,
        created_at=NOW - timedelta(minutes=created_minutes_ago),
        evidence=[
            Evidence(
                reason=ReasonCode.HIGH_STAKES,
                event_id="e1",
                cue="topic:lost_stolen_card",
                excerpt="my card was stolen",
            )
        ],
        frustration=FrustrationSummary(
            level=0.7, trend=[0.1, 0.5, 0.9], consecutive_negative_turns=2
        ),
        matrix=Matrix(
            emotional_load=0.7,
            context_ambiguity=0.1,
            consequence=0.9,
            topics=["lost_stolen_card"],
            verdict=Verdict.HUMAN_REQUIRED,
        ),
        handoff=HandoffSummary(goal="my card was stolen", customer_turns=3, bot_turns=2),
    )


def queued(
    session: str,
    queue: str,
    priority: int,
    seconds_ago: float,
    claim: DeskClaim | None = None,
    sequence: int = 0,
) -> QueuedEscalation:
    return QueuedEscalation(
        queue,
        priority,
        entry_id(seconds_ago, sequence),
        escalation(session, queue, priority),
        claim,
    )


class FixedSource:
    """A snapshot source that answers what it was given, or fails like an absent Redis."""

    def __init__(self, snapshot: BoardSnapshot | None) -> None:
        self._snapshot = snapshot

    async def snapshot(self) -> BoardSnapshot:
        if self._snapshot is None:
            raise BoardUnavailableError("Redis did not answer: ConnectionError")
        return self._snapshot


@pytest.mark.parametrize(
    ("waited", "state"),
    [
        (0.0, SlaState.OK),
        (44.9, SlaState.OK),
        (45.0, SlaState.DUE_SOON),
        (59.9, SlaState.DUE_SOON),
        (60.0, SlaState.BREACHED),
        (600.0, SlaState.BREACHED),
    ],
)
def test_sla_state_is_due_soon_from_three_quarters_and_breached_at_the_sla(
    waited: float, state: SlaState
) -> None:
    assert sla_state(waited, 60.0) is state


def test_rows_come_in_service_order_with_waiting_time_from_the_entry_id() -> None:
    snapshot = BoardSnapshot(
        streams=[QueueCount("fraud", 1, 2), QueueCount("fraud", 2, 1)],
        entries=[
            queued("s-p2-oldest", "fraud", 2, seconds_ago=300),
            queued("s-p1-newer", "fraud", 1, seconds_ago=10),
            queued("s-p1-older", "fraud", 1, seconds_ago=50),
        ],
    )
    board = board_json(snapshot, POLICY, NOW)
    [fraud] = board["queues"]
    assert [row["session_id"] for row in fraud["entries"]] == [
        "s-p1-older",
        "s-p1-newer",
        "s-p2-oldest",
    ]
    older = fraud["entries"][0]
    # created_at is NOW for every escalation here: the waiting time is the time in the queue.
    assert older["waiting_seconds"] == 50.0
    assert older["sla_seconds"] == 60.0
    assert older["sla_remaining_seconds"] == 10.0
    assert older["sla_state"] == "due_soon"
    assert fraud["entries"][2]["sla_state"] == "breached"
    assert fraud["entries"][2]["sla_remaining_seconds"] == -240.0
    assert older["reasons"] == ["high_stakes", "loop"]
    assert older["first_evidence"] == {
        "reason": "high_stakes",
        "cue": "topic:lost_stolen_card",
        "excerpt": "my card was stolen",
    }
    assert older["verdict"] == "human_required"


def test_every_known_queue_is_listed_with_its_own_sla_and_the_totals_add_up() -> None:
    claim = DeskClaim(consumer="desk-7", idle_seconds=4.25, deliveries=2)
    snapshot = BoardSnapshot(
        streams=[
            QueueCount("general", 2, 1),
            QueueCount("claims", 1, 250),
            QueueCount("supervisor", 1, 0),
        ],
        entries=[
            queued("s-general", "general", 2, seconds_ago=30, claim=claim),
            queued("s-claims", "claims", 1, seconds_ago=100),
        ],
    )
    board = board_json(snapshot, POLICY, NOW)
    by_queue = {queue["queue"]: queue for queue in board["queues"]}
    assert list(by_queue) == ["claims", "general", "supervisor"]
    assert by_queue["supervisor"]["entries"] == []
    assert by_queue["claims"]["sla_seconds"] == 90.0
    assert by_queue["general"]["sla_seconds"] == 120.0
    # The stream's length, not only the rows read from it (the board reads a bounded number).
    assert by_queue["claims"]["waiting"] == 250
    assert by_queue["general"]["claimed"] == 1
    assert by_queue["general"]["entries"][0]["claim"] == {
        "consumer": "desk-7",
        "idle_seconds": 4.2,
        "deliveries": 2,
    }
    assert by_queue["claims"]["entries"][0]["claim"] is None
    assert board["totals"] == {
        "waiting": 251,
        "claimed": 1,
        "ok": 1,
        "due_soon": 0,
        "breached": 1,
    }
    assert board["now"] == NOW.isoformat()


def test_a_session_is_found_by_its_newest_entry() -> None:
    replaced = queued("s-1", "general", 2, seconds_ago=200)
    raised_again = queued("s-1", "supervisor", 1, seconds_ago=5)
    snapshot = BoardSnapshot(
        streams=[], entries=[replaced, raised_again, queued("s-2", "general", 2, 1)]
    )
    assert find_session(snapshot, "s-1") is raised_again
    assert find_session(snapshot, "s-unknown") is None


def test_the_session_endpoint_answers_the_whole_escalation_and_the_policy_lines() -> None:
    entry = queued("s-1", "fraud", 1, seconds_ago=20)
    api = BoardApi(
        FixedSource(BoardSnapshot([QueueCount("fraud", 1, 1)], [entry])), POLICY, lambda: NOW
    )
    status, body = asyncio.run(api.session("s-1"))
    assert status == 200
    assert body["escalation"]["frustration"]["trend"] == [0.1, 0.5, 0.9]
    assert body["escalation"]["matrix"]["verdict"] == "human_required"
    assert body["entry"]["sla_state"] == "ok"
    assert body["thresholds"] == {
        "negative_turn_score": POLICY.frustration.negative_turn_score,
        "emotional_load": POLICY.matrix.watch_emotional_load,
        "context_ambiguity": POLICY.matrix.watch_context_ambiguity,
        "consequence": POLICY.matrix.watch_consequence,
        "human_required_consequence": POLICY.matrix.human_required_consequence,
    }
    assert asyncio.run(api.session("s-gone"))[0] == 404


def test_the_endpoints_answer_503_while_redis_is_away() -> None:
    api = BoardApi(FixedSource(None), POLICY, lambda: NOW)
    assert asyncio.run(api.escalations()) == (
        503,
        {"error": "Redis did not answer: ConnectionError"},
    )
    assert asyncio.run(api.session("s-1"))[0] == 503


def test_the_pages_load_only_shipped_files() -> None:
    files = load_static_files()
    assert set(files) == set(STATIC_FILES)
    for page in ("board.html", "session.html"):
        html = files[page].decode()
        referenced = re.findall(r'(?:src|href)="/board/static/([^"]+)"', html)
        assert referenced, page
        assert set(referenced) <= set(files), page
        assert "<script>" not in html  # the Content-Security-Policy allows no inline script


def test_scripts_never_parse_data_as_html() -> None:
    """Chat text is hostile: the scripts insert it with text nodes only."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(")
    for name, body in load_static_files().items():
        if name.endswith(".js"):
            assert not sinks.search(body.decode()), name
