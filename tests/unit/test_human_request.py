"""Requests for a person (workers.decision.human_request.detect_human_request).

Every example here is written for these tests; none comes from a labelled data set.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.human_request import HumanRequest, detect_human_request
from workers.decision.text import normalise, words

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
    "Could you put me through to someone in billing?",
    "I'd like to have a word with your supervisor.",
    "Please escalate my complaint to a manager",
    "Can I be connected to a real person?",
    "I want to complain to someone in charge.",
    "Can you pass this on to a human?",
    "Hand me over to a person please",
    "Just let me chat with one of your staff",
    "How do I get hold of an advisor?",
    "I'd rather sort this out with a person.",
    "no, I want to speak to a proper person",
]

# Asking to be put through to a team or a desk is asking for people.
DEPARTMENTS = [
    "Put me through to reception please",
    "could you connect me to the accounts department",
    "I'd like to speak to the front desk",
    "transfer me to the fraud team",
]

BARE = [
    "agent",
    "Agent!",
    "AGENT PLEASE",
    "representative",
    "  human  ",
    "operator?",
    "Stop. Operator.",
    "customer service please",
    "the sales team please",
]

INDIRECT = [
    ("is there anyone I can talk to", "anyone_there"),
    ("This isn't working, is there anyone I can talk to?", "anyone_there"),
    ("Is there anybody there?", "anyone_there"),
    ("Hello? Anyone out there?", "anyone_there"),
    ("is there a manager I could speak with?", "anyone_there"),
    ("I don't want to deal with a machine", "rejects_machine"),
    ("I don\u2019t want to talk to a bot", "rejects_machine"),
    ("I'm fed up with this chatbot", "rejects_machine"),
    ("I'd rather not give my card details to a bot.", "rejects_machine"),
    ("I'm not comfortable typing my address into an automated system", "rejects_machine"),
    ("i refuse to talk to you any more", "rejects_machine"),
    ("Are you a bot?", "asks_if_machine"),
    ("am I talking to a robot", "asks_if_machine"),
    ("Are you a real person?", "asks_if_machine"),
    ("This chat isn't getting me anywhere.", "conversation_failing"),
    ("This conversation is going nowhere", "conversation_failing"),
    ("We're going round in circles here", "conversation_failing"),
    ("You are not helping", "conversation_failing"),
    ("I don't think you can help me with this", "conversation_failing"),
    ("Can someone from your team call me back?", "callback_request"),
    ("I'd like to request a callback.", "callback_request"),
    ("Please call me back on the number I gave", "callback_request"),
]

# Formal and indirect ways to ask for a person to act on the case, or for it to go up.
FORMAL = [
    ("I would be grateful if a member of your team could review my file", "asks_person_to_act"),
    ("Could one of your colleagues look into this personally?", "asks_person_to_act"),
    ("I'd like a colleague to take over, please", "explicit_request"),
    ("Can a human check my account please", "asks_person_to_act"),
    ("I need somebody with authority to deal with this", "asks_person_to_act"),
    ("Is anyone able to look into my complaint?", "asks_person_to_act"),
    ("please can someone from your fraud team review the case", "asks_person_to_act"),
    ("please one person of your team check my problem", "asks_person_to_act"),
    ("I want that a persone look my case", "asks_person_to_act"),
    ("could a collegue handle this for me", "asks_person_to_act"),
    ("Kindly, a responsible person of your firm should take my case in hand", "asks_person_to_act"),
    (
        "I would welcome the chance to discuss this with someone in your billing team",
        "explicit_request",
    ),
    ("i want speek with representant of the bank", "explicit_request"),
    ("I would like this escalated", "escalation_request"),
    ("Kindly escalate my complaint.", "escalation_request"),
    ("Can this be referred to the relevant department?", "escalation_request"),
    ("i want my case reviewed by a manager", "escalation_request"),
    ("Could you put me in touch with the complaints team", "explicit_request"),
    ("Please put me in contact with someone", "explicit_request"),
]

NOT_REQUESTS = [
    # Person words and the new verbs in other senses.
    "I need to transfer money to someone",
    "my colleague paid for it",
    "I'll ask my colleague",
    "A colleague of mine will look into the invoice",
    "your agent told me to check my email",
    "Can a person check in two bags?",
    "The situation escalated quickly",
    "Someone used my card to check my balance",
    "I don't need anyone to look into it, thanks",
    "Can you put me down for the 9am slot?",
    "I want someone to review my essay for grammar",
    "I'll discuss it with my manager tonight",
    "Can a person take my order over the phone?",
    "your agent takes my money every month",
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
    # Other senses of the person words and of the verbs.
    "I need someone to sign for the parcel",
    "I need someone else to collect it",
    "I want to send money to somebody",
    "Please transfer it to my wife's account",
    "Can you send the invoice to someone in my finance team?",
    "Please connect my printer to the wifi",
    "how do I connect to the gym wifi",
    "Can you call me a taxi?",
    "Can you speak Spanish?",
    "Can I chat with you later?",
    "The human resources department sent me a letter",
    "My manager wants to know the invoice total",
    "I talked to a representative last week",
    "Who is my account manager?",
    "Is it safe for people with allergies?",
    "I am a real person, not a bot.",
    "Is there anyone else available on Tuesday, another dentist maybe?",
    "Will someone at the station help with my luggage?",
    # Negated requests.
    "Do not transfer me to an agent",
    "I don't want to speak to anyone, just give me the balance",
    "No thanks, I don't want an agent.",
    "no need to put me through to a person",
]


@pytest.mark.parametrize("text", EXPLICIT)
def test_explicit_requests(text: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == "explicit_request"
    assert found.matched


@pytest.mark.parametrize(("text", "cue"), FORMAL)
def test_formal_requests_for_a_person(text: str, cue: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == cue


@pytest.mark.parametrize("text", DEPARTMENTS)
def test_transfer_to_a_team_or_desk_is_a_request(text: str) -> None:
    found = detect_human_request(text)
    assert found is not None
    assert found.cue == "explicit_request"


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


def test_rejecting_the_bot_counts_even_though_it_is_negated() -> None:
    found = detect_human_request("I do not want to chat with a computer")
    assert found is not None
    assert found.cue == "rejects_machine"


def test_curly_apostrophes_and_case_are_folded() -> None:
    assert detect_human_request("I DON\u2019T WANT TO TALK TO A BOT") == detect_human_request(
        "i don't want to talk to a bot"
    )


def test_very_long_message_is_handled() -> None:
    text = "My card was charged twice for the same order. " * 2_000 + "Let me talk to a person."
    found = detect_human_request(text)
    assert found is not None
    assert found.matched == "talk to a person"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=50),
        st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1, 20_000)),
        st.builds(
            " ".join,
            st.lists(
                st.sampled_from(
                    [
                        "no", "need", "talk", "to", "an", "agent", "is", "there", "anyone", "!",
                        "?", "a", "real", "person", "transfer", "me", "bot", "don't", "want",
                        "put", "through", "reception", "call", "back", "someone", "human", ".",
                    ]
                )
            ),
        ),
    )
)  # fmt: skip
def test_never_raises_and_is_deterministic(text: str) -> None:
    first = detect_human_request(text)
    assert first == detect_human_request(text)
    folded = normalise(text)  # the engine hands over what it already has
    assert detect_human_request(text, folded, words(folded)) == first
    assert first is None or (isinstance(first, HumanRequest) and first.cue)
    if first is not None:
        assert first.matched
        assert first.matched in normalise(text)
