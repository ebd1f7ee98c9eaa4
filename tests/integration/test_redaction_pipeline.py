"""Generated personal data through the whole pipeline (real Redis, no broker): none of it, nor
a fragment of it, reaches the agent queues, the Kafka outputs, the web's session view or the
log, while the ids stay whole."""

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipelines import CHAT, TICKS, Store, records
from tests.support import at, chat
from tests.unit.test_redaction import fragments, personal
from workers.decision import DecisionEngine
from workers.decision.policy import load_policy
from workers.logs import RedactingFilter, install_redaction
from workers.queues import AgentQueueWriter, QueueKeys
from workers.stream.app import session_view
from workers.stream.pipeline import Pipeline

# A worker clock without microseconds: no timestamp digits to mistake for a phone's.
CLOCK = datetime.fromisoformat(at(60))


# How to read each type of key the deployment writes.
_READERS: dict[str, Callable[["redis.Redis", Any], Any]] = {
    "stream": lambda client, key: client.xrange(key),
    "hash": lambda client, key: client.hgetall(key),
    "string": lambda client, key: client.get(key),
    "zset": lambda client, key: client.zrange(key, 0, -1, withscores=True),
    "set": lambda client, key: client.smembers(key),
    "list": lambda client, key: client.lrange(key, 0, -1),
}


def _redis_dump(client: "redis.Redis", keys: QueueKeys) -> str:
    """Every key of the deployment and what it holds, as text."""
    held: list[Any] = []
    for key in client.scan_iter(match=keys.pattern):
        kind = client.type(key)
        name = kind.decode() if isinstance(kind, bytes) else str(kind)
        held.append((key, _READERS[name](client, key)))
    return repr(held)


def _conversation(session: str, values: list[str]) -> list[dict[str, Any]]:
    """A customer who gives personal data, a bot that echoes it, the customer giving it again
    and asking for a person."""
    given = " and ".join(f"you can use {value} for it" for value in values)
    return [
        chat(session, uuid.uuid4().hex, f"My parcel never came. {given}.", second=0),
        chat(session, uuid.uuid4().hex, f"Thanks, is it {values[0]}?", role="bot", second=5),
        chat(session, uuid.uuid4().hex, f"I already told you: {given}!", second=10),
        chat(session, uuid.uuid4().hex, "This is useless, get me a human agent now", second=20),
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(personal, min_size=1, max_size=3))
def test_generated_personal_data_reaches_no_output(
    values: list[str],
    redis_url: str,
    redis_client: "redis.Redis",
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = QueueKeys(f"q-{uuid.uuid4().hex[:8]}")
    session = str(uuid.uuid4())
    sent: list[tuple[str, bytes | None, bytes]] = []

    def sender(topic: str) -> Any:
        async def send(key: bytes | None, value: bytes) -> None:
            sent.append((topic, key, value))

        return send

    engine = DecisionEngine(load_policy())
    worker = Pipeline(
        engine=engine,
        sessions=Store(),
        applied_offsets=Store(),
        writer=AgentQueueWriter.from_url(redis_url, keys),
        send_escalation=sender("escalations"),
        send_dead_letter=sender("dead-letters"),
        send_command=sender("bot-control"),
        ticks_topic=TICKS,
        input_topics=(CHAT,),
        max_record_bytes=64 * 1024,
        max_word_chars=1000,
        retry_ceiling_seconds=1.0,
        clock=lambda: CLOCK,
    )
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    install_redaction(engine.policy.redaction.logs)
    try:
        asyncio.run(worker.handle_batch(records(_conversation(session, values))))
        asyncio.run(worker.flush())
        stored = _redis_dump(redis_client, keys)
    finally:
        for handler in logging.getLogger().handlers:
            for existing in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(existing)
        stale = list(redis_client.scan_iter(match=keys.pattern))
        if stale:
            redis_client.delete(*stale)

    state = worker.current_state(session)
    assert state is not None
    assert state.escalation is not None
    escalation_id = state.escalation.escalation_id
    published = repr(sent)
    served = json.dumps(session_view(state, engine), default=str)
    logged = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [str(getattr(record, "escalation_id", "")) for record in caplog.records]
    )
    assert [topic for topic, _, _ in sent if topic == "dead-letters"] == []
    for output in (stored, published, served, logged):
        assert escalation_id in output  # whole: no id is redacted inside
        for value in values:
            assert not {part for part in fragments(value) if part in output}, output
    assert f"escalation {escalation_id} session={session}" in logged
