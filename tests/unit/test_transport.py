"""The embedded broker's URL resolves to its own transport (a short fetch wait, end offsets
read from the last batch); a Kafka URL to Faust's own, which the bench's bare agent uses (the
worker's app picks its batching transport on either broker: test_batching.py).

The end offsets are tested here against a partition held in memory, because the broker's
misbehaviour they must survive (records listed but not served) cannot be caused on demand;
on the real broker they are exercised by every restart and recovery test."""

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from faust.transport import by_url
from hypothesis import given
from hypothesis import strategies as st

from workers.settings import load_settings
from workers.stream.app import faust_options
from workers.stream.exceptions import EndOffsetUnavailableError
from workers.stream.transport import EmbeddedTransport, embedded_url, end_offsets

TP0 = TopicPartition("changelog", 0)


def test_the_embedded_profile_uses_the_embedded_transport() -> None:
    options = faust_options(load_settings(broker_url="kafka://127.0.0.1:9092"))
    assert options["broker"] == "tansu://127.0.0.1:9092"
    assert by_url(options["broker"]) is EmbeddedTransport


def test_the_kafka_profile_keeps_the_stock_transport() -> None:
    settings = load_settings(broker_url="kafka://k1:9092", broker_profile="kafka")
    options = faust_options(settings)
    assert options["broker"] == "kafka://k1:9092"
    assert by_url(options["broker"]) is not EmbeddedTransport
    assert "producer_max_batch_size" not in options


def test_every_broker_of_a_url_is_kept() -> None:
    assert embedded_url("kafka://a:1;b:2") == "tansu://a:1;b:2"


class _ScriptedReader:
    """What ``end_offsets`` asks of its reader, over a partition held in memory: batches of
    offsets the broker serves, the end it lists, and whether it still answers."""

    def __init__(self, batches: list[range], listed_end: int, *, answers: bool = True) -> None:
        self.batches, self.listed_end, self.answers = batches, listed_end, answers
        self.position = 0
        self.list_calls = 0

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.list_calls += 1
        if self.list_calls > 1 and not self.answers:
            raise KafkaConnectionError("broker gone")
        return {tp: self.listed_end for tp in partitions}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in partitions}

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    async def getmany(self, tp: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        """The batch holding the position, from the position on (as a broker serves it)."""
        for batch in self.batches:
            if self.position in batch:
                return {tp: [SimpleNamespace(offset=o) for o in batch if o >= self.position]}
        return {}


def _end(reader: _ScriptedReader) -> int:
    return asyncio.run(end_offsets(cast(Any, reader), [TP0]))[TP0]


def test_the_end_is_past_the_last_batch_the_broker_lists_by_its_base() -> None:
    # The embedded broker lists the last batch's base + 1 (8); the batch runs to offset 9.
    assert _end(_ScriptedReader([range(0, 4), range(4, 7), range(7, 10)], listed_end=8)) == 10


def test_records_listed_but_not_served_at_the_end_are_a_logged_hole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = _ScriptedReader([range(0, 10), range(10, 17)], listed_end=18)
    with caplog.at_level(logging.WARNING, logger="workers.stream.transport"):
        assert _end(reader) == 17
    assert "serves none after offset 16" in caplog.text


def test_a_partition_the_broker_serves_nothing_of_is_not_taken_as_empty() -> None:
    with pytest.raises(EndOffsetUnavailableError, match="served none of them"):
        _end(_ScriptedReader([], listed_end=5))


def test_a_broker_that_stops_answering_is_not_a_hole() -> None:
    with pytest.raises(EndOffsetUnavailableError, match="did not answer"):
        _end(_ScriptedReader([range(0, 10)], listed_end=12, answers=False))


@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=8),
    served=st.integers(0, 8),
)
def test_the_end_is_where_the_served_records_stop(sizes: list[int], served: int) -> None:
    batches, start = [], 0
    for size in sizes:
        batches.append(range(start, start + size))
        start += size
    kept = batches[: max(1, served)]
    listed_end = batches[-1].start + 1  # the embedded broker's answer
    assert _end(_ScriptedReader(kept, listed_end)) == kept[-1].stop
