"""The cases that motivate escalator, and the timing rules: escalate at the earliest turn the
evidence justifies, and no earlier."""

from datetime import UTC, datetime, timedelta

from schemas.escalation import Escalation, ReasonCode
from schemas.events import ActionEvent, ActionOutcome, ActionStatus, MessageEvent, Role
from schemas.trace import TraceRecord, Verdict
from workers.decision import DecisionEngine, SessionState

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Event = MessageEvent | ActionEvent


class Chat:
    """Builds one session's events in order."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.events: list[Event] = []

    def _next(self) -> tuple[str, datetime]:
        n = len(self.events) + 1
        return f"{self.session}-{n:02d}", START + timedelta(seconds=15 * n)

    def _message(self, role: Role, text: str) -> "Chat":
        event_id, ts = self._next()
        self.events.append(
            MessageEvent(
                event_id=event_id,
                session_id=self.session,
                ts=ts,
                type="message",
                role=role,
                text=text,
            )
        )
        return self

    def customer(self, text: str) -> "Chat":
        return self._message(Role.CUSTOMER, text)

    def bot(self, text: str) -> "Chat":
        return self._message(Role.BOT, text)

    def action(self, name: str, status: ActionStatus) -> "Chat":
        event_id, ts = self._next()
        self.events.append(
            ActionEvent(
                event_id=event_id,
                session_id=self.session,
                ts=ts,
                type="action",
                role=Role.BOT,
                action=ActionOutcome(name=name, status=status),
            )
        )
        return self

    def run(self) -> list[TraceRecord]:
        engine = DecisionEngine()
        state: SessionState | None = None
        traces = []
        for event in self.events:
            outcome = engine.apply(state, event)
            state = outcome.state
            traces.append(outcome.trace)
        return traces


def first_escalation(traces: list[TraceRecord]) -> tuple[int, Escalation] | None:
    """Index (1-based, as in the event ids) and escalation of the first escalating event."""
    for index, trace in enumerate(traces, start=1):
        if trace.escalation is not None:
            return index, trace.escalation
    return None


LINK = "https://help.example.com/billing-faq"
EMPATHY = f"I can see how frustrating this must be. You can find help with billing here: {LINK}"


def test_a_billing_dispute_met_with_sympathy_and_a_help_link_goes_to_a_person() -> None:
    chat = (
        Chat("billing")
        .customer("Hi, I was charged twice for my March invoice, 49.99 taken two times.")  # 01
        .bot(EMPATHY)  # 02
        .customer("The page doesn't cover this. I need the second 49.99 payment reversed.")  # 03
    )
    traces = chat.run()
    assert traces[0].matrix.verdict is Verdict.WATCH
    found = first_escalation(traces)
    assert found is not None
    index, escalation = found
    assert index == 2, "the watch does not end with sympathy and a link: that reply escalates"
    assert escalation.reasons == [ReasonCode.HIGH_STAKES, ReasonCode.LOOP]
    assert escalation.queue == "billing"
    added = {item.cue: item.contribution for item in escalation.evidence}
    assert added["deflected:link"] == 0.55
    assert added["topic:billing_dispute"] == 0.8 * 0.6
    assert sum(value or 0.0 for value in added.values()) == traces[1].evidence_score >= 1.0


def test_a_refund_question_answered_with_a_link_stays_with_the_bot() -> None:
    """Less at stake (refund, consequence 0.5) than a dispute: a link alone is not enough."""
    traces = (
        Chat("refund-link")
        .customer("How do I get a refund for an order I returned last week?")
        .bot(f"You can request a refund from your orders page, here is how: {LINK}")
        .run()
    )
    assert traces[1].evidence_score == 0.95  # high stakes 0.8 x 0.5, deflection 0.55
    assert first_escalation(traces) is None


def test_denied_medical_claim_goes_to_a_person_at_once() -> None:
    chat = Chat("claim").customer(
        "My claim for my daughter's surgery was denied and the hospital wants 8,000 by Friday."
    )
    found = first_escalation(chat.run())
    assert found is not None
    index, escalation = found
    assert index == 1
    assert escalation.reasons[0] is ReasonCode.HIGH_STAKES
    assert (escalation.queue, escalation.priority) == ("claims", 1)
    assert chat.run()[0].matrix.verdict is Verdict.HUMAN_REQUIRED


def test_cancelled_flight_during_a_family_emergency_goes_to_a_person_at_once() -> None:
    chat = Chat("flight").customer(
        "My flight tonight was cancelled and I have a family emergency, I need to get home."
    )
    traces = chat.run()
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 1
    assert {"urgent_travel_disruption", "emergency"} <= set(traces[0].matrix.topics)
    assert found[1].priority == 1


def test_a_cancelled_flight_alone_is_watched_not_escalated() -> None:
    traces = (
        Chat("rebook")
        .customer("My flight on Friday was cancelled, can you rebook me?")
        .bot("Of course. I found a seat on the 10:40 flight on Saturday. Shall I book it?")
        .customer("Yes please.")
        .action("rebook_flight", ActionStatus.SUCCEEDED)
        .bot("Done, you're booked on the 10:40 on Saturday. Your new boarding pass is in the app.")
        .customer("Thanks!")
        .run()
    )
    assert traces[0].matrix.verdict is Verdict.WATCH
    assert first_escalation(traces) is None


def test_change_of_address_stays_automated() -> None:
    traces = (
        Chat("address")
        .customer("Hi, I moved house. Can I change my address?")
        .bot("Sure! What is your new address?")
        .customer("14 Elm Road, Leeds LS6 2AB")
        .action("update_address", ActionStatus.SUCCEEDED)
        .bot("Done: your address is now 14 Elm Road, Leeds LS6 2AB.")
        .customer("Great, thanks a lot")
        .run()
    )
    assert first_escalation(traces) is None
    assert all(trace.matrix.verdict is Verdict.AI_SAFE for trace in traces)
    assert all(not trace.signals for trace in traces)


def test_a_billing_problem_the_bot_fixes_is_not_escalated() -> None:
    traces = (
        Chat("fixed")
        .customer("I was charged twice for order 55120, can you refund one of them?")
        .bot(
            "I'm sorry about that. I can see two payments of 20.00 for order 55120. "
            "Refunding one now."
        )
        .action("issue_refund", ActionStatus.SUCCEEDED)
        .bot("Done: 20.00 is on its way back to your card, it takes 3 to 5 days.")
        .customer("Perfect, thank you")
        .run()
    )
    assert traces[0].matrix.verdict is Verdict.WATCH
    assert first_escalation(traces) is None


def test_an_explicit_request_escalates_at_once() -> None:
    traces = Chat("ask").customer("Can I talk to a real person please?").run()
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 1
    assert found[1].reasons == [ReasonCode.HUMAN_REQUESTED]


def test_a_negated_request_does_not_escalate() -> None:
    traces = (
        Chat("fine")
        .customer("Where is my parcel?")
        .bot("It is out for delivery and arrives today before 6pm.")
        .customer("Great, no need for an agent then, thanks")
        .run()
    )
    assert first_escalation(traces) is None


def test_loop_escalates_on_the_second_restatement_not_the_first() -> None:
    problem = "The tracking page for my parcel shows an error message when I open it"
    traces = (
        Chat("restate")
        .customer(problem)  # 01
        .bot("Tracking is usually available a few hours after dispatch.")  # 02
        .customer("The tracking page for my parcel shows an error message when I open it.")  # 03
        .bot("Have you tried opening it in another browser?")  # 04
        .customer("When I open the tracking page for my parcel it shows an error message")  # 05
        .run()
    )
    found = first_escalation(traces)
    assert ReasonCode.LOOP in traces[2].signals, "the first restatement is seen"
    assert found is not None
    assert found[0] == 5
    assert found[1].reasons == [ReasonCode.LOOP]
    assert [item.event_id for item in found[1].evidence] == ["restate-03", "restate-05"]


def test_loop_escalates_on_the_bots_third_near_identical_reply() -> None:
    reply = "You can manage your subscription settings from the Account page in the app."
    traces = (
        Chat("bot-loop")
        .customer("How do I pause my subscription for a month?")  # 01
        .bot(reply)  # 02
        .customer("I looked there, there is no pause option")  # 03
        .bot(reply)  # 04
        .customer("Is there another way to pause it?")  # 05
        .bot(reply)  # 06
        .run()
    )
    found = first_escalation(traces)
    assert found is not None
    assert found[0] == 6
    assert ReasonCode.LOOP in found[1].reasons


def test_the_bot_asking_again_for_something_already_given_is_a_loop() -> None:
    traces = (
        Chat("reask")
        .customer("My order 771234 arrived damaged")
        .bot("Sorry to hear that. What is your order number?")
        .run()
    )
    assert ReasonCode.LOOP in traces[1].signals


def test_the_same_action_failing_again_is_a_capability_gap() -> None:
    chat = (
        Chat("gap")
        .customer("Please cancel my appointment on Tuesday")
        .action("cancel_appointment", ActionStatus.FAILED)  # 02
        .bot("Something went wrong, let me try again.")
    )
    assert first_escalation(chat.run()) is None, (
        "one failure in a low-stakes chat: the bot may retry"
    )
    chat.action("cancel_appointment", ActionStatus.FAILED)  # 04
    found = first_escalation(chat.run())
    assert found is not None
    assert found[0] == 4
    assert found[1].reasons == [ReasonCode.CAPABILITY_GAP]


def test_refusals_and_not_permitted_actions_are_capability_gaps() -> None:
    traces = (
        Chat("refuse")
        .customer("Can you waive the late fee on my account?")
        .bot("I'm not able to waive fees.")
        .action("waive_fee", ActionStatus.NOT_PERMITTED)
        .run()
    )
    assert ReasonCode.CAPABILITY_GAP in traces[1].signals
    assert ReasonCode.CAPABILITY_GAP in traces[2].signals
