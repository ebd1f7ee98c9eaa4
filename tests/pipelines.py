"""A pipeline wired to in-memory tables and a scripted broker, for tests of batches,
read-back and state writes (the decisions and the Redis queues are the real ones)."""

import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.support import chat
from workers.decision import DecisionEngine
from workers.decision.policy import load_policy
from workers.metrics import NO_METRICS, PipelineObserver
from workers.queues import AgentQueueWriter, QueueKeys
from workers.stream.pipeline import Pipeline, utc_now

CHAT = "chat-events"
TICKS = "ticks"


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0


@dataclass
class Store:
    """A table that counts its writes."""

    data: dict[str, bytes] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    scans: int = 0

    def get(self, key: str, partition: int) -> bytes | None:
        return self.data.get(key)

    def read(self, key: str) -> bytes | None:
        return self.data.get(key)

    def put(self, key: str, value: bytes, partition: int) -> None:
        self.writes.append(key)
        self.data[key] = value

    def delete(self, key: str, partition: int) -> None:
        self.writes.append(key)
        self.data.pop(key, None)

    def items(self) -> Iterator[tuple[str, bytes]]:
        self.scans += 1
        return iter(list(self.data.items()))


@dataclass
class Broker:
    """What the broker holds for one partition (``end``: its end offset, by default just past
    the last record in ``log``)."""

    log: list[Record] = field(default_factory=list)
    end: int | None = None
    reads: list[tuple[int, int]] = field(default_factory=list)
    end_asked: int = 0

    async def read(
        self, topic: str, partition: int, start: int, end: int, limit: int
    ) -> Sequence[Record]:
        self.reads.append((start, end))
        found = [r for r in self.log if r.partition == partition and start <= r.offset < end]
        return found[:limit]

    async def end_offset(self, topic: str, partition: int) -> int:
        self.end_asked += 1
        if self.end is not None:
            return self.end
        return max((r.offset + 1 for r in self.log if r.partition == partition), default=0)


def pipeline(
    redis_url: str,
    keys: QueueKeys,
    sessions: Store,
    offsets: Store,
    broker: Broker | None,
    wait_written: Callable[[], Awaitable[None]] | None = None,
    clock: Callable[[], datetime] = utc_now,
    metrics: PipelineObserver = NO_METRICS,
) -> Pipeline:
    async def discard(key: bytes | None, value: bytes) -> None:
        return None

    return Pipeline(
        engine=DecisionEngine(load_policy()),
        sessions=sessions,
        applied_offsets=offsets,
        reader=broker,
        writer=AgentQueueWriter.from_url(redis_url, keys),
        send_escalation=discard,
        send_dead_letter=discard,
        send_command=discard,
        ticks_topic=TICKS,
        input_topics=(CHAT,),
        wait_written=wait_written,
        max_record_bytes=64 * 1024,
        max_word_chars=1000,
        retry_ceiling_seconds=1.0,
        clock=clock,
        metrics=metrics,
    )


def records(events: list[dict[str, Any]], first_offset: int = 0) -> list[Record]:
    return [
        Record(CHAT, 0, first_offset + i, e["session_id"].encode(), json.dumps(e).encode())
        for i, e in enumerate(events)
    ]


def escalating(session: str) -> list[dict[str, Any]]:
    return [
        chat(session, f"{session}-1", "Hi, my parcel has not arrived", second=0),
        chat(session, f"{session}-2", "Can you share the order number?", role="bot", second=5),
        chat(session, f"{session}-3", "Let me talk to a human please", second=20),
    ]
