"""Per-message frustration scoring (workers.decision.frustration.score_message).

Every example here is written for these tests; none comes from a labelled data set.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.frustration import FrustrationScore, score_message
from workers.decision.policy import FrustrationPolicy
from workers.decision.text import normalise, words

NEGATIVE_TURN = FrustrationPolicy().negative_turn_score

CALM = [
    "Hi, where is my parcel?",
    "Can I change my delivery date to Friday?",
    "ok",
    "",
    "My order number is ORD-10001.",
    "Yes, the whole order please.",
    "Thanks, that's sorted.",
    "Could you book a table for two at 7pm on Saturday?",
    "What time does the store open on Sunday?",
    "I'd like the blue one in a medium, please.",
    "Great, see you tomorrow!",
    "Please send the receipt to my email address.",
]

ANGRY = [
    "This is absolutely ridiculous, your service is useless and I'm furious.",
    "This is a waste of my time.",
    "It still does not work.",
    "How many times do I have to say it?? I want my money back.",
    "What the hell, this is the worst service ever.",
    "I'm sick and tired of this nonsense.",
    "Never again. Worst company I have dealt with.",
]

# Complaints about the service, worded without a single emotion word.
SERVICE_FAILURES = [
    "My train was delayed 3 hours and no one at the station could tell us anything.",
    "I've been on hold for 45 minutes.",
    "Still no refund, and it has been three weeks.",
    "Why was my order cancelled again?",
    "You promised a call back yesterday and nobody called.",
    "My suitcase is still missing after two flights.",
    "I was told it would arrive on Monday, it never arrived.",
    "The app keeps crashing and I have tried four times now.",
]

# Mild dissatisfaction with the bot itself: it got something wrong or did not listen.
CORRECTIONS = [
    ("No, I said the 14th, not the 4th.", "leading_no"),
    ("That's not what I asked for.", "correction"),
    ("Did you not understand me? I need a room for two.", "not_understood"),
    ("Are you sure? Please check again.", "doubt"),
    ("Wrong, I wanted the blue one.", "correction"),
    ("I already told you my postcode.", "already_said"),
    ("Sorry, I meant Thursday, not Tuesday.", "sorry_correction"),
    ("You keep asking me the same question over and over.", "going_in_circles"),
    ("I don't care, just book one.", "dont_care"),
]

# A "no" that politely declines or answers, and plain task talk: not frustration.
POLITE = [
    "No, thank you.",
    "No, that's all for today.",
    "No, not at the moment.",
    "No, I don't need a taxi.",
    "Nope, that's it.",
    "No problem, 8pm works too.",
    "No, price doesn't matter.",
    "No preference on the colour.",
    "No.",
    "I don't need a receipt.",
    "Is there a cancellation fee?",
    "How long is the journey?",
    "I also need a hotel for the same dates.",
    "Have a good one!!",
]


@pytest.mark.parametrize("text", CALM)
def test_calm_texts_score_near_zero(text: str) -> None:
    assert score_message(text).score < 0.1


@pytest.mark.parametrize("text", ANGRY)
def test_angry_texts_score_high(text: str) -> None:
    result = score_message(text)
    assert result.score >= NEGATIVE_TURN
    assert result.cues


@pytest.mark.parametrize("text", SERVICE_FAILURES)
def test_calmly_worded_service_failures_are_negative(text: str) -> None:
    result = score_message(text)
    assert result.score >= NEGATIVE_TURN, result


@pytest.mark.parametrize(("text", "cue"), CORRECTIONS)
def test_corrections_of_the_bot_are_negative(text: str, cue: str) -> None:
    result = score_message(text)
    assert cue in result.cues
    assert result.score >= NEGATIVE_TURN


@pytest.mark.parametrize("text", POLITE)
def test_polite_declines_and_task_talk_stay_below_the_threshold(text: str) -> None:
    assert score_message(text).score < NEGATIVE_TURN


def test_a_correcting_no_outscores_a_polite_no() -> None:
    correcting = score_message("No, make it the 9th.")
    polite = score_message("No, thanks.")
    assert "leading_no" in correcting.cues
    assert "leading_no" not in polite.cues
    assert correcting.score > polite.score


def test_calm_complaint_outranks_neutral_question() -> None:
    complaint = score_message("The flight is delayed again, we've been waiting 2 hours")
    question = score_message("Which gate does the flight leave from?")
    assert {"service_failure", "waiting_time"} <= set(complaint.cues)
    assert complaint.score > question.score


def test_durations_count_when_written_together() -> None:
    assert "waiting_time" in score_message("stuck here for 3hrs").cues
    assert "waiting_time" in score_message("45mins on the phone").cues


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
    "text",
    [
        "Thanks for the three hour delay, really appreciate it.",
        "Oh great, another cancellation.",
        "Love waiting on hold all morning.",
        "So much for next day delivery.",
    ],
)
def test_sarcastic_praise_is_negative(text: str) -> None:
    result = score_message(text)
    assert "sarcasm" in result.cues
    assert result.score >= NEGATIVE_TURN


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for the quick help, great job!",
        "Thank you so much for your help.",
        "Keep up the good work.",
        "No, thank so much, that is everything.",
    ],
)
def test_sincere_praise_is_not_sarcasm(text: str) -> None:
    result = score_message(text)
    assert "sarcasm" not in result.cues
    assert result.score < 0.1


@pytest.mark.parametrize(
    "text", ["Forget it, I give up.", "I'm done.", "Never mind, I'll go elsewhere."]
)
def test_giving_up_is_frustrated(text: str) -> None:
    result = score_message(text)
    assert "giving_up" in result.cues
    assert result.score >= NEGATIVE_TURN


def test_negated_praise_is_negative_and_negated_complaint_is_softer() -> None:
    assert "negated_praise" in score_message("That was not helpful at all").cues
    assert score_message("not helpful").score > score_message("helpful").score
    assert score_message("not bad").score < score_message("bad").score


def test_no_thanks_is_still_courtesy() -> None:
    result = score_message("No thanks")
    assert "negated_praise" not in result.cues
    assert result.score == 0.0


def test_negation_alone_is_weak() -> None:
    assert 0.0 < score_message("I don't have one").score < 0.2


def test_shouting_raises_score() -> None:
    quiet = score_message("where is my refund")
    shouted = score_message("WHERE IS MY REFUND")
    assert "shouting" in shouted.cues
    assert shouted.score > quiet.score


def test_single_short_capital_word_is_not_shouting() -> None:
    assert "shouting" not in score_message("My ID is on the back of the card").cues


def test_capitalised_negation_is_emphasis() -> None:
    plain = score_message("I have never been treated like this")
    stressed = score_message("I have NEVER been treated like this")
    assert "emphasis" in stressed.cues
    assert stressed.score > plain.score


def test_repeated_punctuation_raises_score() -> None:
    plain = score_message("where is my refund?")
    repeated = score_message("where is my refund???")
    mixed = score_message("where is my refund?!?!")
    assert "repeated_punctuation" in repeated.cues
    assert repeated.score > plain.score
    assert mixed.score > plain.score


def test_negative_emoticon_and_emoji_raise_score() -> None:
    plain = score_message("my bag did not arrive")
    assert score_message("my bag did not arrive :(").score > plain.score
    assert score_message("my bag did not arrive \U0001f621").score > plain.score
    assert "negative_emoji" in score_message("again :-(").cues


def test_web_addresses_are_not_emoticons() -> None:
    assert "negative_emoji" not in score_message("see https://example.com/help").cues


def test_negative_hashtag_counts() -> None:
    assert "negative_words" in score_message("third delay this week #epicfail").cues


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


def test_cues_are_unique() -> None:
    cues = score_message("No no no, that's wrong, WRONG, still wrong!!! Are you sure??").cues
    assert len(cues) == len(set(cues))


def test_very_long_message_is_scored() -> None:
    text = "I have been waiting for my refund for weeks. " * 2_000
    result = score_message(text)
    assert result.score >= NEGATIVE_TURN


# What the product needs from a turn in a chat with the bot, written for these tests.
SARCASM_AT_THE_BOT = [
    "great, the same answer again",
    "oh wonderful, thanks for nothing",
    "Perfect, another link that doesn't work.",
    "Lovely. You booked the wrong day again.",
    "Wow, super helpful... not",
]


@pytest.mark.parametrize("text", SARCASM_AT_THE_BOT)
def test_sarcastic_praise_of_the_bot_scores_clearly(text: str) -> None:
    result = score_message(text)
    assert "sarcasm" in result.cues
    assert "positive_words" not in result.cues
    assert result.score >= 0.6


@pytest.mark.parametrize(
    "text",
    [
        "Great, that's exactly the one I wanted.",
        "Perfect, I'll take the 10 o'clock train.",
        "Nice, and could you also add a room for Friday?",
        "Lovely, thank you, that is all.",
    ],
)
def test_praise_opening_an_ordinary_request_is_not_sarcasm(text: str) -> None:
    result = score_message(text)
    assert "sarcasm" not in result.cues
    assert result.score < 0.1


def test_rising_anger_scores_higher_at_each_step() -> None:
    steps = [
        "Can you check my order status?",
        "this is ridiculous",
        "this is ridiculous, I told you twice already",
        "ARE YOU EVEN LISTENING",
    ]
    scores = [score_message(text).score for text in steps]
    assert scores[0] < NEGATIVE_TURN <= scores[1] < scores[2]
    assert scores[3] >= 0.7
    assert {"shouting", "not_understood"} <= set(score_message(steps[3]).cues)


def test_shouting_after_a_repeat_scores_clearly() -> None:
    result = score_message("I ALREADY GAVE YOU MY POSTCODE")
    assert {"shouting", "already_said"} <= set(result.cues)
    assert result.score >= 0.7


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("No, I said the 21st", "leading_no"),
        ("that's not what I asked", "correction"),
        ("did you not understand me before?", "not_understood"),
        ("you already asked me that", "asked_again"),
        ("Not Monday, Friday.", "correction"),
        ("Why can't you just book the table?", "rhetorical_question"),
        ("do you even read what I write?", "not_understood"),
    ],
)
def test_mild_dissatisfaction_with_the_bot_scores_near_the_threshold(text: str, cue: str) -> None:
    result = score_message(text)
    assert cue in result.cues
    assert NEGATIVE_TURN - 0.05 <= result.score <= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "Not sure, maybe the later one.",
        "Not yet, I'll decide tomorrow.",
        "No, not right now.",
        "How long is the drive to the airport?",
        "What is the fee if I cancel next week?",
        "I'd like the window seat, but an aisle is fine too.",
        "No, but thanks anyway.",
    ],
)
def test_hedges_and_policy_questions_stay_below_the_threshold(text: str) -> None:
    assert score_message(text).score < NEGATIVE_TURN


@pytest.mark.parametrize(
    "text",
    [
        "this is killing me lol, love it",
        "haha I'm dying, that's brilliant",
        "No complaints at all, thanks!",
        "not bad at all, cheers",
        "that's not a problem",
    ],
)
def test_idioms_and_negated_complaints_are_not_frustration(text: str) -> None:
    assert score_message(text).score < 0.3


def test_negation_turns_praise_into_a_complaint_and_softens_a_complaint() -> None:
    assert score_message("the agent was not helpful").score >= NEGATIVE_TURN
    assert score_message("the agent was not rude").score < score_message("the agent was rude").score


def test_contrast_lets_the_complaint_after_but_count() -> None:
    plain = score_message("thanks, the parcel is still missing")
    contrasted = score_message("thanks, but the parcel is still missing")
    assert "contrast" in contrasted.cues
    assert contrasted.score > plain.score


def test_reproach_in_hindsight_adds_weight() -> None:
    plain = score_message("you told me the wrong date")
    hindsight = score_message("you should have told me the right date")
    assert "hindsight" in hindsight.cues
    assert hindsight.score > score_message("you told me the date").score
    assert plain.score > 0


def test_asking_for_something_else_is_weak_alone_and_counts_with_a_no() -> None:
    alone = score_message("Is there anything else in the centre?")
    with_no = score_message("No, show me something else instead.")
    assert "asks_alternative" in alone.cues
    assert 0.0 < alone.score < 0.3
    assert with_no.score > alone.score


@pytest.mark.parametrize("text", ["this app is sh*t", "what the f**k is going on"])
def test_masked_swearing_is_swearing(text: str) -> None:
    result = score_message(text)
    assert "profanity" in result.cues
    assert result.score >= NEGATIVE_TURN


@pytest.mark.parametrize("text", ["mail me at jo@example.com", "I need *two* rooms", "A*B"])
def test_stars_and_at_signs_are_not_swearing(text: str) -> None:
    assert "profanity" not in score_message(text).cues


@pytest.mark.parametrize(
    "text", ["I'm switching to another bank.", "You just lost a customer.", "late again #sarcasm"]
)
def test_threats_to_leave_and_tagged_sarcasm_are_negative(text: str) -> None:
    assert score_message(text).score >= NEGATIVE_TURN


# Text, including control characters, lone surrogates and very long single "words".
ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2_000),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=50),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1, 20_000)),
    st.builds(
        lambda parts: " ".join(parts),
        st.lists(
            st.sampled_from(
                [
                    "WHY", "useless", "!!", "??", "thanks", "not", "working", "no", "No,", "sorry",
                    "again", "still", "2hrs", "on", "hold", ":(", ":)", "#fail", "great", "job",
                    "for", "nothing", "I", "said", "are", "you", "sure", "\U0001f621",
                    "but", "should", "have", "Not", "Monday,", "sh*t", "#sarcasm", "Perfect.",
                    "...", "else", "instead", "even", "listening", "why", "just", "if",
                ]
            )
        ),
    ),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_score_is_total_bounded_and_deterministic(text: str) -> None:
    first = score_message(text)
    second = score_message(text)
    assert isinstance(first, FrustrationScore)
    assert 0.0 <= first.score <= 1.0
    assert first == second
    folded = normalise(text)  # the engine hands over what it already has
    assert score_message(text, folded, words(folded)) == first
    assert all(isinstance(cue, str) and cue for cue in first.cues)
    assert len(first.cues) == len(set(first.cues))


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_adding_exclamation_marks_never_lowers_the_score(text: str) -> None:
    assert score_message(text + " !!").score >= score_message(text).score


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_writing_in_capitals_never_lowers_the_score(text: str) -> None:
    assert score_message(text.upper()).score >= score_message(text).score
