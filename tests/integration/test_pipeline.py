"""Events produced to the real broker become exactly one entry in the right Redis queue."""

import base64
import json

import pytest

from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.escalation import Escalation, ReasonCode
from tests.faults import committed_total, traffic
from tests.support import Deployment, action, chat, wait_for
from workers.decision.engine import escalation_id_for

pytestmark = pytest.mark.integration


def test_request_for_a_person_lands_once_in_its_queue_and_on_the_topic(
    deployment: Deployment,
) -> None:
    deployment.start_worker()
    session = "s-explicit"
    deployment.send(
        [
            chat(session, "e1", "Hi, my parcel has not arrived", second=0),
            chat(
                session,
                "e2",
                "Sorry to hear that! Can you share the order number?",
                role="bot",
                second=5,
            ),
            chat(session, "e3", "Let me talk to a human please", second=20),
            chat(session, "e4", "Hello? I asked for a person", second=40),
        ]
    )
    assert wait_for(lambda: len(deployment.queue_entries()) >= 1)
    entries = deployment.queue_entries()
    assert len(entries) == 1
    stream, escalation = entries[0]
    assert stream == deployment.keys.queue_stream("general", 2)
    assert escalation.session_id == session
    assert escalation.trigger_event_id == "e3"
    assert escalation.escalation_id == escalation_id_for(session, "e3")
    assert escalation.reasons == [ReasonCode.HUMAN_REQUESTED]
    assert escalation.evidence[0].event_id == "e3"
    assert escalation.handoff.goal == "Hi, my parcel has not arrived"

    published = deployment.read_topic(deployment.escalations_topic, minimum=1)
    assert [key for key, _ in published] == [session.encode()]
    assert Escalation.model_validate_json(published[0][1]) == escalation


def test_a_backlog_reaches_the_agent_a_fetch_at_a_time_and_is_committed_to_its_end(
    deployment: Deployment,
) -> None:
    """Records waiting on the broker are handed over many to a batch (one batch per
    partition per fetch, not one per record), every one is applied once, the escalations
    among them land once each, and acknowledging the batches commits every offset. Fetches
    of 20 records make several batches of every partition, each acknowledged by its last
    offset as the agent's stream does it."""
    deployment.extra_env["ESCALATOR_BATCH_MAX_RECORDS"] = "20"
    events, escalating = traffic("backlog", 100, 4, escalate_every=10)
    deployment.send(events, burst=True)
    worker = deployment.start_worker()

    def stats() -> dict[str, int]:
        return dict(worker.get_json("/stats")[1])

    assert wait_for(lambda: stats().get("events", 0) == len(events), timeout=60)
    counted = stats()  # one reading: a tick between two would skew the difference
    assert counted.get("batches", 0) - counted.get("ticks", 0) <= len(events) // 10
    assert wait_for(lambda: len(deployment.queue_entries()) == len(escalating))
    assert sorted(e.session_id for _, e in deployment.queue_entries()) == sorted(escalating)
    assert wait_for(
        lambda: (
            committed_total(deployment.broker.bootstrap, deployment.name, deployment.chat_topic)
            == len(events)
        ),
        timeout=60,
    )


def test_reprocessing_the_same_events_does_not_duplicate_the_entry(deployment: Deployment) -> None:
    deployment.start_worker()
    events = [
        chat("s-dup", "d1", "I want to speak to an agent", second=1),
        action("s-dup", "d2", "create_ticket", "failed", second=2),
    ]
    deployment.send(events)
    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    deployment.send(events + events)
    marker = chat("s-dup-marker", "m1", "agent please", second=3)
    deployment.send([marker])
    assert wait_for(lambda: len(deployment.queue_entries()) == 2)
    sessions = sorted(escalation.session_id for _, escalation in deployment.queue_entries())
    assert sessions == ["s-dup", "s-dup-marker"]


def test_bad_records_go_to_the_dead_letter_topic_and_the_worker_goes_on(
    deployment: Deployment,
) -> None:
    worker = deployment.start_worker()
    good = chat("s-after-bad", "g1", "Can I talk to a real person?", second=9)
    oversized = json.dumps(chat("s-big", "b1", "x" * 9_000)).encode() + b" " * 70_000
    bad_records: list[tuple[bytes | None, bytes]] = [
        (b"s-bad", b"{not json"),
        (b"s-bad", b"\xff\xfe\x00garbage"),
        (
            b"s-bad",
            json.dumps({"event_id": "x", "session_id": "s-bad", "type": "message"}).encode(),
        ),
        (b"s-other", json.dumps(chat("s-bad", "k1", "hello")).encode()),
        (b"s-big", oversized),
    ]
    deployment.send_raw(bad_records)
    deployment.send([good])

    assert wait_for(lambda: len(deployment.queue_entries()) == 1)
    assert deployment.queue_entries()[0][1].session_id == "s-after-bad"

    letters = [
        DeadLetter.model_validate_json(value)
        for _, value in deployment.read_topic(
            deployment.dead_letter_topic, minimum=len(bad_records)
        )
    ]
    assert sorted(letter.reason for letter in letters) == sorted(
        [
            DeadLetterReason.MALFORMED_JSON,
            DeadLetterReason.INVALID_ENCODING,
            DeadLetterReason.SCHEMA_VIOLATION,
            DeadLetterReason.KEY_MISMATCH,
            DeadLetterReason.OVERSIZED,
        ]
    )
    originals = {base64.b64decode(letter.value_b64) for letter in letters}
    assert originals == {value for _, value in bad_records}
    schema_letter = next(
        item for item in letters if item.reason is DeadLetterReason.SCHEMA_VIOLATION
    )
    assert "ts" in schema_letter.error
    assert "Field required" in schema_letter.error
    assert all(letter.source_topic == deployment.chat_topic for letter in letters)
    assert all(letter.source_offset >= 0 for letter in letters)
    stats = worker.get_json("/stats")[1]
    assert stats["dead_letters"] == len(bad_records)
    assert stats["dead_letters.schema_violation"] == 1
    assert stats["events"] == 1
