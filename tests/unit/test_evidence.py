"""Weak signals that add up, say-do mismatches, and the contribution every piece of evidence
carries (policy [evidence])."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.escalation import ReasonCode
from schemas.events import ActionStatus
from schemas.trace import TraceRecord
from tests.unit.test_seed_cases import Chat, first_escalation
from workers.decision import DecisionEngine, SessionState, loops
from workers.decision.policy import EvidenceKind, EvidencePolicy, Policy, parse_policy
from workers.decision.text import normalise
from workers.redaction import Redactor

ORDER = "Hi, where is my order 88231? Tracking has shown the same status since Monday."
ASK_AGAIN = "Could you please provide your order number so I can look into this?"
TROUBLESHOOT = "Please restart your router and wait two minutes before trying again."


def run(chat: Chat, policy: Policy | None = None) -> list[TraceRecord]:
    engine = DecisionEngine(policy)
    state: SessionState | None = None
    traces = []
    for event in chat.events:
        outcome = engine.apply(state, event)
        state = outcome.state
        traces.append(outcome.trace)
    return traces


def cues(traces: list[TraceRecord]) -> dict[str, float | None]:
    found = first_escalation(traces)
    assert found is not None
    return {item.cue: item.contribution for item in found[1].evidence}


def test_asked_again_and_saying_so_adds_up_on_that_turn() -> None:
    chat = (
        Chat("again")
        .customer(ORDER)  # 01
        .bot(ASK_AGAIN)  # 02: the bot asks for what it was given
        .customer("I already gave you the order number, it is in my first message!")  # 03
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    index, escalation = found
    assert index == 3
    assert escalation.reasons == [ReasonCode.LOOP]
    added = cues(traces)
    assert added["asks_again:order_number"] == 0.5
    assert added["says:i already gave"] == 0.5
    assert sum(value or 0.0 for value in added.values()) >= 1.0


def test_each_weak_signal_alone_stays_with_the_bot() -> None:
    asked_again_only = Chat("ask").customer(ORDER).bot(ASK_AGAIN).customer("It is 88231.")
    annoyed_only = (
        Chat("annoyed")
        .customer(ORDER)
        .bot("Let me check.")
        .customer("This is really not helpful at all")
    )
    for chat in (asked_again_only, annoyed_only):
        traces = run(chat)
        assert first_escalation(traces) is None
        assert traces[-1].evidence_score < 1.0


def test_the_same_link_twice_and_the_customer_pointing_it_out_adds_up() -> None:
    link = "https://help.example.com/delivery"
    chat = (
        Chat("link")
        .customer(ORDER)  # 01
        .bot(f"You can track deliveries here: {link}")  # 02
        .customer("The tracking page has not changed for four days.")  # 03
        .bot(f"Delivery questions are answered here: {link}")  # 04: the same link
        .customer("You keep sending me the same link.")  # 05
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 5
    added = cues(traces)
    assert added[f"same_link:{link}"] == 0.5
    assert added["says:you keep sending"] == 0.5


def test_anger_right_after_the_bot_repeats_itself_adds_up() -> None:
    chat = (
        Chat("router")
        .customer("My internet keeps dropping every few minutes since yesterday.")  # 01
        .bot(TROUBLESHOOT)  # 02
        .customer("Done that, it still drops.")  # 03
        .bot(TROUBLESHOOT)  # 04: the same step again
        .customer("THIS IS RIDICULOUS, I ALREADY DID THAT")  # 05
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 5
    assert found[1].reasons == [ReasonCode.FRUSTRATION, ReasonCode.LOOP]


def test_a_raised_threshold_leaves_each_signal_to_its_own_rule() -> None:
    policy = parse_policy("[evidence]\nthreshold = 5.0\n")
    chat = (
        Chat("router")
        .customer("My internet keeps dropping every few minutes since yesterday.")
        .bot(TROUBLESHOOT)
        .customer("Done that, it still drops.")
        .bot(TROUBLESHOOT)
        .customer("THIS IS RIDICULOUS, I ALREADY DID THAT")
    )
    traces = run(chat, policy)
    assert first_escalation(traces) is None
    assert traces[-1].evidence_score >= 1.0  # scored, but below the raised threshold


def test_the_customer_alone_is_context_a_bot_reply_counts_once() -> None:
    """Anger and restating on one turn are scored, but add up only beside a sign that the
    bot is failing; a repeated empathetic reply is one reply, not a repeat plus hollow
    empathy."""
    angry_restating = run(
        Chat("c")
        .customer(ORDER)
        .bot("Let me check.")
        .customer("I already told you, tracking has not moved since Monday!! This is useless.")
    )
    assert angry_restating[-1].evidence_score >= 1.0
    assert first_escalation(angry_restating) is None
    empathy = "I understand how frustrating this must be. We are looking into it."
    repeated_empathy = run(Chat("b").customer(ORDER).bot(empathy).bot(empathy))
    assert repeated_empathy[-1].evidence_score == 0.5
    assert first_escalation(repeated_empathy) is None


def test_frustration_on_a_consequential_topic_is_context_not_a_trigger() -> None:
    """An upset customer on a billing topic is the watch verdict's case: no sign yet that
    the bot is failing, so the two context kinds do not add up on their own."""
    traces = run(Chat("upset").customer("I was charged twice and I am really annoyed about it!"))
    assert traces[0].evidence_score >= 1.0
    assert first_escalation(traces) is None


def test_say_do_mismatch_is_a_capability_gap_at_once() -> None:
    chat = (
        Chat("saydo")
        .customer("Please move my delivery for order 55121 to Friday morning.")  # 01
        .action("change_delivery_slot", ActionStatus.FAILED)  # 02
        .bot("Your delivery has been rescheduled to Friday. Is there anything else?")  # 03
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    index, escalation = found
    assert index == 3
    assert escalation.reasons == [ReasonCode.CAPABILITY_GAP]
    evidence = [(item.event_id, item.cue, item.contribution) for item in escalation.evidence]
    assert evidence == [
        ("saydo-02", "action_failed:change_delivery_slot", 0.5),
        ("saydo-03", "say_do:change_delivery_slot", 0.5),
    ]


def test_a_claim_after_a_retry_that_succeeded_is_true() -> None:
    chat = (
        Chat("retry")
        .customer("Please move my delivery for order 55121 to Friday morning.")
        .action("change_delivery_slot", ActionStatus.FAILED)
        .action("change_delivery_slot", ActionStatus.SUCCEEDED)
        .bot("Your delivery has been rescheduled to Friday. Is there anything else?")
        .customer("No, that's all, thanks!")
    )
    assert first_escalation(run(chat)) is None


def test_a_claim_about_an_earlier_exchange_is_not_checked_against_an_old_failure() -> None:
    chat = (
        Chat("old")
        .customer("Can you update my delivery address to 4 Elm Road?")
        .action("update_address", ActionStatus.FAILED)
        .bot("I could not update it automatically; please use the form in your account.")
        .customer("Ok I did it in the form. Can you resend the invoice to my email?")
        .bot("Your invoice has been sent to the email address on file.")
    )
    traces = run(chat)
    assert first_escalation(traces) is None


def test_every_escalation_says_what_each_piece_of_evidence_added() -> None:
    chat = (
        Chat("all")
        .customer("I want to talk to a human about the double charge on my card.")
        .bot("Sure, let me connect you.")
    )
    found = first_escalation(run(chat))
    assert found is not None
    escalation = found[1]
    assert all(item.contribution is not None for item in escalation.evidence)
    request = [e for e in escalation.evidence if e.reason is ReasonCode.HUMAN_REQUESTED]
    assert [e.contribution for e in request] == [1.0]  # reached its own threshold alone


def test_evidence_weights_are_validated_and_merged_with_the_defaults() -> None:
    policy = EvidencePolicy.model_validate({"weights": {"bot_repeat": 0.9}})
    assert policy.weights[EvidenceKind.BOT_REPEAT] == 0.9
    assert policy.weights[EvidenceKind.RESTATEMENT] == 0.5
    with pytest.raises(ValueError, match="negative: bot_repeat"):
        EvidencePolicy.model_validate({"weights": {"bot_repeat": -1}})


TEXTS = [
    ORDER,
    ASK_AGAIN,
    TROUBLESHOOT,
    "I already told you that.",
    "THIS IS USELESS",
    "Thanks, that's all.",
    "I was charged twice for my subscription.",
    "I can see how frustrating this must be. See https://help.example.com/x",
    "Your refund has been processed.",
    "I'm sorry, I can't do that.",
]
STEP = st.one_of(
    st.tuples(st.sampled_from(["customer", "bot"]), st.sampled_from(TEXTS)),
    st.tuples(st.just("action"), st.sampled_from(list(ActionStatus))),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=14))
def test_scores_and_contributions_hold_for_any_conversation(
    steps: list[tuple[str, object]],
) -> None:
    chat = Chat("any")
    for role, value in steps:
        if role == "action":
            assert isinstance(value, ActionStatus)
            chat.action("refund", value)
        elif role == "customer":
            chat.customer(str(value))
        else:
            chat.bot(str(value))
    traces = run(chat)
    threshold = Policy().evidence.threshold
    for trace in traces:
        assert trace.evidence_score >= 0.0
        if trace.escalation is None:
            continue
        evidence = trace.escalation.evidence
        assert all(item.contribution is not None for item in evidence)
        added = sum(item.contribution or 0.0 for item in evidence)
        assert added >= threshold - 1e-3, "what decided an escalation reaches the threshold"


def test_records_written_before_contributions_still_load() -> None:
    """Packets, traces and stored states from before [evidence] stay valid: the new fields
    have defaults."""
    traces = run(Chat("old").customer("Can I talk to a real person please?"))
    escalation = traces[0].escalation
    assert escalation is not None
    packet = escalation.model_dump(mode="json")
    for item in packet["evidence"]:
        del item["contribution"]
    trace = traces[0].model_dump(mode="json", exclude={"evidence_score"})
    trace["escalation"] = packet
    old = TraceRecord.model_validate(trace)
    assert old.evidence_score == 0.0
    assert all(item.contribution is None for item in old.escalation.evidence)  # type: ignore[union-attr]
    state = DecisionEngine().apply(None, Chat("s").customer("hello").events[0]).state
    stored = state.to_json_dict()
    stored.pop("exchange", None)
    stored.pop("succeeded_at_turn", None)
    assert SessionState.from_json_dict(stored).exchange == []


@pytest.mark.parametrize(
    "text",
    [
        "I don't need you to understand how I feel, I need the price fixed.",
        "i dont need the policy, i need my 90 back",
        "I already read that page, twice.",
        "That doesn't answer my question.",
        "this is not answer for my problem",
        "you say sorry sorry but nothing happen. who fix this?",
        "So who can?",
        "Who can remove it then?",
        "So... is anyone going to find it?",
        "will somebody actually look at this",
        "Is anything being done about it?",
    ],
)
def test_the_customer_saying_the_reply_does_not_help(text: str) -> None:
    assert loops.REJECTS_REPLY.search(normalise(text)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "That time doesn't work for me, is there anything later?",
        "I don't need a taxi, thanks.",
        "Who can I talk to about parking?",
        "The page says to contact you.",
        "no, I said the 14th",
        "Is it going to rain?",
        "Will someone be at the reception at 9?",
    ],
)
def test_ordinary_turns_do_not_reject_the_reply(text: str) -> None:
    assert loops.REJECTS_REPLY.search(normalise(text)) is None


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Booking code I write already, QX7TRL.", True),
        ("This is same link like before, is not answer", True),
        ("You asked me that already", True),
        ("I wrote it 3 times now", True),
        ("I want the same thing as last time", False),
        ("It is the same as last week", False),
    ],
)
def test_restatement_cues_in_plain_and_non_native_english(text: str, cue: bool) -> None:
    assert (loops.RESTATEMENT_CUES.search(normalise(text)) is not None) is cue


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("Your refund has been processed and will arrive in 3-5 days.", True),
        ("A credit of 20 has been added to your account.", True),
        ("Done! I've cancelled your order.", True),
        ("Your refund is on its way.", True),
        ("I'm sorry, I can't do that.", False),
        ("Let me try to cancel it for you.", False),
    ],
)
def test_success_claims(text: str, claims: bool) -> None:
    assert loops.bot_reply(text, 24, Redactor()).claims_success is claims


def test_a_confirmation_that_repeats_the_value_is_not_asking_again() -> None:
    chat = (
        Chat("confirm")
        .customer("I need a car from March 4th at 6pm, pick up at the airport.")
        .bot("Please confirm: a car from March 4th at 6 pm at the airport?")
        .bot("What will be your drop off date?")
    )
    traces = run(chat)
    assert ReasonCode.LOOP not in traces[1].signals
    assert ReasonCode.LOOP in traces[2].signals  # a date was given; this asks for it again


def test_sarcasm_right_after_the_bot_repeats_itself_adds_up() -> None:
    reply = "Bills can be higher in winter. Learn more: https://help.example.com/bills"
    chat = (
        Chat("sarcasm")
        .customer("My bill is three times the usual amount this month.")
        .bot(reply)
        .customer("It's not winter usage, the meter reading was ignored.")
        .bot(reply)
        .customer("wow. amazing. so helpful. really loving this chat")
    )
    sincere = (
        Chat("sincere")
        .customer("My bill is three times the usual amount this month.")
        .bot("I've corrected the estimate with your meter reading: the bill is now 42.10.")
        .customer("wow. amazing. so helpful. really loving this chat")
    )
    found = first_escalation(run(chat))
    assert found is not None
    assert found[0] == 5
    assert "sarcasm_after_failure" in {item.cue for item in found[1].evidence}
    assert first_escalation(run(sincere)) is None


def test_empathy_rejected_after_hollow_empathy_adds_up() -> None:
    chat = (
        Chat("hollow")
        .customer("My monthly bill went up from 35 to 52 without any notice.")
        .bot("I'm sorry to hear that, I know unexpected changes can be really frustrating.")
        .customer("Can you put it back to 35? I never agreed to a new price.")
        .bot("I completely understand how you feel. Price changes can be upsetting.")
        .customer("I don't need you to understand how I feel, I need the price fixed.")
    )
    found = first_escalation(run(chat))
    assert found is not None
    assert found[0] == 5
    added = {item.cue.split(":")[0]: item.contribution for item in found[1].evidence}
    assert added["hollow_empathy"] == 0.5
    assert added["rejects"] == 0.5


def test_topics_left_to_their_phrases_are_not_added_by_the_model() -> None:
    """The shipped model reads "my order is late" as a refund (it learned refunds from banking
    data with no shop orders): the shipped policy leaves refunds to their phrases."""
    text = "my order is late"
    shipped = run(Chat("phrases").customer(text))
    assert shipped[0].matrix.topics == []
    trusting = parse_policy("[models]\nhigh_stakes_phrases_only = []\n")
    learned = run(Chat("model").customer(text), trusting)
    assert learned[0].matrix.topics == ["refund"]
    assert learned[0].signals == [ReasonCode.HIGH_STAKES]


def test_a_refusal_contested_by_the_customer_adds_up() -> None:
    """The bot may not do it, says so, and the customer asks who can: the bot lacks the
    authority the customer needs (a capability gap beside a rejected reply)."""
    chat = (
        Chat("waiver")
        .customer("Your app was down on the due date so I paid late, can you remove the fee?")
        .action("waive_fee", ActionStatus.NOT_PERMITTED)
        .bot("I'm not able to waive fees. Late fees apply when payment arrives after the due date.")
        .customer("But I couldn't pay because of your outage. Who can remove it?")
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 4
    added = cues(traces)
    assert added["rejects:who can remove it?"] == 0.5
    assert added["action_not_permitted:waive_fee"] == 0.5  # policy [evidence.weights]


def test_an_amount_given_again_beside_the_bot_repeating_itself_adds_up() -> None:
    timeline = "Transfers usually arrive within 2 working days."
    chat = (
        Chat("transfer")
        .customer("I sent 1,200 to my landlord on Monday and he hasn't received it.")
        .bot(timeline)
        .customer("Any idea where it is? The landlord is asking me every day.")
        .bot(timeline)  # 04: the same reply again
        .customer("Monday. 1,200. Not there. What is happening with my money?")  # 05
    )
    traces = run(chat)
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 5
    added = cues(traces)
    assert added["gives_again"] == 0.5
    assert any(cue.startswith("bot_repeat") for cue in added)


def test_a_fact_given_again_alone_stays_with_the_bot() -> None:
    chat = (
        Chat("booking")
        .customer("Can I move booking QX7TRL to Friday?")
        .bot("Friday has seats at 9:00 and 14:30. Which would you like?")
        .customer("14:30 please, booking QX7TRL.")
    )
    traces = run(chat)
    assert first_escalation(traces) is None
    assert traces[-1].evidence_score == 0.5


@pytest.mark.parametrize(
    ("earlier", "now", "shares"),
    [
        (["I sent 1,200 on Monday"], "Monday. 1,200. Not there.", True),
        (["my reference is CLM-55120"], "I told you, clm-55120", True),
        (["it took 3 days"], "now 3 weeks", False),  # short numbers are not facts given again
        (["I sent 1,200 on Monday"], "It was 1,250 actually", False),
        ([], "1,200", False),
    ],
)
def test_a_fact_given_again(earlier: list[str], now: str, shares: bool) -> None:
    def print_of(text: str) -> list[str]:
        return loops.fingerprint(normalise(text), 24)

    assert loops.shares_a_fact(print_of(now), [print_of(t) for t in earlier]) is shares
