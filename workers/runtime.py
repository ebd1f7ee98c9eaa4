"""Process-wide tuning for long-running escalator processes."""

import asyncio
import gc
from typing import Any

# A worker holds many long-lived containers (session states); the default generation-0
# threshold (700 allocations) makes the collector rescan them constantly.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Move what exists now (modules, policy, compiled patterns) out of the collector's way
    and collect less often; measured in benchmarks/decision_core.py."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def service_worker(app: Any, loop: asyncio.AbstractEventLoop, **options: Any) -> Any:
    """A ``faust.Worker`` for a service: without the terminal spinner, which Faust sets up
    at log levels of WARNING and above by lowering the root logger to DEBUG, so every
    library's debug record would be built and filtered (a quarter of a busy worker's time)."""
    import faust

    worker = faust.Worker(app, loop=loop, **options)
    worker.spinner = None
    return worker
