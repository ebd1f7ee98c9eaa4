"""The engine baseline: a bare faust-streaming agent doing one table update per event.

Run as its own process (``python -m benchmarks.bare_agent``) with a worker's ``ESCALATOR_*``
variables. It is built with the worker's Faust options (``workers.stream.app.faust_options``:
the same broker, group, web and embedded-broker settings and transport) and
the worker's garbage-collector tuning, and consumes the same way (``concurrency=1``,
``stream.events()``); per event it decodes the JSON value and writes it to a changelog-backed
table under the record's key. What escalator does beyond that is its own cost.

With ``BARE_AGENT_WRITES=0`` in its environment it decodes without writing: the engine's
ceiling, what Faust's per-record machinery alone allows (no agent over a Faust stream can
go faster on this machine).

Web: ``GET /stats`` answers ``{"events": n}``; ``GET /ready`` is 200 once partitions are
assigned and the table is recovered (as the worker's).
"""

import asyncio
import json
import os
from typing import Any, cast

import faust
from faust.types import StreamT
from faust.web import Request, Response, View

from workers.runtime import service_worker, tune_gc
from workers.settings import Settings, load_settings
from workers.stream.app import faust_options

# "0": decode every event but write nothing (the engine ceiling row).
WRITES_VARIABLE = "BARE_AGENT_WRITES"


def build_app(settings: Settings) -> faust.App:
    """The bare app: one topic, one table, one agent, a counter and a readiness page."""
    app = faust.App(settings.app_id, **faust_options(settings))
    source = app.topic(settings.chat_events_topic, key_type=bytes, value_type=bytes)
    latest = app.Table(
        "latest",
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        help="The last event of each key.",
    )
    counted = {"events": 0}
    writes = os.environ.get(WRITES_VARIABLE, "1") != "0"

    @app.agent(source, concurrency=1)
    async def update(stream: StreamT[bytes]) -> None:
        """One table update per event (or only the decode, without writes)."""
        async for event in stream.events():
            decoded = json.loads(event.value)
            if writes:
                latest[event.key] = decoded
            counted["events"] += 1

    @app.page("/stats")
    async def stats(web: View, request: Request) -> Response:
        return web.json(counted)

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        recovered = cast(Any, app.tables).recovery.completed.is_set()
        is_ready = recovered and not app.rebalancing and not app.in_recovery
        return web.json({"ready": is_ready}, status=200 if is_ready else 503)

    return app


def main() -> None:
    settings = load_settings()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = build_app(settings)
    tune_gc()
    service_worker(app, loop, loglevel=settings.log_level).execute_from_commandline()


if __name__ == "__main__":
    main()
