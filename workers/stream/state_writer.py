"""When the worker writes its state: checkpoints on a timer, at once in a rebalance or a
clean stop, never across a group generation (pipeline.py says what a checkpoint is)."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import faust
from faust.types import EventT, Message

from workers.stream.batching import records_of
from workers.stream.pipeline import Checkpoint, Pipeline

log = logging.getLogger("escalator.app")

# How long a clean stop waits for the batch in hand before giving up writing state.
STOP_WAIT_SECONDS = 10.0


class StateWriter:
    """When the pipeline's state is written. At most every ``state_flush_seconds`` (a
    checkpoint, see pipeline.py), at once when a rebalance starts while a batch is in hand
    (this worker owns its partitions until the batch is acknowledged), after every batch once
    a clean stop has begun, and never across a group generation: changes not written by its
    end are dropped, and the partition's new owner reads their records back.

    A timed write hands the states to the table and goes on with the next batch; a task
    writes the checkpoint once the broker has them, so the agent never waits for the broker
    in steady state. The next timed write waits for that task to finish."""

    def __init__(
        self, app: faust.App, pipeline: Pipeline, flush_seconds: float, max_unflushed: int
    ) -> None:
        self._app = app
        self._pipeline = pipeline
        self._flush_seconds = flush_seconds
        self._max_unflushed = max_unflushed
        self._generation = app.consumer_generation_id
        self._flushed_at = time.monotonic()
        self._in_hand = asyncio.Lock()
        self._checkpointing: asyncio.Task[None] | None = None
        self._stopping = False

    @asynccontextmanager
    async def batch(self, events: Sequence[EventT[bytes]]) -> AsyncIterator[list[Message]]:
        """The records of ``events`` to handle (those of the current generation; an event
        may hold a fetched batch of records); writes the state afterwards when it is due."""
        async with self._in_hand:
            if self._app.consumer_generation_id != self._generation:
                await self._checkpoint_written()
                self._pipeline.discard()
                self._generation = self._app.consumer_generation_id
            yield records_of(
                [e.message for e in events if e.message.generation_id == self._generation]
            )
            if (
                self._stopping
                or self._app.rebalancing
                or self._pipeline.unflushed_sessions >= self._max_unflushed
            ):
                await self._flush()
            elif time.monotonic() - self._flushed_at >= self._flush_seconds and (
                self._checkpointing is None or self._checkpointing.done()
            ):
                await self._checkpoint_written()  # re-raises what the last task raised
                checkpoint = self._pipeline.write_states()
                self._flushed_at = time.monotonic()
                self._checkpointing = asyncio.create_task(
                    self._write_checkpoint(checkpoint, self._generation)
                )

    async def on_stop(self) -> None:
        """A clean stop writes what is pending once the batch in hand is done, so the next
        owner has nothing to read back (if the batch does not finish in time, it reads it
        back)."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._in_hand.acquire(), STOP_WAIT_SECONDS)
        except TimeoutError:
            log.warning("stopping without writing state: a batch is stuck (Redis away?)")
            return
        try:
            if self._app.consumer_generation_id == self._generation:
                await self._flush()
        finally:
            self._in_hand.release()

    async def _write_checkpoint(self, checkpoint: Checkpoint, generation: int) -> None:
        """Once the broker has the states, the checkpoint; not if the group moved on
        meanwhile (the partition's owner keeps its own checkpoints)."""
        await self._pipeline.wait_states_written(checkpoint)
        if self._app.consumer_generation_id == generation:
            await self._pipeline.write_checkpoint(checkpoint)

    async def _checkpoint_written(self) -> None:
        task, self._checkpointing = self._checkpointing, None
        if task is not None:
            await task

    async def _flush(self) -> None:
        """Everything pending, states and checkpoint, on the broker before returning."""
        await self._checkpoint_written()
        await self._pipeline.flush()
        self._flushed_at = time.monotonic()
