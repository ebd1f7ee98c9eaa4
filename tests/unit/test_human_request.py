"""Requests for a person (workers.decision.human_request.detect_human_request)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.human_request import HumanRequest, detect_human_request

EXPLICIT = [
    "Can I speak to a human please?",
    "Let me talk to an agent.",
    "I want to talk to a real person",
    "Put me through to customer service",
    "transfer me to a manager, now",
    "I need a human",
    "Please get me someone who can help",
    "Hi, can I speak to a person please? It's about a complaint I made last week.",
    "I'd like to speak to someone about my bill",
    "I would like an agent please",
    "Can I talk to someone?",
    "LIVE AGENT",
]

BARE = ["agent", "Agent!", "AGENT PLEASE", "representative", "  human  ", "operator?"]

INDIRECT = [
    ("is there anyone I can talk to", "anyone_there"),
    ("This isn't working, is there anyone I can talk to?", "anyone_there"),
    ("Is there anybody there?", "anyone_there"),
    ("I don't want to deal with a machine", "rejects_machine"),
    ("I don\u2019t want to talk to a bot", "rejects_machine"),
    ("Are you a bot?", "asks_if_machine"),
    ("am I talking to a robot", "asks_if_machine"),
]

NOT_REQUESTS = [
    "is this safe for human hair",
    "No need for an agent, thanks",
    "no need for an agent, thanks. That's all I needed.",
    "my travel agent booked it",
    "I don't need a person, just the tracking number",
    "I spoke to an agent yesterday and she said it was fixed",
    "I don't want anyone to call me",
    "Where is my parcel?",
    "Thanks, that's sorted.",
    "",
]


@pytest.mark.parametrize("text", EXPLICIT)
def test_explicit_requests(text: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == "explicit_request"
    assert found.matched


@pytest.mark.parametrize("text", BARE)
def test_bare_person_word_is_a_request(text: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == "bare_request"


@pytest.mark.parametrize(("text", "cue"), INDIRECT)
def test_indirect_requests(text: str, cue: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == cue


@pytest.mark.parametrize("text", NOT_REQUESTS)
def test_non_requests(text: str) -> None:
    assert detect_human_request(text) is None


def test_bare_word_inside_a_sentence_is_not_a_bare_request() -> None:
    assert detect_human_request("Which agent handled my case?") is None


def test_contracted_i_would_like_is_a_request() -> None:
    # "I'd like an agent" is as common as "I would like an agent"; both should count.
    found = detect_human_request("I'd like an agent, please")
    assert found is not None
    assert found.cue == "explicit_request"


@pytest.mark.parametrize("text", ["Is this human hair?", "Is this real leather?"])
def test_product_questions_with_person_words_are_not_requests(text: str) -> None:
    # "human" / "real" about a product is not a person sense (cf. "safe for human hair").
    assert detect_human_request(text) is None


def test_later_unnegated_request_still_counts() -> None:
    text = "No need for an agent for the invoice. But the refund: let me talk to a person."
    found = detect_human_request(text)
    assert found is not None
    assert found.matched == "talk to a person"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1, 20_000)),
        st.builds(
            " ".join,
            st.lists(
                st.sampled_from(
                    ["no", "need", "talk", "to", "an", "agent", "is", "there", "anyone", "!", "?"]
                )
            ),
        ),
    )
)
def test_never_raises_and_is_deterministic(text: str) -> None:
    first = detect_human_request(text)
    assert first == detect_human_request(text)
    assert first is None or (isinstance(first, HumanRequest) and first.cue)
