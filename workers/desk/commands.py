"""The ``escalator desk`` commands: a desk on the command line, for operators and scripts."""

import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live

from schemas.lifecycle import HandoffStatus
from workers.desk.client import DeskClient
from workers.desk.tail import render, snapshot
from workers.queues.keys import QueueKeys
from workers.redis_clients import async_client
from workers.settings import Settings

# `desk claim` found nothing waiting: distinct from errors, so scripts can poll.
EXIT_NOTHING_WAITING = 3


def tail(settings: Settings, queue: str, once: bool, interval: float, limit: int) -> int:
    """Show the queue's waiting escalations, refreshed every ``interval`` until Ctrl-C."""
    # Piped into a file, the table keeps its natural width instead of wrapping at 80.
    console = Console(width=None if sys.stdout.isatty() else 200)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(settings, queue, once, interval, limit, console))
    return 0


async def _tail(
    settings: Settings, queue: str, once: bool, interval: float, limit: int, console: Console
) -> None:
    keys = QueueKeys(settings.redis_prefix)
    client = async_client(settings)
    try:
        shot = await snapshot(client, keys, queue, limit)
        if once:
            console.print(render(shot, datetime.now(UTC)))
            return
        with Live(render(shot, datetime.now(UTC)), console=console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(interval)
                shot = await snapshot(client, keys, queue, limit)
                live.update(render(shot, datetime.now(UTC)), refresh=True)
    finally:
        await client.aclose()


def claim(
    settings: Settings,
    queues: Sequence[str] | None,
    consumer: str | None,
    agent: str | None,
    claim_timeout: float,
) -> int:
    """Claim the next escalation, accept it and print the handoff packet as JSON."""
    return asyncio.run(_claim(settings, queues, consumer, agent, claim_timeout))


async def _claim(
    settings: Settings,
    queues: Sequence[str] | None,
    consumer: str | None,
    agent: str | None,
    claim_timeout: float,
) -> int:
    desk = DeskClient.from_settings(
        settings, queues=queues, consumer=consumer, claim_timeout=claim_timeout
    )
    async with desk:
        found = await desk.claim_next()
        if found is None:
            print("nothing waiting", file=sys.stderr)
            return EXIT_NOTHING_WAITING
        event = await desk.accept(found, agent or desk.consumer)
    packet = {
        "event_id": event.event_id,
        "agent_id": event.agent_id,
        "consumer": desk.consumer,
        "stream": found.stream,
        "entry_id": found.entry_id,
        "enqueued_at": found.enqueued_at.isoformat(),
        "deliveries": found.deliveries,
        "escalation": found.escalation.model_dump(mode="json"),
    }
    print(json.dumps(packet, indent=2))
    return 0


def report(
    settings: Settings,
    status: HandoffStatus,
    session_id: str,
    escalation_id: str,
    note: str | None,
    agent: str | None,
) -> int:
    """Publish resolved, returned_to_bot or abandoned, and print the event as JSON."""
    return asyncio.run(_report(settings, status, session_id, escalation_id, note, agent))


async def _report(
    settings: Settings,
    status: HandoffStatus,
    session_id: str,
    escalation_id: str,
    note: str | None,
    agent: str | None,
) -> int:
    async with DeskClient.from_settings(settings) as desk:
        finish = {
            HandoffStatus.RESOLVED: desk.resolve,
            HandoffStatus.RETURNED_TO_BOT: desk.return_to_bot,
            HandoffStatus.ABANDONED: desk.abandon,
        }[status]
        event = await finish(session_id, escalation_id, note=note, agent_id=agent)
    print(event.model_dump_json())
    return 0
