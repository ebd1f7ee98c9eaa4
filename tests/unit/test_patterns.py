"""Gates read from a pattern never hide a match: on hand-made patterns, on every gated pattern
the decision core ships (generated text and the bundled conversations), and they stay
selective (most messages skip the scan)."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision import loops, topics
from workers.decision.patterns import (
    GatedPattern,
    gated,
    phrase_lead_literals,
    required_substrings,
    screen,
)
from workers.decision.text import normalise

SHIPPED = {
    f"{module.__name__}.{name}": value
    for module in (loops, topics)
    for name, value in vars(module).items()
    if isinstance(value, GatedPattern)
}
ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    """Every message of the conversation set and the samples, normalised."""
    turns = [
        turn
        for line in (ROOT / "workers/evaluation/conversations.jsonl").read_text().splitlines()
        for turn in json.loads(line)["turns"]
    ]
    events = [
        json.loads(line)
        for line in (ROOT / "workers/samples/conversations.jsonl").read_text().splitlines()
    ]
    return [normalise(item["text"]) for item in [*turns, *events] if item.get("text")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("abc", ("abc",)),
        ("(?:foo)?bar", ("bar",)),
        (r"\bi (?:already|just) said\b", (" said",)),
        ("(?:once|yet) again", (" again",)),
        ("x|yz", None),
        ("ab", None),
        ("(?:abc)+d", ("abc",)),
        ("(?:abc)*d", None),
        ("(?=abcdef)x", None),
        ("alpha|beta(?:x|y)", ("alpha", "beta")),
        ("(?:the|your) refund", (" refund",)),
        ("(?i:hello)", None),
    ],
)
def test_required_substrings(source: str, expected: tuple[str, ...] | None) -> None:
    assert required_substrings(re.compile(source)) == expected


def test_a_case_insensitive_pattern_has_no_gate() -> None:
    assert required_substrings(re.compile("hello", re.IGNORECASE)) is None


def test_lead_literals_of_a_phrase() -> None:
    assert phrase_lead_literals(r"\bc(?:ard|heque)s? (?:was )?stolen") == {"card", "cheque"}
    assert phrase_lead_literals(r"\b\w+ stolen") is None


def test_the_decision_core_gates_its_costly_patterns() -> None:
    assert {
        "workers.decision.loops.RESTATEMENT_CUES",
        "workers.decision.loops.REJECTS_REPLY",
    } <= set(SHIPPED)
    for name, pattern in SHIPPED.items():
        assert pattern.gate, f"{name} is gated but has no gate"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_gate_keeps_every_match_of_the_conversations(name: str) -> None:
    pattern = SHIPPED[name]
    for text in _texts():
        expected = [m.span() for m in pattern.pattern.finditer(text)]
        assert [m.span() for m in pattern.finditer(text)] == expected, text
        found = pattern.search(text)
        assert (found and found.span()) == (expected[0] if expected else None)


def _vocabulary() -> list[str]:
    words = {"i", "you", "it", "my", "the", "a", "not", "'", "?", ",", "2", "so"}
    for pattern in SHIPPED.values():
        for part in pattern.gate or ():
            words.update(part.split())
        words.update(re.findall(r"[a-z']{2,}", pattern.pattern.pattern))
    return sorted(words)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_vocabulary()), max_size=12), st.sampled_from(sorted(SHIPPED)))
def test_a_shipped_gate_never_hides_a_match(words: list[str], name: str) -> None:
    text = " ".join(words)
    pattern = SHIPPED[name]
    found = pattern.search(text)
    expected = pattern.pattern.search(text)
    assert (found and found.span()) == (expected and expected.span())


def test_gates_rule_most_messages_out() -> None:
    """Not a timing: a share of messages that skip the scan, so the gates earn their keep."""
    texts = _texts()
    for name in ("workers.decision.loops.RESTATEMENT_CUES", "workers.decision.loops.EMPATHY"):
        skipped = sum(not SHIPPED[name].possible(text) for text in texts)
        assert skipped / len(texts) > 0.4, name


def test_gated_compiles_with_flags() -> None:
    assert gated("abc", re.IGNORECASE).search("ABC") is not None


GATE_PARTS = st.text(alphabet="ab .'$", min_size=1, max_size=4)


@given(st.lists(GATE_PARTS, min_size=1, max_size=6), st.text(alphabet="ab .'$c", max_size=30))
def test_a_screen_finds_a_gate_string_exactly_when_one_is_there(gate: list[str], text: str) -> None:
    assert (screen(gate).search(text) is not None) == any(part in text for part in gate)


def test_a_screen_leaves_out_strings_that_contain_another() -> None:
    assert screen(("did not", "did", "didn", "help")).pattern == "help|did"
