"""The worker's Kafka transports: the embedded broker's (Tansu), with the end offsets it
needs, and Apache Kafka's. Both use the consumer that hands the agent a fetch at a time
(``workers/stream/batching.py``).

Tansu differs from Apache Kafka in two ways that matter to a Faust worker:

- It answers a fetch over several partitions only when the fetch's maximum wait is over,
  even if records arrived meanwhile; Faust asks for 1.5 s, so every record would wait up to
  1.5 s (on Apache Kafka a fetch returns as soon as a record arrives). This transport's
  consumer asks for a short wait.
- Its list-offsets answer (the partition's end offset) is the last record batch's base
  offset + 1, not the offset after the batch's last record. Faust's table recovery reads a
  changelog up to that end, so it would stop early (updates lost; a RocksDB store that has
  the later records refuses to start). This transport's consumer reads the last batch to
  find the real end (``end_offsets``), so producers batch records as they do on Kafka.

The embedded transport is Faust's aiokafka transport otherwise, used with the embedded-broker
profile only (``BrokerProfile.EMBEDDED``), under the URL scheme ``tansu://``.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

import aiokafka
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from workers.stream.batching import BatchingConsumer
from workers.stream.exceptions import EndOffsetUnavailableError

log = logging.getLogger(__name__)

SCHEME = "tansu"
# Short enough not to matter next to a decision; long enough that an idle worker does not
# spin (one fetch every 50 ms).
FETCH_MAX_WAIT_MS = 50
# How long reading a partition's last batch may take before the end offset is given up on.
END_OFFSET_READ_TIMEOUT_MS = 10_000
# When the last batch cannot be read, the partition is read from its beginning: how long each
# of those fetches may wait before the broker is asked whether it answers at all.
HOLE_PROBE_TIMEOUT_MS = 1_000


async def end_offsets(
    reader: aiokafka.AIOKafkaConsumer, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offset each partition's next record will have. One below the broker's answer
    starts the last batch on the embedded broker (the last record on Apache Kafka); that
    batch is read to its end. ``reader`` must not belong to a group: it is assigned each
    partition in turn."""
    reported = await reader.end_offsets(list(partitions))
    beginnings = await reader.beginning_offsets(list(partitions))
    ends: dict[TopicPartition, int] = {}
    for tp in partitions:
        end, beginning = int(reported[tp]), int(beginnings[tp])
        if end <= beginning:
            ends[tp] = end  # empty, or every record gone (retention)
            continue
        last = await _last_offset_from(reader, tp, end - 1, END_OFFSET_READ_TIMEOUT_MS)
        if last is None:
            ends[tp] = await _readable_end(reader, tp, beginning, end)
        else:
            ends[tp] = max(end, last + 1)
    return ends


async def _last_offset_from(
    reader: aiokafka.AIOKafkaConsumer, tp: TopicPartition, offset: int, timeout_ms: int
) -> int | None:
    """The offset of the last record of the first fetch from ``offset``; None if none came."""
    reader.assign([tp])
    reader.seek(tp, offset)
    fetched = (await reader.getmany(tp, timeout_ms=timeout_ms)).get(tp, [])
    return fetched[-1].offset if fetched else None


async def _readable_end(
    reader: aiokafka.AIOKafkaConsumer, tp: TopicPartition, beginning: int, end: int
) -> int:
    """The end of a partition whose broker served nothing at ``end - 1``: read from the
    beginning, it is past the last record the broker serves.

    The embedded broker can list records it does not serve at a partition's end after a
    restart under a running producer (seen once in the suite's broker-restart test). Table
    recovery would wait for them forever; the records before them are recovered instead,
    and the hole is logged. A broker that is slow or paused is not a hole: where a fetch
    comes back empty, the broker must answer a list-offsets request, and the fetch is
    tried again with the full timeout, before the records are taken to stop there.
    Raises EndOffsetUnavailableError when the broker does not answer, or serves no record
    of the partition at all.
    """
    last = beginning - 1
    while last + 1 < end:
        found = await _last_offset_from(reader, tp, last + 1, HOLE_PROBE_TIMEOUT_MS)
        if found is None:
            await _answers(reader, tp)
            found = await _last_offset_from(reader, tp, last + 1, END_OFFSET_READ_TIMEOUT_MS)
            if found is None:
                break
        last = found
    if last < beginning:
        raise EndOffsetUnavailableError(
            f"{tp.topic}[{tp.partition}]: the broker lists offsets {beginning}..{end - 1} "
            f"but served none of them within {END_OFFSET_READ_TIMEOUT_MS} ms "
            "(finding the partition's end)"
        )
    if last + 1 < end:
        log.warning(
            "%s[%d]: the broker lists records up to offset %d but serves none after offset "
            "%d; the partition's end is taken as %d (records it does not serve cannot be "
            "recovered)",
            tp.topic,
            tp.partition,
            end - 1,
            last,
            last + 1,
        )
    return last + 1


async def _answers(reader: aiokafka.AIOKafkaConsumer, tp: TopicPartition) -> None:
    """Raises EndOffsetUnavailableError unless the broker answers a list-offsets request."""
    try:
        await asyncio.wait_for(reader.end_offsets([tp]), END_OFFSET_READ_TIMEOUT_MS / 1000)
    except (KafkaError, TimeoutError) as exc:
        raise EndOffsetUnavailableError(
            f"{tp.topic}[{tp.partition}]: the broker did not answer within "
            f"{END_OFFSET_READ_TIMEOUT_MS} ms (finding the partition's end): {exc!r}"
        ) from exc


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, with a short fetch wait and end offsets read to the end of
    the last batch (table recovery reads every changelog up to them)."""

    _end_reader: aiokafka.AIOKafkaConsumer | None = None

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer: aiokafka.AIOKafkaConsumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> dict[TP, int]:
        if self._end_reader is None:
            # No group: assigning it partitions cannot disturb the worker's consumer.
            self._end_reader = self._create_client_consumer(cast(Any, self.transport))
            self._end_reader._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
            await self._end_reader.start()
        ends = await end_offsets(
            self._end_reader, [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        )
        return {TP(tp.topic, tp.partition): end for tp, end in ends.items()}

    async def on_thread_stop(self) -> None:
        await super().on_thread_stop()
        if self._end_reader is not None:
            await self._end_reader.stop()
            self._end_reader = None


class _Consumer(BatchingConsumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EmbeddedTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the embedded broker's fetch wait and end offsets."""

    Consumer = _Consumer


class KafkaTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the consumer that delivers records a fetch at a time."""

    Consumer = BatchingConsumer


def register() -> None:
    """Make ``tansu://`` broker URLs resolve to this transport."""
    drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:EmbeddedTransport")


def embedded_url(broker_url: str) -> str:
    """The broker URL with this transport's scheme (``kafka://a:1;b:2`` -> ``tansu://...``)."""
    register()
    return SCHEME + broker_url[broker_url.index("://") :]
