"""Decision-core throughput on one core, against baselines measured in the same run.

    python -m benchmarks.decision_core [--sessions N] [--repeats R]

Rows: JSON decoding alone (the floor any consumer pays), contract validation (decode +
pydantic), the decision core alone on parsed events with state for many open sessions (with
Python's default garbage-collector settings, then with the worker's, see workers/runtime.py),
and the whole replay path (validate + decide). Each row shows the median events/s of several
runs (min and max beside it) and its ratio to the validation baseline. A second table gives
what each detector costs per customer message, beside the whole decision per event.
"""

import argparse
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.mix import generate_lines
from schemas.events import MessageEvent, Role
from schemas.inbound import InboundEvent
from workers.decision import DecisionEngine, SessionState
from workers.decision.frustration import score_message
from workers.decision.human_request import detect_human_request
from workers.decision.models import ngrams, shared_model
from workers.decision.text import normalise
from workers.decision.topics import Taxonomy
from workers.intake import parse_record
from workers.runtime import tune_gc

MAX_RECORD = 64 * 1024


def _time(run: Callable[[], int], repeats: int) -> list[float]:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    return rates


def _per_call(run: Callable[[], int], repeats: int) -> float:
    """Median microseconds per item of ``run`` (which returns how many items it did)."""
    return 1e6 / statistics.median(_time(run, repeats))


def component_costs(events: list[InboundEvent], repeats: int) -> dict[str, float]:
    """Microseconds per customer message of each detector the engine runs on it, and of the
    whole decision per event (every kind), measured in the same process."""
    engine = DecisionEngine()
    policy = engine.policy
    texts = [e.text for e in events if isinstance(e, MessageEvent) and e.role is Role.CUSTOMER]
    folded = [normalise(text) for text in texts]
    taxonomy = Taxonomy(policy.topics)
    request_model = shared_model(policy.models.human_request)
    topic_model = shared_model(policy.models.high_stakes)

    def each(step: Callable[[str], object], inputs: list[str]) -> Callable[[], int]:
        def run() -> int:
            for item in inputs:
                step(item)
            return len(inputs)

        return run

    def decide() -> int:
        states: dict[str, SessionState] = {}
        for event in events:
            states[event.session_id] = engine.apply(states.get(event.session_id), event).state
        return len(events)

    vocabulary = request_model.vocabulary | topic_model.vocabulary

    def featurise(text: str) -> frozenset[str]:
        return vocabulary.intersection(ngrams(text))  # as the engine does

    grams = [featurise(text) for text in folded]

    def each_set(step: Callable[[frozenset[str]], object]) -> Callable[[], int]:
        def run() -> int:
            for item in grams:
                step(item)
            return len(grams)

        return run

    return {
        "normalise": _per_call(each(normalise, texts), repeats),
        "frustration score": _per_call(each(score_message, texts), repeats),
        "request phrases": _per_call(each(detect_human_request, texts), repeats),
        "topic phrases (with the hypothetical test)": _per_call(
            each(taxonomy.find, folded), repeats
        ),
        "n-grams for the models (once per message)": _per_call(each(featurise, folded), repeats),
        "request model (find)": _per_call(each_set(request_model.find), repeats),
        "topic model (find)": _per_call(each_set(topic_model.find), repeats),
        "whole decision, per event (any kind)": _per_call(decide, repeats),
    }


def measure(sessions: int, repeats: int) -> dict[str, Any]:
    """Run every row; returns rates per row and state-size figures."""
    lines = generate_lines(sessions)
    events: list[InboundEvent] = [parse_record(line, None, MAX_RECORD) for line in lines]
    engine = DecisionEngine()
    final_states: dict[str, SessionState] = {}

    def decode() -> int:
        for line in lines:
            json.loads(line)
        return len(lines)

    def validate() -> int:
        for line in lines:
            parse_record(line, None, MAX_RECORD)
        return len(lines)

    def decide() -> int:
        states: dict[str, SessionState] = {}
        for event in events:
            states[event.session_id] = engine.apply(states.get(event.session_id), event).state
        final_states.update(states)
        return len(events)

    def replay() -> int:
        states: dict[str, SessionState] = {}
        for line in lines:
            event = parse_record(line, None, MAX_RECORD)
            states[event.session_id] = engine.apply(states.get(event.session_id), event).state
        return len(lines)

    rows = {
        "json decode (floor)": _time(decode, repeats),
        "validate (baseline)": _time(validate, repeats),
        "decision core, default gc": _time(decide, repeats),
    }
    components = component_costs(events, repeats)
    tune_gc()  # what `escalator worker` does at start
    rows["decision core, worker gc"] = _time(decide, repeats)
    rows["validate + decide, worker gc"] = _time(replay, repeats)
    sizes = sorted(len(json.dumps(state.to_json_dict())) for state in final_states.values())
    escalated = sum(1 for state in final_states.values() if state.escalation is not None)
    tracemalloc.start()
    decide()  # one more pass, traced: what the open sessions' states hold in memory
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "memory_per_session": held / max(len(final_states), 1),
        "events": len(lines),
        "sessions": len(final_states),
        "escalated_sessions": escalated,
        "rates": rows,
        "components_us": components,
        "state_bytes_median": sizes[len(sizes) // 2],
        "state_bytes_max": sizes[-1],
    }


def components_table(costs: dict[str, float]) -> Table:
    """What each detector costs per customer message (µs), beside the whole decision."""
    table = Table(title="decision core components, µs per customer message (median)")
    table.add_column("component")
    table.add_column("µs", justify="right")
    for name, micros in costs.items():
        table.add_row(name, f"{micros:.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20_000, help="conversations in the mix")
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per row; the median is reported"
    )
    args = parser.parse_args()
    result = measure(args.sessions, args.repeats)
    baseline = statistics.median(result["rates"]["validate (baseline)"])
    table = Table(
        title=f"decision core, one core: {result['events']:,} events, "
        f"{result['sessions']:,} sessions"
    )
    for column in ("row", "events/s (median)", "min", "max", "vs baseline"):
        table.add_column(column, justify="right" if column != "row" else "left")
    for name, rates in result["rates"].items():
        median = statistics.median(rates)
        table.add_row(
            name,
            f"{median:,.0f}",
            f"{min(rates):,.0f}",
            f"{max(rates):,.0f}",
            f"{median / baseline:.2f}x",
        )
    console = Console()
    console.print(table)
    console.print(components_table(result["components_us"]))
    console.print(
        f"escalated sessions: {result['escalated_sessions']:,} of {result['sessions']:,}; "
        f"stored state per session: median {result['state_bytes_median']:,} B, "
        f"max {result['state_bytes_max']:,} B (JSON); in memory "
        f"{result['memory_per_session']:,.0f} B per open session (tracemalloc)"
    )


if __name__ == "__main__":
    main()
