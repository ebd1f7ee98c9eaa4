"""The consequence taxonomy of the shipped policy (workers.decision.topics.find_topics).

Every example here was written for this file; none is taken from a public data set.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.decision.policy import TopicRule, default_policy
from workers.decision.text import normalise
from workers.decision.topics import Taxonomy, find_topics

POLICY = default_policy()
TOPICS = POLICY.topics

POSITIVE: dict[str, list[str]] = {
    "fraud": [
        "There are two purchases from a shop I've never heard of and I didn't make them",
        "I think my online banking was hacked last night",
        "Somebody has been using my card details to shop online",
        "I got a text asking for my PIN, is this a scam?",
        "A withdrawal in Madrid isn't mine, I have never been to Spain",
        "This looks like a fraudulent transaction to me",
        "I don\u2019t recognise the last three payments on my account",
        "My details were used without my consent",
        "There is some suspicious activity on my account",
    ],
    "lost_stolen_card": [
        "My purse was stolen on the bus this morning",
        "I can't find my debit card anywhere",
        "I left my card at the restaurant last night",
        "Please block my card straight away",
        "I was mugged on the way home",
        "Help, I've lost my wallet with all my cards in it",
        "My credit card has gone missing",
    ],
    "billing_dispute": [
        "You charged me twice for the same order",
        "There's a charge on my bill I want to dispute",
        "I was overcharged on this month's invoice",
        "Why is there a strange fee on my statement?",
        "I have a billing problem with my last invoice",
        "I was billed for a subscription I never signed up for, I didn't ask for it",
        "The garage invoice shows the wrong amount",
    ],
    "refund": [
        "When will I get my refund for the broken kettle?",
        "I returned the jacket two weeks ago and still no refund",
        "I just want my money back",
        "Can you reimburse me for the hotel I had to pay for?",
        "How do I reverse the payment I made yesterday?",
    ],
    "money_missing": [
        "The ATM only gave me 50 but took 100 from my account",
        "The cash machine gave me less cash than I asked for",
        "Money has disappeared from my savings account",
        "I asked for 200 at the machine but only got 100",
    ],
    "denied_claim": [
        "My insurance claim for the MRI was denied",
        "They rejected my claim even though I'm covered",
        "Why was my claim declined?",
        "The insurer won't cover my surgery",
        "I want to appeal the decision on my claim",
    ],
    "insurance_claim": [
        "I need to make a claim, someone reversed into my car in the car park",
        "I was in a car accident this morning",
        "Our kitchen flooded overnight, what do I do?",
        "Our house was broken into while we were away",
        "What is the status of my claim?",
    ],
    "bereavement": [
        "My husband passed away last month and the account was in his name",
        "I'm writing about my late father's pension",
        "My mum died on Sunday and I need to stop her direct debits",
        "I need to register a death",
        "What do you need from me to pay for the funeral?",
    ],
    "urgent_travel_disruption": [
        "My flight to Boston was cancelled and I need to get home tonight",
        "You cancelled my train and now I'm stranded in Leeds",
        "I missed my connection because the first leg was late",
        "The airline cancelled our flights and we have two small kids with us",
    ],
    "emergency": [
        "This is an emergency, my son is in hospital",
        "I need to travel today because of a family emergency",
        "My father had a heart attack and I need to fly out",
        "She's in intensive care",
    ],
    "legal_threat": [
        "I'm going to sue you if this isn't fixed",
        "My lawyer will be in touch",
        "I will report you to the ombudsman",
        "I'm taking you to court over this",
        "I'll file a complaint with the CFPB",
    ],
    "vulnerability": [
        "I can't afford food this week after you took that payment",
        "I don't feel safe at home",
        "I've been having thoughts of suicide",
        "My partner is abusive and controls all our money",
        "We're about to be evicted",
    ],
    "account_closure": [
        "Could you close my account, please?",
        "Please cancel my subscription today",
        "I'm switching to another bank",
        "I'll take my business elsewhere",
    ],
}

# Low-stakes tasks, everyday questions and other senses of the topic words: no topic at all.
NEGATIVE = [
    "I'd like to change my address",
    "Can I change my address please?",
    "What's my order status?",
    "Where is my order?",
    "Please help me reset my password",
    "I've forgotten my password again",
    "is this safe for human hair",
    "I love this card",
    "When will my new card arrive?",
    "How do I top up my account?",
    "What's the exchange rate for euros today?",
    "Where do I go to change the PIN on my card?",
    "Can I get a statement for last month?",
    "How much is the fee for international transfers?",
    "Where can I find my card number?",
    "I forgot my card pin",
    "Thanks, that's sorted.",
    "Can I order a new card?",
    "My phone number has changed",
    "What are your opening hours?",
    "Can you send me a copy of my policy?",
    "How do I update my email address?",
    "I'd like to book a flight to Paris",
    "Can I cancel my hotel booking?",
    "Do you accept Apple Pay?",
    "What is your refund policy?",
    "Is there a fee for cash withdrawals?",
    "I want to use my card abroad",
    "How many days does a bank transfer usually take?",
    "My phone died, can you call me back?",
    "I was scared to death on that flight",
    "Can I add my wife to the policy?",
    "I'm dying to know the results",
    "The app keeps crashing",
    "I sent the money to my sister by accident",
    "What's the cancellation policy for flights?",
    "I want to cancel my flight",
    "How do I cancel my flight?",
    "Which shops accept this card?",
    "I'd like to claim my free gift",
    "my travel agent booked it",
    "Please confirm my delivery address",
    "I need a copy of my invoice",
    "Can I pay my bill twice a month?",
    "I've asked twice already, where is my parcel?",
    "There's a strand of hair in my food",
    "",
]

HUMAN_REQUIRED = {
    "fraud",
    "lost_stolen_card",
    "denied_claim",
    "bereavement",
    "emergency",
    "legal_threat",
    "vulnerability",
}
WATCH = {
    "billing_dispute",
    "refund",
    "money_missing",
    "insurance_claim",
    "urgent_travel_disruption",
    "account_closure",
}

# Words the phrases are built from, to give the property tests text that gets deep into them.
VOCABULARY = [
    "i",
    "my",
    "the",
    "a",
    "card",
    "cards",
    "lost",
    "stolen",
    "payment",
    "transaction",
    "didn't",
    "did",
    "not",
    "make",
    "charged",
    "twice",
    "statement",
    "fee",
    "refund",
    "money",
    "back",
    "atm",
    "cash",
    "claim",
    "denied",
    "flight",
    "cancelled",
    "cancel",
    "died",
    "death",
    "to",
    "court",
    "sue",
    "afford",
    "can't",
    "find",
    "someone",
    "used",
    "wrong",
    "amount",
    "$1",
    "100",
    "'s",
    ",",
    "?",
    "\u2019",
]


def _names(text: str) -> list[str]:
    return [hit.rule.name for hit in find_topics(text, TOPICS)]


def _rule(name: str) -> TopicRule:
    return next(topic for topic in TOPICS if topic.name == name)


CASES = [(topic, text) for topic, texts in POSITIVE.items() for text in texts]


@pytest.mark.parametrize(("topic", "text"), CASES)
def test_positive_examples_find_their_topic(topic: str, text: str) -> None:
    assert topic in _names(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_low_stakes_messages_touch_no_topic(text: str) -> None:
    assert _names(text) == []


def test_every_topic_has_a_positive_example() -> None:
    names = {topic.name for topic in TOPICS}
    missing = sorted(name for name in names if not POSITIVE.get(name))
    assert missing == []
    assert set(POSITIVE) <= names


def test_the_topic_names_other_code_relies_on_are_there() -> None:
    names = {topic.name for topic in TOPICS}
    assert sorted((HUMAN_REQUIRED | WATCH) - names) == []


@pytest.mark.parametrize("name", sorted(HUMAN_REQUIRED))
def test_grave_topics_escalate_at_once(name: str) -> None:
    rule = _rule(name)
    assert rule.human_required
    assert rule.consequence >= POLICY.matrix.human_required_consequence


@pytest.mark.parametrize("name", sorted(WATCH))
def test_watch_topics_are_high_stakes_but_do_not_escalate_alone(name: str) -> None:
    rule = _rule(name)
    assert not rule.human_required
    assert POLICY.matrix.watch_consequence <= rule.consequence
    assert rule.consequence < POLICY.matrix.human_required_consequence
    assert rule.emotional_load < POLICY.matrix.watch_emotional_load


def test_every_phrase_follows_the_conventions() -> None:
    # A leading \b is shared by every phrase, so the combined search only tries phrases at
    # word boundaries; capturing groups would slow it down and are never needed.
    for topic in TOPICS:
        for phrase in topic.phrases:
            assert phrase.startswith(r"\b"), (topic.name, phrase)
            assert re.compile(phrase).groups == 0, (topic.name, phrase)


def test_hits_come_in_taxonomy_order_with_the_matched_words() -> None:
    text = "My card was stolen and then they charged me twice"
    hits = find_topics(text, TOPICS)
    assert [hit.rule.name for hit in hits] == ["lost_stolen_card", "billing_dispute"]
    assert hits[0].matched == "stolen"
    assert all(hit.matched in text.lower() for hit in hits)


def test_case_and_curly_apostrophes_are_folded() -> None:
    assert _names("I DIDN\u2019T MAKE THIS PAYMENT") == _names("i didn't make this payment")
    assert "fraud" in _names("I DIDN\u2019T MAKE THIS PAYMENT")


def test_a_grave_topic_and_a_watch_topic_can_both_match() -> None:
    names = _names("My flight was cancelled and my mother is in hospital")
    assert {"urgent_travel_disruption", "emergency"} <= set(names)


def test_an_empty_taxonomy_finds_nothing() -> None:
    assert find_topics("my card was stolen", []) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises_and_is_deterministic(text: str) -> None:
    first = [(hit.rule.name, hit.matched) for hit in find_topics(text, TOPICS)]
    second = [(hit.rule.name, hit.matched) for hit in find_topics(text, TOPICS)]
    assert first == second
    assert {name for name, _ in first} <= {topic.name for topic in TOPICS}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=80).map(" ".join))
def test_text_made_of_topic_words_never_raises_and_is_deterministic(text: str) -> None:
    first = [(hit.rule.name, hit.matched) for hit in find_topics(text, TOPICS)]
    second = [(hit.rule.name, hit.matched) for hit in find_topics(text, TOPICS)]
    assert first == second


ADVERSARIAL = {
    "lost": "lost " * 10_000,
    "card": "card " * 10_000,
    "payment didn't": "payment " + "didn't " * 7_143,
    "one long word": "a" * 50_000,
    "one long number": "want " + "9" * 50_000,
    "mixed": "card lost payment didn't cancel flight claim the $1 wrong " * 900,
    "no spaces": "cardlostpaymentclaim" * 2_500,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=list(ADVERSARIAL))
def test_long_adversarial_text_is_processed(text: str) -> None:
    # No timing assertion: a catastrophic pattern would not finish (the suite has a timeout).
    assert len(text) >= 50_000
    hits = find_topics(text, TOPICS)
    assert isinstance(hits, list)


_TOPIC_WORDS = sorted(
    {
        word
        for topic in default_policy().topics
        for word in topic.description.replace(",", " ").split()
    }
    | {"card", "charged", "twice", "claim", "denied", "stolen", "refund", "lawyer", "funeral"}
)


@given(
    st.lists(st.sampled_from([*_TOPIC_WORDS, "my", "the", "was", "i", "no", "'", "!"]), max_size=30)
)
def test_the_word_index_never_skips_a_topic_that_matches(words: list[str]) -> None:
    """The index is only a shortcut: it must find exactly what searching every topic finds."""
    taxonomy = Taxonomy(default_policy().topics)
    folded = normalise(" ".join(words))
    assert taxonomy.find(folded) == taxonomy.find_exhaustively(folded)


def test_every_topic_is_indexed_by_the_words_its_phrases_start_with() -> None:
    taxonomy = Taxonomy(default_policy().topics)
    assert taxonomy.candidates(normalise("please change my address")) == []
    fraud = [t.name for t in taxonomy.topics].index("fraud")
    assert fraud in taxonomy.candidates(normalise("this looks like fraud"))
