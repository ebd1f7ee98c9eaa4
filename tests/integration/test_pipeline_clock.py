"""The pipeline's clock and what it removes, against the real Redis (no broker): the SLA and
idleness count in worker time whatever the events' own times; every state dropped and every
queue entry withdrawn is logged once with its reason and counted by it."""

import asyncio
import json
import logging
from datetime import datetime, timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.pipelines import TICKS, Record, Store, escalating, pipeline, records
from tests.support import at
from workers.decision.policy import default_policy
from workers.metrics import WorkerMetrics
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations

TWO_DAYS = 2 * 24 * 3600
HANDOFF = default_policy().handoff


class Clock:
    """The worker's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def aged(ts: str, seconds: int) -> str:
    """An event time ``seconds`` earlier."""
    return (datetime.fromisoformat(ts) - timedelta(seconds=seconds)).isoformat()


def tick(number: int, now: datetime) -> Record:
    """The tick the leader's timer sends at ``now``."""
    value = {"type": "tick", "tick_id": f"t-{number}", "ts": now.isoformat()}
    return Record(TICKS, 0, number, None, json.dumps(value).encode())


def counted(metrics: WorkerMetrics, name: str) -> dict[str, float]:
    """The samples of a counter by its ``reason`` label."""
    text = metrics.exposition().decode()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def test_an_escalation_of_old_events_stays_queued_and_waits_its_sla_from_the_enqueue(
    queue_keys: QueueKeys,
    redis_url: str,
    redis_client: "redis.Redis",
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events two days old (past the idle TTLs, a backlog or replayed history) escalate; the
    entry is neither withdrawn for their age nor re-raised before its SLA ran from the
    enqueue; the re-raise that replaces it is logged and counted as such."""
    arrival = datetime.fromisoformat(at(0))
    clock = Clock(arrival)
    metrics = WorkerMetrics()
    worker = pipeline(redis_url, queue_keys, Store(), Store(), None, clock=clock, metrics=metrics)
    old = [{**event, "ts": aged(event["ts"], TWO_DAYS)} for event in escalating("o")]
    sla = timedelta(seconds=HANDOFF.sla_for("general"))

    def queued_reasons() -> list[str]:
        return [",".join(e.reasons) for _, e in queued_escalations(redis_client, queue_keys)]

    async def run() -> list[list[str]]:
        queued = []
        await worker.handle_batch(records(old))
        for number, waited in enumerate((timedelta(0), sla / 2, sla - timedelta(seconds=1))):
            await worker.handle_batch([tick(number, arrival + waited)])
            await worker.flush()
            queued.append(queued_reasons())
        await worker.handle_batch([tick(3, arrival + sla)])
        queued.append(queued_reasons())
        return queued

    with caplog.at_level(logging.INFO, logger="escalator.pipeline"):
        queued = asyncio.run(run())
    assert queued[:3] == [["human_requested"]] * 3, "still waiting, not re-raised before its SLA"
    assert queued[3] == ["sla_breach,human_requested"]
    assert lines(caplog, "state dropped") == []
    replaced = lines(caplog, "withdrawn")
    assert len(replaced) == 1
    assert replaced[0].endswith(": sla_breach")
    assert counted(metrics, "escalator_escalations_withdrawn_total") == {"sla_breach": 1}
    assert counted(metrics, "escalator_sessions_dropped_total") == {}


def test_a_drop_and_a_withdrawal_are_logged_once_with_their_reason_and_counted(
    queue_keys: QueueKeys,
    redis_url: str,
    redis_client: "redis.Redis",
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The session ends with an escalation waiting: one line and one count each for the state
    and the entry. The end sent again finds nothing to drop or withdraw: no line, no count."""
    metrics = WorkerMetrics()
    worker = pipeline(redis_url, queue_keys, Store(), Store(), None, metrics=metrics)
    end = {
        "event_id": "e-end",
        "session_id": "e",
        "ts": at(30),
        "type": "session",
        "action": "ended",
    }
    events = [*escalating("e"), end, {**end, "event_id": "e-end-again"}]

    async def run() -> None:
        for record in records(events):
            await worker.handle(record)

    with caplog.at_level(logging.INFO, logger="escalator.pipeline"):
        asyncio.run(run())
    assert queued_escalations(redis_client, queue_keys) == []
    dropped, withdrawn = lines(caplog, "state dropped"), lines(caplog, "withdrawn")
    assert len(dropped) == 1
    assert "session e state dropped: session_ended" in dropped[0]
    assert len(withdrawn) == 1
    assert withdrawn[0].endswith(": session_ended")
    assert counted(metrics, "escalator_sessions_dropped_total") == {"session_ended": 1}
    assert counted(metrics, "escalator_escalations_withdrawn_total") == {"session_ended": 1}
    assert worker.stats["ends_of_unknown_sessions"] == 1
