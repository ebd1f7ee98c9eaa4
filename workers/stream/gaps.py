"""Records the worker's consumer passed over without handing them to the agent, read back.

Faust acknowledges, and so may commit past, a record it drops during a rebalance (one
fetched under an earlier group generation, or while flow control was suspended), and after
a rebalance its consumer has been seen not to hand over a new partition's records at all.
The pipeline keeps, per input partition, the offset of the last record it applied (in a
changelog-backed table); when the next record's offset jumps past it, or a partition that
took no record for a clock tick has records past it on the broker, the records in between
are read here, directly from the broker, and applied in offset order. Input topics are
neither compacted nor transactional, so every offset holds a record and a jump always means
a record was missed.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from workers.settings import BrokerProfile, Settings
from workers.stream.exceptions import ReadBackUnavailableError
from workers.stream.transport import end_offsets

log = logging.getLogger(__name__)

# How long one read of a missed range waits for the broker before it raises (the pipeline
# then retries with backoff: the partition waits, it does not skip).
READ_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class MissedRecord:
    """A record read back from the broker, in the shape the pipeline consumes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds since the epoch, like a Faust message's


class KafkaRangeReader:
    """Reads offset ranges and end offsets with its own consumer, outside the consumer group
    (it has no group, so it cannot trigger a rebalance)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._reader: AIOKafkaConsumer | None = None

    async def _assigned(self, tp: TopicPartition) -> AIOKafkaConsumer:
        """The reader's consumer (started on first use), assigned to ``tp`` alone."""
        if self._reader is None:
            self._reader = AIOKafkaConsumer(
                bootstrap_servers=self._settings.bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",
                **self._settings.kafka_client_kwargs(),
            )
            await self._reader.start()
        self._reader.assign([tp])
        return self._reader

    async def read(
        self, topic: str, partition: int, start: int, end: int, limit: int
    ) -> list[MissedRecord]:
        """Up to ``limit`` records at offsets ``start`` (inclusive) to ``end`` (exclusive),
        in order, of those the broker still holds."""
        tp = TopicPartition(topic, partition)
        reader = await self._assigned(tp)
        # Records older than the log's start are gone (retention); read what is left.
        position = max(start, (await reader.beginning_offsets([tp]))[tp])
        if position > start:
            log.error(
                "%s[%d]: offsets %d..%d are no longer on the broker (retention); they are "
                "never applied",
                topic,
                partition,
                start,
                min(position, end) - 1,
            )
        records: list[MissedRecord] = []
        if position >= end:
            return records
        reader.seek(tp, position)
        while position < end and len(records) < limit:
            batch = await reader.getmany(tp, timeout_ms=READ_TIMEOUT_MS)
            fetched: Sequence[ConsumerRecord[bytes, bytes]] = batch.get(tp, [])
            if not fetched:
                raise ReadBackUnavailableError(
                    f"{topic}[{partition}]: no records at offset {position} within "
                    f"{READ_TIMEOUT_MS} ms (reading back {start}..{end - 1})"
                )
            for record in fetched:
                if record.offset >= end or len(records) == limit:
                    break
                records.append(
                    MissedRecord(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key,
                        value=record.value,
                        timestamp=record.timestamp / 1000,
                    )
                )
            position = fetched[-1].offset + 1
        return records

    async def end_offset(self, topic: str, partition: int) -> int:
        """The offset the partition's next record will have: as Apache Kafka reports it; on
        the embedded broker, read to the end of the last batch (its report stops at the
        batch's first record: see ``workers.stream.transport.end_offsets``)."""
        tp = TopicPartition(topic, partition)
        reader = await self._assigned(tp)
        if self._settings.broker_profile is BrokerProfile.EMBEDDED:
            return (await end_offsets(reader, [tp]))[tp]
        return int((await reader.end_offsets([tp]))[tp])

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
        self._reader = None
