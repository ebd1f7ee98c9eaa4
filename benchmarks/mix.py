"""A seeded, realistic mix of chat events: many concurrent sessions, mostly routine.

About 94% of sessions are routine (order status, address change, opening hours, a fixed
refund); the rest are the cases escalator exists for (billing loops, requests for a person,
denied claims, fraud). Sessions interleave the way live traffic does.
"""

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

ROUTINE: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("customer", "Hi, where is my order {order}?"),
        ("bot", "Your order {order} was dispatched yesterday and arrives on {day}."),
        ("customer", "Great, thanks!"),
    ),
    (
        ("customer", "I moved, can I change my delivery address?"),
        ("bot", "Sure, what is the new address?"),
        ("customer", "{street} Street, flat {n}"),
        ("action", "update_address:succeeded"),
        ("bot", "Done, your address is now {street} Street, flat {n}."),
        ("customer", "perfect thank you"),
    ),
    (
        ("customer", "What time does the store on {street} Street open on {day}?"),
        ("bot", "It opens at 9am and closes at 6pm on {day}."),
        ("customer", "ok and is there parking?"),
        ("bot", "Yes, there is free parking behind the store."),
    ),
    (
        ("customer", "The mug in order {order} arrived chipped, can I get a refund?"),
        ("bot", "Sorry about that! I can refund the mug ({amount}) right away."),
        ("action", "issue_refund:succeeded"),
        ("bot", "Done, {amount} is on its way back to your card."),
        ("customer", "Thanks, that was easy"),
    ),
)
ESCALATING: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("customer", "I was charged twice for order {order}, {amount} two times."),
        ("bot", "I can see how frustrating this must be. See https://help.example.com/billing"),
        ("customer", "That page does not help. I need the duplicate {amount} refunded."),
        ("bot", "I can see how frustrating this must be. See https://help.example.com/billing"),
        ("customer", "This is ridiculous, I already told you twice!!"),
    ),
    (
        ("customer", "My card was used for payments I did not make"),
        ("bot", "I'm sorry to hear that. Let me check your recent transactions."),
    ),
    (
        ("customer", "Hello, can I talk to a real person please?"),
        ("bot", "Let me find someone for you."),
    ),
    (
        ("customer", "My claim for physiotherapy was denied and I can't afford to pay for it"),
        ("bot", "I'm sorry to hear that. Claims are reviewed within 30 days."),
    ),
)
STREETS = ("Oak", "Elm", "Mill", "Station", "Church", "Park", "High")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
ESCALATING_SHARE = 0.06
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        order=rng.randint(100_000, 999_999),
        day=rng.choice(DAYS),
        street=rng.choice(STREETS),
        n=rng.randint(1, 40),
        amount=f"£{rng.randint(5, 300)}.{rng.randint(0, 99):02d}",
    )


def _session_events(
    session: str, script: tuple[tuple[str, str], ...], rng: random.Random
) -> list[dict[str, Any]]:
    events = []
    for turn, (role, template) in enumerate(script):
        event: dict[str, Any] = {
            "event_id": f"{session}-{turn}",
            "session_id": session,
            "type": "message",
        }
        if role == "action":
            name, status = template.split(":")
            event.update(type="action", role="bot", action={"name": name, "status": status})
        else:
            event.update(role=role, text=_fill(template, rng))
        events.append(event)
    return events


def generate(
    sessions: int, seed: int = 7, concurrent: int = 2_000, start: datetime = DEFAULT_START
) -> Iterator[dict[str, Any]]:
    """Events of ``sessions`` conversations, about ``concurrent`` of them open at any time,
    the first at ``start`` (the worker's clock ticks compare event times with the wall clock,
    so runs through a worker start near it)."""
    rng = random.Random(seed)
    clock = start
    pending: list[list[dict[str, Any]]] = []
    started = 0
    while started < sessions or pending:
        while started < sessions and len(pending) < concurrent:
            scripts = ESCALATING if rng.random() < ESCALATING_SHARE else ROUTINE
            pending.append(_session_events(f"s{seed}-{started}", rng.choice(scripts), rng))
            started += 1
        index = rng.randrange(len(pending))
        event = pending[index].pop(0)
        if not pending[index]:
            pending[index] = pending[-1]
            pending.pop()
        clock += timedelta(milliseconds=rng.randint(1, 40))
        event["ts"] = clock.isoformat().replace("+00:00", "Z")
        yield event


def generate_lines(sessions: int, seed: int = 7, concurrent: int = 2_000) -> list[bytes]:
    """The mix as JSON records, as they would arrive from Kafka."""
    return [json.dumps(event).encode() for event in generate(sessions, seed, concurrent)]


def opening_session_id(number: int) -> str:
    """The session id of ``opening_events``' session ``number`` (from 0)."""
    return f"m-{number}"


def opening_events(sessions: int, start: datetime, seed: int = 11) -> Iterator[dict[str, Any]]:
    """Two routine events per session (the customer's question, the bot's answer), sessions
    one after another: state for ``sessions`` open sessions, none of them escalating."""
    rng = random.Random(seed)
    script = ROUTINE[0][:2]
    clock = start
    for number in range(sessions):
        for event in _session_events(opening_session_id(number), script, rng):
            clock += timedelta(microseconds=rng.randint(100, 2_000))
            event["ts"] = clock.isoformat().replace("+00:00", "Z")
            yield event
