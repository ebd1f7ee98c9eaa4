"""The consequence taxonomy of the shipped policy (workers.decision.topics.find_topics).

Every example here was written for this file; none is taken from a public data set.
"""

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workers.decision.policy import TopicRule, default_policy
from workers.decision.text import normalise
from workers.decision.text import words as text_words
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
        "If this isn't sorted I'll ask my bank to reverse it",
        "Then I will go to my credit card company",
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
        "they are refusing the pre-authorisation for my scan",
        "they are refusing to approve my radiotherapy",
        "the insurer won't approve the surgery my doctor ordered",
        "they refuse the aproval for my treatement",
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
        "my mum passed last week and her card is still being charged",
        "My father is died in january, who do I tell",
        "I'm the executor of my aunt's estate",
        "my husband is no longer with us",
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
        "I am going to report your company to the consumer protection agency",
        "I'll be contacting the FTC about this",
    ],
    "vulnerability": [
        "I can't afford food this week after you took that payment",
        "I don't feel safe at home",
        "We're about to be evicted",
        "That overdraft charge means I cant buy food for my boy until friday",
        "after the fee there is no money left for nappies",
        "i dont have enough money to pay for heating this month",
        "Since I was laid off we skip meals so the kids can eat",
        "my universal credit was stopped and now the rent is due",
        "I am behind with my rent for two months",
        "We will not eat this week if you take this payment",
        "I lost my job in March and my children are without heating",
        "how am i supposed to feed my three kids now",
        "this charge left me with nothing",
        "the boiler is broken and we have a newborn at home",
        "my wages got cut and I'm drowning in debt",
    ],
    "self_harm": [
        "I've been having thoughts of suicide",
        "whats my balance. honestly I cant go on like this",
        "i dont see the point in living anymore",
        "Everyone would be better off without me",
        "I keep thinking about ending it",
        "sometimes i want to disappear forever",
        "doesn't matter, I won't be around much longer anyway",
        "I might hurt myself tonight",
        "i not want live anymore, everything is too much",
        "I am thinking to kill my self",
        "i feel like sucide is the only way",
        "what is the point of being alive",
    ],
    "abuse": [
        "My partner is abusive and controls all our money",
        "My ex husband controls my bank account and won't let me have my own money",
        "he took out two loans in my name while we were together",
        "I'm scared of my husband finding out I called",
        "I am afraid of my partner, please don't send letters home",
        "my boyfriend forced me to take out the credit card",
        "I'm a victim of financial abuse",
        "He's violent and I'm scared he will find me",
        "my ex uses the app to track where I am",
    ],
    "health_safety": [
        "My son's inhaler still hasn't arrived and he has asthma",
        "the insulin order for my daughter never came",
        "We have run out of my mother's heart medication",
        "Her prescription is late again, she has no meds left",
        "The chemotherapy was postponed because the payment is on hold",
        "pharmacy say the insurance not cover the insulin for my girl",
        "his inhaler was supposed to come monday, he has one left",
        "My husband is on an oxygen machine and you want to cut off our electricity",
        "I can smell gas in the flat",
        "My son had an allergic reaction to the meal",
    ],
    "identity_theft": [
        "a credit card was opened in my name",
        "There are accounts on my credit report that I never opened",
        "somebody applied for a loan using my details",
        "Someone has taken out a phone contract in my name",
        "Fraudsters opened a bank account with my identity",
        "I think someone is impersonating me",
        "my identity was stolen last year and now this",
        "a loan I never applied for",
    ],
    "account_closure": [
        "Could you close my account, please?",
        "Please cancel my subscription today",
        "I'm switching to another bank",
        "I'll take my business elsewhere",
        "fix it or I'm leaving your bank",
        "cancel everything, I'm going elsewhere",
        "I am going to find another bank",
        "Time to switch banks I think",
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
    # Other senses of the words of the newer topics.
    "I can't buy groceries with my card, it keeps getting declined",
    "Can I use my card to buy food at the airport?",
    "I can't go on the website, it says error",
    "Is there any point in upgrading to premium?",
    "I don't want to live in the city anymore, can I change my address?",
    "My phone is dead, can you email me?",
    "My son passed his driving test, can I add him as a driver?",
    "I'm leaving for the airport now",
    "How do I leave you a review?",
    "Can I open an account in my name and my wife's name?",
    "I want to open an account in my name",
    "Is the account in my name?",
    "Can I set up a savings pot for my kids?",
    "I'd like to feed back on the new app",
    "Do you sell life insurance?",
    "I took my life savings out last year and bought a house",
    "my colleague ordered the medication for the office first aid kit",
    "What time does the pharmacy open?",
    "I need to transfer money to my ex for the kids",
    "The payment was on hold for a day but it went through",
    "",
]

HUMAN_REQUIRED = {
    "self_harm",
    "abuse",
    "health_safety",
    "identity_theft",
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
    # With the message's tokens at hand the index reads them instead of scanning again.
    assert taxonomy.find(folded, text_words(folded)) == taxonomy.find_exhaustively(folded)


def _glued(words: list[str]) -> str:
    """Words joined by apostrophes, spaces, underscores and hyphens in turn."""
    return "".join(f"{word}{sep}" for word, sep in zip(words, "' _-" * 3, strict=False))


@given(
    st.lists(
        st.sampled_from([*_TOPIC_WORDS, "can't", "_", "card_", "rock'n'roll", "café", "é", "'s"]),
        max_size=12,
    ).map(
        lambda words: "".join(f"{word}{sep}" for word, sep in zip(words, "' _-" * 3, strict=False))
    )
)
def test_the_word_index_reads_tokens_as_it_reads_the_text(text: str) -> None:
    taxonomy = Taxonomy(default_policy().topics)
    folded = normalise(text)
    assert taxonomy.find(folded, text_words(folded)) == taxonomy.find_exhaustively(folded)


def test_every_topic_is_indexed_by_the_words_its_phrases_start_with() -> None:
    taxonomy = Taxonomy(default_policy().topics)
    assert taxonomy.candidates(normalise("please change my address")) == []
    fraud = [t.name for t in taxonomy.topics].index("fraud")
    assert fraud in taxonomy.candidates(normalise("this looks like fraud"))


# -- hypothetical questions ------------------------------------------------------------------

HYPOTHETICAL = [
    "what if my card is stolen?",
    "What happens if somebody uses my card abroad",
    "do you cover fraud?",
    "how do I report a lost card if it happens",
    "If my phone is ever stolen, am I covered?",
    "does the travel policy cover a cancelled flight?",
    "How would I report fraud on a business account",
    "am I protected if someone hacks my account?",
    "In case my wallet gets stolen, how do I block my card?",
    "Before I apply, what fraud protection does your card have?",
    "what if somebody used my card online without me knowing?",
    "what happen if my card is stolen when i travel",
    "Hi. If a payment is charged twice, is there protection?",
    "Do you offer bereavement fares, just planning ahead",
    "Quick question, what happens if my flight is cancelled?",
]

REAL_QUESTIONS = [
    ("what do I do, my card was stolen", "lost_stolen_card"),
    ("my card got stolen, what now?", "lost_stolen_card"),
    ("what if someone used my card? there are 3 payments I don't know", "fraud"),
    ("What should I do if someone else used my card?", "fraud"),
    ("What do I do if the ATM took my card?", "lost_stolen_card"),
    ("what if I've lost my card? I cant find it since yesterday", "lost_stolen_card"),
    ("If you don't refund me I'll go to the ombudsman", "legal_threat"),
    ("what happens if I can't pay my rent this month", "vulnerability"),
    ("what if i just ended it all", "self_harm"),
    ("Do you cover fraud? Someone has used my card in a shop I never visited", "fraud"),
    ("I've been scammed, am I covered for fraud?", "fraud"),
    ("My mother is in hospital, what happens if I miss the flight?", "emergency"),
    ("what happens if my son's insulin doesn't arrive by Friday", "health_safety"),
]


@pytest.mark.parametrize("text", HYPOTHETICAL)
def test_hypothetical_questions_are_not_incidents(text: str) -> None:
    assert _names(text) == []


@pytest.mark.parametrize(("text", "topic"), REAL_QUESTIONS)
def test_real_reports_phrased_as_questions_still_count(text: str, topic: str) -> None:
    assert topic in _names(text)


# Words with no past form, no "i"/"we", no sentence end and no intention, so "what if " + any
# of their sequences is one hypothetical sentence that reports nothing.
_PRESENT_WORDS = [
    "my", "the", "a", "card", "cards", "is", "stolen", "lost", "payment", "transaction",
    "fraud", "someone", "uses", "account", "twice", "refund", "claim", "denied", "flight",
    "cancelled", "phone", "wallet", "scam", "not", "recognise", "dispute", "atm", "cash",
    "money", "back", "unauthorised", "charge", "abroad", ",",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@example("fraud fraud fraud fraud fraud fraud fraud fraud fraud unauthorised")
@given(st.lists(st.sampled_from(_PRESENT_WORDS), min_size=1, max_size=25).map(" ".join))
def test_a_hypothetical_frame_with_nothing_reported_yields_no_incident(text: str) -> None:
    hits = find_topics("what if " + text + "?", TOPICS)
    exempt = [hit for hit in hits if hit.rule.emotional_load >= 0.9]
    assert hits == [] or exempt != []
