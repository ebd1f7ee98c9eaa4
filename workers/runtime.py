"""Process-wide tuning for long-running escalator processes."""

import gc

# A worker holds many long-lived containers (session states); the default generation-0
# threshold (700 allocations) makes the collector rescan them constantly.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Move what exists now (modules, policy, compiled patterns) out of the collector's way
    and collect less often; measured in benchmarks/decision_core.py."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
