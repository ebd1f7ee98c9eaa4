"""Records handed to the agent a fetch at a time: one message per partition per fetch.

Faust hands an agent one message per record, and its per-message path (a message object,
flow control, the conductor's tasks, the stream's event, an acknowledgement) costs more than
the worker's whole decision. On the topics named in ``batched_topics`` this consumer hands
over instead one ``RecordBatch`` per partition per fetch, holding the records in offset
order; acknowledging the batch acknowledges every record in it (through Faust's gaps, see
``_batch``), so Faust commits the range as it would have committed the records one by one.
Other topics (a table's changelog, which Faust's recovery reads) keep Faust's path.

The agent's order per partition is the partition's order, as before, and a batch carries the
consumer generation it was fetched in, so a batch from before a rebalance is recognised.
"""

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerMessage, Message

log = logging.getLogger("escalator.consumer")


class RecordBatch(ConsumerMessage):
    """The records one fetch returned for one partition, as one message. Its offset is its
    last record's, which is what Faust's read position and commit bookkeeping look at."""

    __slots__ = ("records",)

    records: list[ConsumerMessage]


class BatchingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, delivering ``batched_topics`` a fetch at a time (see the
    module); none unless the app names them."""

    batched_topics: frozenset[str] = frozenset()

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109 (Faust's signature)
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            try:
                await self.perform_seek()  # as Faust does: back to the committed offsets
            except Exception as exc:
                log.warning("seeking back to the committed offsets failed: %r", exc)
            return

        def deliverable(tp: TP) -> bool:
            return (
                self.flow_active
                and self.app.consumer_generation_id == generation_id
                and (
                    active_partitions is None
                    or tp in active_partitions
                    or tp in self._buffered_partitions
                )
            )

        singles: dict[TP, list[Any]] = {}
        for tp, fetched in records.items():
            if tp.topic not in self.batched_topics:
                singles[tp] = fetched
            elif deliverable(tp):
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                batch = await self._batch(tp, [self._to_message(tp, r) for r in fetched])
                if batch is not None:
                    yield tp, batch
        for tp, record in self.scheduler.iterate(singles):
            if deliverable(tp):
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                yield tp, self._to_message(tp, record)

    async def _batch(self, tp: TP, messages: list[ConsumerMessage]) -> RecordBatch | None:
        """The messages past the read position as one batch (Faust drops a message below
        it: one fetched again after a seek back).

        Faust acknowledges a message by its offset alone (its stream iterator does so
        inline, without asking the consumer), so a batch is acknowledged as its last
        offset. Every other offset from the read position to it (the batch's other records,
        and any skipped by compaction or transaction markers) is recorded as a gap, which
        Faust's commit bookkeeping counts as done once an offset past it is acknowledged."""
        read = self._read_offset[tp]
        if read is not None:
            messages = [m for m in messages if m.offset >= read]
        if not messages:
            return None
        first, last = messages[0], messages[-1]
        start = first.offset if read is None else min(read + 1, first.offset)
        if start < last.offset:
            await self._add_gap(tp, start, last.offset - 1)
        batch = RecordBatch(
            last.topic,
            last.partition,
            last.offset,
            last.timestamp,
            last.timestamp_type,
            None,
            None,
            b"",
            None,
            0,
            sum(m.serialized_value_size or 0 for m in messages),
            tp,
            generation_id=last.generation_id,
        )
        batch.records = messages
        # Faust records a gap itself when a delivered offset is more than one past the
        # last; the batch's are recorded above, so it must see the batch's offset as next.
        self._read_offset[tp] = last.offset - 1
        return batch


def records_of(messages: Iterable[Message]) -> list[Message]:
    """The records of ``messages``, batches opened, in order."""
    out: list[Message] = []
    for message in messages:
        if isinstance(message, RecordBatch):
            out.extend(message.records)
        else:
            out.append(message)
    return out
