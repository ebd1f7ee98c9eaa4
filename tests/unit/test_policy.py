"""Policy as code: the shipped default, custom files layered over it, and clear errors."""

import tomllib
from pathlib import Path

import pytest

from schemas.escalation import ReasonCode
from workers.cli import main
from workers.decision import DecisionEngine
from workers.decision.policy import (
    HandoffPolicy,
    Policy,
    PolicyError,
    default_policy,
    default_policy_text,
    load_policy,
    parse_policy,
)

REQUIRED_TOPICS = {
    "fraud",
    "lost_stolen_card",
    "billing_dispute",
    "refund",
    "denied_claim",
    "bereavement",
    "urgent_travel_disruption",
    "emergency",
    "legal_threat",
    "vulnerability",
    "account_closure",
}


def test_the_shipped_file_and_the_model_defaults_agree() -> None:
    """Every threshold has one value: the file documents it, the model falls back to it."""
    shipped = default_policy()
    model = Policy()
    for section in ("frustration", "loop", "capability", "watch", "matrix", "bounds", "redaction"):
        assert getattr(shipped, section) == getattr(model, section), section
    for name in HandoffPolicy.model_fields:
        if name != "queue_sla_seconds":
            assert getattr(shipped.handoff, name) == getattr(model.handoff, name), name
    assert shipped.routes == model.routes
    assert shipped.default_route == model.default_route


def test_the_taxonomy_covers_the_required_topics() -> None:
    names = {topic.name for topic in default_policy().topics}
    assert names >= REQUIRED_TOPICS
    fraud = next(topic for topic in default_policy().topics if topic.name == "fraud")
    assert fraud.human_required
    assert (fraud.route.queue, fraud.route.priority) == ("fraud", 1)


def test_a_custom_file_is_layered_over_the_default(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        "[frustration]\npersistent_turns = 5\n\n"
        '[routes]\nloop = { queue = "loops", priority = 4 }\n'
    )
    policy = load_policy(path)
    assert policy.frustration.persistent_turns == 5
    assert (
        policy.frustration.negative_turn_score == default_policy().frustration.negative_turn_score
    )
    assert policy.route_for(ReasonCode.LOOP).queue == "loops"
    assert policy.route_for(ReasonCode.HUMAN_REQUESTED) == default_policy().route_for(
        ReasonCode.HUMAN_REQUESTED
    )
    assert policy.topics == default_policy().topics


def test_a_custom_taxonomy_replaces_the_default_one() -> None:
    policy = parse_policy(
        '[[topics]]\nname = "recall"\nconsequence = 0.9\nhuman_required = true\n'
        'route = { queue = "safety", priority = 1 }\nphrases = ["\\\\bproduct recall\\\\b"]\n'
        '[models]\nhigh_stakes = ""\n'  # the shipped model names the default topics
    )
    assert [topic.name for topic in policy.topics] == ["recall"]
    engine = DecisionEngine(policy)
    from datetime import UTC, datetime

    from schemas.events import MessageEvent, Role

    event = MessageEvent(
        event_id="e1",
        session_id="s",
        ts=datetime(2026, 1, 5, tzinfo=UTC),
        type="message",
        role=Role.CUSTOMER,
        text="Is my kettle part of the product recall?",
    )
    escalation = engine.apply(None, event).escalation
    assert escalation is not None
    assert escalation.queue == "safety"


def test_a_custom_taxonomy_without_the_models_topics_must_switch_the_model_off() -> None:
    with pytest.raises(PolicyError, match=r"unknown label.*high_stakes = \"\""):
        parse_policy(
            '[[topics]]\nname = "recall"\nconsequence = 0.9\n'
            'route = { queue = "safety", priority = 1 }\nphrases = ["recall"]\n'
        )


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("[frustration]\nnegative_turn_score = 1.5\n", "frustration.negative_turn_score"),
        ("[loop]\nrestatements = 2\n", "loop.restatements"),
        ("[routes]\nloop = { queue = 'has space', priority = 1 }\n", "routes.loop.queue"),
        ("[routes]\nnot_a_reason = { queue = 'x', priority = 1 }\n", "routes.not_a_reason"),
        (
            "[[topics]]\nname = 'x'\nconsequence = 0.5\nroute = { queue = 'x', priority = 1 }\n"
            "phrases = ['(unclosed']\n",
            "topics.0.phrases",
        ),
    ],
)
def test_errors_name_their_location(text: str, location: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "custom.toml")
    assert "custom.toml" in str(raised.value)
    assert location in str(raised.value)


def test_duplicate_topic_names_are_rejected() -> None:
    topic = (
        "[[topics]]\nname = 'x'\nconsequence = 0.5\n"
        "route = { queue = 'x', priority = 1 }\nphrases = ['a']\n"
    )
    with pytest.raises(PolicyError, match="repeated: x"):
        parse_policy(topic + topic)


def test_not_toml_is_a_clear_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("frustration = [", "broken.toml")


def test_the_default_text_is_valid_toml_with_comments() -> None:
    assert tomllib.loads(default_policy_text())["version"] == 1


def test_policy_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[capability]\ngaps_to_escalate = 0\n")
    assert main(["policy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "capability.gaps_to_escalate" in err
    assert str(bad) in err


def test_replay_takes_a_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id": "e1", "session_id": "s", "ts": "2026-01-05T09:00:00Z", "type": "message", '
        '"role": "customer", "text": "agent please"}\n'
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('[routes]\nhuman_requested = { queue = "vip", priority = 1 }\n')
    assert main(["replay", "--policy", str(policy), str(events)]) == 0
    assert '"queue":"vip"' in capsys.readouterr().out
