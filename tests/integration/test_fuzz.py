"""A seeded storm of valid and hostile records through the real worker: every record is
accounted for, as an event or as a dead letter carrying the original bytes, and the worker
stays up and still escalates."""

import base64
import json
import random
import time
from collections import Counter
from typing import Any

import pytest

from schemas.dead_letter import DeadLetter, DeadLetterReason
from tests.support import Deployment, chat, wait_for
from workers.decision import DecisionEngine, SessionState
from workers.embedded.feed import Record
from workers.intake import RejectedRecordError, parse_record

pytestmark = pytest.mark.integration

SEED = 20260105
RECORDS = 3_000
SESSIONS = 200
MAX_BYTES = 64 * 1024  # the worker's defaults
MAX_WORD_CHARS = 1_000
WORDS = ["my", "order", "refund", "is", "late", "where", "thanks", "card", "please", "help", "why"]


def valid_event(rng: random.Random, index: int) -> dict[str, Any]:
    session = f"fz-{rng.randrange(SESSIONS)}"
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
    return chat(session, f"ev-{index}", text, rng.choice(["customer", "bot"]), index // 10)


def hostile(rng: random.Random, event: dict[str, Any]) -> Record:
    """One record of a randomly chosen kind of damage; the key is the session's unless said."""
    key = str(event["session_id"]).encode()
    kind = rng.randrange(11)
    if kind == 0:  # oversized
        return key, json.dumps({**event, "text": "x " * 40_000}).encode()
    if kind == 1:  # not UTF-8
        raw = json.dumps(event).encode()
        at = rng.randrange(len(raw))
        return key, raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + raw[at:]
    if kind == 2:  # not (strict) JSON
        raw = json.dumps(event).encode()
        return key, rng.choice(
            [raw[: rng.randrange(len(raw))], b"[" * 60_000, b'{"x": NaN}', b"{" + raw]
        )
    if kind == 3:  # schema: a field missing, or of the wrong type
        field = rng.choice(["ts", "type", "role", "text"])
        broken = {k: v for k, v in event.items() if k != field}
        if rng.random() < 0.5:
            broken[field] = rng.choice([None, 42, [], {"a": 1}, "?"])
        return key, json.dumps(broken).encode()
    if kind == 4:  # the key is another session's
        return b"fz-elsewhere", json.dumps(event).encode()
    if kind == 5:  # a lone surrogate, in the text or a metadata key
        text = str(event["text"])
        if rng.random() < 0.5:
            return key, json.dumps({**event, "metadata": {"\udc80": 1}}).encode()
        return key, json.dumps({**event, "text": text + rng.choice(["\ud800", "\udfff"])}).encode()
    if kind == 6:  # control characters: NUL, an ESC sequence, DEL, a C1 control
        junk = rng.choice(["\x00", "\x1b[2J", "\x7f", "\x9b", "\x08"])
        return key, json.dumps({**event, "text": f"{event['text']} {junk}"}).encode()
    if kind == 7:  # a word nobody writes
        blob = base64.b64encode(rng.randbytes(900)).decode()
        return key, json.dumps({**event, "text": f"see {blob} now"}).encode()
    # Hostile but valid: emoji, right-to-left text, zero-width characters, a long text.
    text = rng.choice(
        [
            "😡 still waiting 👎🏽",
            "أريد استرداد المبلغ",
            "a\u200bg\u200be\u200bn\u200bt?",
            "where is my order " * 500,
        ]
    )
    return key, json.dumps({**event, "text": text}).encode()


def storm() -> list[Record]:
    """Seeded: mostly valid chat across the sessions, redeliveries, one record in four hostile."""
    rng = random.Random(SEED)
    records: list[Record] = []
    valid: list[Record] = []
    for index in range(RECORDS):
        if valid and rng.random() < 0.05:
            records.append(rng.choice(valid[-20:]))  # a redelivery
            continue
        event = valid_event(rng, index)
        if rng.random() < 0.25:
            records.append(hostile(rng, event))
            continue
        record = (str(event["session_id"]).encode(), json.dumps(event).encode())
        valid.append(record)
        records.append(record)
    return records


def predict(records: list[Record]) -> tuple[Counter[str], int]:
    """Per reason, what intake makes of each record offline, and how many accepted events the
    engine sees as redeliveries (sessions are independent, so send order per key is enough)."""
    outcomes: Counter[str] = Counter()
    engine = DecisionEngine()
    states: dict[str, SessionState] = {}
    duplicates = 0
    for key, value in records:
        try:
            event = parse_record(value, key, MAX_BYTES, MAX_WORD_CHARS)
        except RejectedRecordError as exc:
            outcomes[exc.reason.value] += 1
            continue
        outcomes["accepted"] += 1
        result = engine.apply(states.get(event.session_id), event)
        duplicates += result.duplicate
        states[event.session_id] = result.state
    return outcomes, duplicates


def test_every_record_of_a_hostile_storm_is_accounted_for(deployment: Deployment) -> None:
    records = storm()
    expected, expected_duplicates = predict(records)
    assert set(expected) == {"accepted", *(reason.value for reason in DeadLetterReason)}
    rejected = [value for key, value in records if _rejected(key, value)]
    worker = deployment.start_worker()

    started = time.monotonic()
    deployment.send_raw(records, burst=True)

    def settled() -> bool:
        stats = worker.get_json("/stats")[1]
        return int(stats.get("events", 0)) + int(stats.get("dead_letters", 0)) >= len(records)

    assert wait_for(settled, timeout=60.0, interval=0.5)
    elapsed = time.monotonic() - started
    stats = worker.get_json("/stats")[1]
    print(
        f"\nfuzz: sent {len(records)} in {elapsed:.1f}s; events {stats['events']} "
        f"(duplicates {stats.get('duplicates', 0)}); dead letters {stats['dead_letters']}: "
        + ", ".join(
            f"{reason.value} {stats.get(f'dead_letters.{reason.value}', 0)}"
            for reason in DeadLetterReason
        )
    )
    assert stats["events"] == expected["accepted"]
    assert stats.get("duplicates", 0) == expected_duplicates
    assert stats["dead_letters"] == len(rejected)
    assert stats["events"] + stats["dead_letters"] == len(records)
    for reason in DeadLetterReason:
        assert stats.get(f"dead_letters.{reason.value}", 0) == expected[reason.value], reason

    letters = [
        DeadLetter.model_validate_json(value)
        for _, value in deployment.read_topic(
            deployment.dead_letter_topic, minimum=len(rejected), timeout=30.0
        )
    ]
    assert len(letters) == len(rejected)
    assert Counter(letter.reason.value for letter in letters) == Counter(
        {reason: count for reason, count in expected.items() if reason != "accepted"}
    )
    assert Counter(base64.b64decode(letter.value_b64) for letter in letters) == Counter(rejected)
    assert all(letter.source_topic == deployment.chat_topic for letter in letters)

    assert worker.get_json("/ready")[0] == 200
    deployment.send([chat("fz-final", "final-1", "agent please", second=999)])
    assert wait_for(
        lambda: any(e.session_id == "fz-final" for _, e in deployment.queue_entries()),
        timeout=20.0,
    )


def _rejected(key: bytes | None, value: bytes) -> bool:
    try:
        parse_record(value, key, MAX_BYTES, MAX_WORD_CHARS)
    except RejectedRecordError:
        return True
    return False
