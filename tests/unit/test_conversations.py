"""escalator's own conversation set: the file is well formed, and the scoring judges timing."""

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.events import ActionEvent, ActionStatus, MessageEvent, Role
from workers.cli import main
from workers.evaluation import conversations as cs
from workers.evaluation.runner import conversation_rows

SET = cs.load()


def _line(**overrides: Any) -> str:
    record: dict[str, Any] = {
        "id": "tiny",
        "domain": "retail",
        "case": "test",
        "description": "a tiny conversation",
        "escalate_by": 2,
        "turns": [
            {"role": "customer", "text": "Where is my parcel?"},
            {"role": "bot", "text": "It is on its way."},
            {"role": "customer", "text": "It was due last week."},
            {"action": "issue_refund", "status": "failed"},
            {"role": "customer", "text": "Let me talk to a person."},
        ],
    }
    record.update(overrides)
    return json.dumps(record)


def _conversation(escalate_by: int | None, not_before: int = 1) -> cs.LabelledConversation:
    return cs.parse_lines([_line(escalate_by=escalate_by, not_before=not_before)])[0]


# The shipped file


def test_the_set_loads_and_is_large_enough() -> None:
    assert len(SET) >= 130
    never = sum(1 for c in SET if c.escalate_by is None)
    assert never / len(SET) >= 0.40


def test_every_conversation_is_well_formed() -> None:
    assert len({c.id for c in SET}) == len(SET)
    for c in SET:
        assert len(c.turns) >= 2, c.id
        assert c.customer_turns >= 1, c.id
        if c.escalate_by is not None:
            assert c.not_before <= c.escalate_by <= c.customer_turns, c.id
        else:
            assert c.not_before == 1, c.id
        assert c.domain, c.id
        assert c.case, c.id
        assert c.description, c.id


def test_the_set_covers_many_domains_and_cases() -> None:
    assert len({c.domain for c in SET}) >= 8
    assert len({c.case for c in SET}) >= 30


def test_the_file_is_shipped_as_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    assert '"evaluation/*.jsonl"' in pyproject


def test_turns_become_events_with_deterministic_ids_and_times() -> None:
    events = _conversation(2).events()
    assert [e.event_id for e in events] == [f"tiny-{n:02d}" for n in range(1, 6)]
    assert len({e.session_id for e in events}) == 1
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert events == _conversation(2).events()
    first, action = events[0], events[3]
    assert isinstance(first, MessageEvent)
    assert first.role is Role.CUSTOMER
    assert isinstance(action, ActionEvent)
    assert action.action.status is ActionStatus.FAILED


# Bad lines


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "not JSON"),
        (_line(escalate_by=4), "past the last customer turn"),
        (_line(escalate_by=2, not_before=3), "not_before 3 is after escalate_by 2"),
        (_line(escalate_by=None, not_before=2), "not_before only applies"),
        (
            _line(turns=[{"role": "bot", "text": "Hi"}, {"role": "bot", "text": "Hello?"}]),
            "no customer turn",
        ),
        (_line(turns=[{"role": "customer", "text": "Hi"}]), "turns"),
        (
            _line(turns=[{"role": "customer", "text": "Hi"}, {"action": "x", "status": "maybe"}]),
            "turns.1",
        ),
        (_line(reason="vibes"), "reason"),
        (_line(extra="field"), "extra"),
    ],
)
def test_a_bad_line_is_named_by_its_number(line: str, words: str) -> None:
    with pytest.raises(cs.ConversationFileError) as caught:
        cs.parse_lines([_line(id="first"), "", line], "set.jsonl")
    message = str(caught.value)
    assert message.startswith("set.jsonl:3: "), message
    assert words in message


def test_a_repeated_id_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(f"{_line()}\n{_line()}\n", encoding="utf-8")
    with pytest.raises(
        cs.ConversationFileError, match=r"set.jsonl:2: id 'tiny' already used on line 1"
    ):
        cs.load(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(cs.ConversationFileError, match="cannot read"):
        cs.load(tmp_path / "absent.jsonl")


# Judging and scoring


@pytest.mark.parametrize(
    ("escalate_by", "not_before", "at", "outcome", "lateness"),
    [
        (2, 1, 2, cs.Outcome.RIGHT, None),
        (2, 1, 1, cs.Outcome.RIGHT, None),
        (3, 2, 1, cs.Outcome.EARLY, None),
        (2, 2, 2, cs.Outcome.RIGHT, None),
        (1, 1, 3, cs.Outcome.LATE, 2),
        (2, 1, None, cs.Outcome.MISSED, None),
        (None, 1, None, cs.Outcome.RIGHT, None),
        (None, 1, 2, cs.Outcome.FALSE_ESCALATION, None),
    ],
)
def test_judge(
    escalate_by: int | None,
    not_before: int,
    at: int | None,
    outcome: cs.Outcome,
    lateness: int | None,
) -> None:
    judged = cs.judge(_conversation(escalate_by, not_before), at, ["loop"])
    assert judged.outcome is outcome
    assert judged.lateness == lateness
    assert judged.right is (outcome is cs.Outcome.RIGHT)


def test_score_counts_and_median_lateness() -> None:
    judged = (
        cs.judge(_conversation(1), 1),  # right
        cs.judge(_conversation(1), 2),  # late by 1
        cs.judge(_conversation(1), 3),  # late by 2
        cs.judge(_conversation(1), 3),  # late by 2
        cs.judge(_conversation(2), None),  # missed
        cs.judge(_conversation(3, 2), 1),  # early
        cs.judge(_conversation(None), 2),  # false escalation
        cs.judge(_conversation(None), None),  # right
    )
    score = cs.ConversationScore("tiny", judged)
    assert (score.n, score.never) == (8, 2)
    assert score.share_right == 2 / 8
    assert score.median_lateness == 2.0
    assert (score.late, score.missed, score.early, score.false_escalations) == (3, 1, 1, 1)
    assert len(score.wrong) == 6
    assert [j.miss for j in score.wrong][:3] == ["late by 1", "late by 2", "late by 2"]
    rows = {row.metric: row for row in conversation_rows(score)}
    assert rows["share right"].escalator == 0.25
    assert rows["share right"].met is False
    assert rows["median lateness"].escalator == 2.0
    assert rows["false escalations"].escalator == 1.0
    assert rows["false escalations"].met is False
    assert (rows["missed"].escalator, rows["early"].escalator) == (1.0, 1.0)


def test_median_lateness_is_undefined_without_late_cases() -> None:
    score = cs.ConversationScore("tiny", (cs.judge(_conversation(1), 1),))
    assert score.median_lateness is None
    assert score.share_right == 1.0
    assert score.wrong == ()


def test_escalation_turn_counts_customer_turns_up_to_the_escalating_event() -> None:
    conversation = cs.parse_lines(
        [
            _line(
                escalate_by=1,
                turns=[
                    {
                        "role": "customer",
                        "text": "Someone used my card, 900 of payments I didn't make.",
                    },
                    {"role": "bot", "text": "I can show you your statement."},
                    {"role": "customer", "text": "Please block it."},
                ],
            )
        ]
    )[0]
    score = cs.score([conversation])
    judged = score.judged[0]
    # Whatever the engine decides today, the turn is counted in customer turns.
    assert judged.escalated_at is None or 1 <= judged.escalated_at <= 2


def test_eval_scores_another_conversation_file_without_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        _line(id="never-one", escalate_by=None) + "\n" + _line(id="by-three", escalate_by=3) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    assert main(["eval", "--conversations", str(path), "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["rows"] == []
    assert report["conversations"]["n"] == 2
    assert report["conversations"]["never"] == 1
    assert {row["metric"] for row in report["conversations"]["rows"]} >= {
        "share right",
        "median lateness",
        "false escalations",
        "missed",
        "early",
    }
    wrong_ids = {item["id"] for item in report["conversations"]["wrong"]}
    assert wrong_ids <= {"never-one", "by-three"}
    assert "conversation set" in capsys.readouterr().out


def test_eval_names_a_bad_conversation_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_line() + "\n" + _line(id="two", escalate_by=9) + "\n", encoding="utf-8")
    assert main(["eval", "--conversations", str(path)]) == 2
    assert f"{path}:2: " in capsys.readouterr().err
