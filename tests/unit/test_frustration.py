"""Per-message frustration scoring (workers.decision.frustration.score_message)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.frustration import FrustrationScore, score_message
from workers.decision.policy import FrustrationPolicy

NEGATIVE_TURN = FrustrationPolicy().negative_turn_score

CALM = [
    "Hi, where is my parcel?",
    "Can I change my delivery date to Friday?",
    "ok",
    "",
    "My order number is ORD-10001.",
    "Yes, the whole order please.",
    "Thanks, that's sorted.",
]

ANGRY = [
    "This is absolutely ridiculous, your service is useless and I'm furious.",
    "This is a waste of my time.",
    "It still does not work.",
    "How many times do I have to say it?? I want my money back.",
    "What the hell, this is the worst service ever.",
]


@pytest.mark.parametrize("text", CALM)
def test_calm_texts_score_near_zero(text: str) -> None:
    assert score_message(text).score < 0.1


@pytest.mark.parametrize("text", ANGRY)
def test_angry_texts_score_high(text: str) -> None:
    result = score_message(text)
    assert result.score >= NEGATIVE_TURN
    assert result.cues


def test_sarcasm_after_failure_counts_despite_positive_words() -> None:
    sarcastic = score_message("Great, thanks for nothing.")
    sincere = score_message("Great, thanks.")
    assert "sarcasm" in sarcastic.cues
    assert "positive_words" not in sarcastic.cues
    assert sarcastic.score >= NEGATIVE_TURN
    assert sincere.score == 0.0


def test_sarcasm_about_broken_thing_is_high() -> None:
    result = score_message("Brilliant job, it's broken again.")
    assert {"sarcasm", "negative_words"} <= set(result.cues)
    assert result.score >= NEGATIVE_TURN


@pytest.mark.parametrize(
    "text", ["Forget it, I give up.", "I'm done.", "Never mind, I'll go elsewhere."]
)
def test_giving_up_is_frustrated(text: str) -> None:
    result = score_message(text)
    assert "giving_up" in result.cues
    assert result.score >= NEGATIVE_TURN


def test_shouting_raises_score() -> None:
    quiet = score_message("where is my refund")
    shouted = score_message("WHERE IS MY REFUND")
    assert "shouting" in shouted.cues
    assert shouted.score > quiet.score


def test_single_short_capital_word_is_not_shouting() -> None:
    assert "shouting" not in score_message("My ID is on the back of the card").cues


def test_repeated_punctuation_raises_score() -> None:
    plain = score_message("where is my refund?")
    repeated = score_message("where is my refund???")
    mixed = score_message("where is my refund?!?!")
    assert "repeated_punctuation" in repeated.cues
    assert repeated.score > plain.score
    assert mixed.score > plain.score


def test_intensifier_raises_score() -> None:
    assert score_message("this is so annoying").score > score_message("this is annoying").score


def test_positive_words_lower_score() -> None:
    negative = score_message("this is annoying")
    softened = score_message("this is annoying, but thanks for sorting it")
    assert "positive_words" in softened.cues
    assert softened.score < negative.score


def test_positive_words_never_go_below_zero() -> None:
    assert score_message("thanks, great, perfect, brilliant").score == 0.0


def test_curly_apostrophes_are_folded() -> None:
    straight = score_message("I already told you my order number, I'm done")
    curly = score_message("I already told you my order number, I\u2019m done")
    assert straight == curly


def test_many_cues_approach_but_do_not_exceed_one() -> None:
    text = "THIS IS USELESS!!! Absolutely pathetic, a total waste of my time. I give up."
    assert 0.9 < score_message(text).score <= 1.0


# Text, including control characters and very long single "words".
ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2_000),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1, 20_000)),
    st.builds(
        lambda parts: " ".join(parts),
        st.lists(st.sampled_from(["WHY", "useless", "!!", "??", "thanks", "not", "working"])),
    ),
)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_score_is_total_bounded_and_deterministic(text: str) -> None:
    first = score_message(text)
    second = score_message(text)
    assert isinstance(first, FrustrationScore)
    assert 0.0 <= first.score <= 1.0
    assert first == second
    assert all(isinstance(cue, str) and cue for cue in first.cues)
