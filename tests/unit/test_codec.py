"""The stored form of session state: what goes in is what comes out, header and state."""

import json

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.mix import generate
from workers.decision import DecisionEngine, SessionState
from workers.decision.policy import load_policy
from workers.intake import parse_record
from workers.stream import codec


def states(count: int) -> list[SessionState]:
    """Real states, as the engine leaves them after a seeded mix of conversations."""
    engine = DecisionEngine(load_policy())
    latest: dict[str, SessionState] = {}
    for raw in generate(count, seed=3, concurrent=50):
        event = parse_record(json.dumps(raw).encode(), None, 64 * 1024)
        latest[event.session_id] = engine.apply(latest.get(event.session_id), event).state
    return list(latest.values())


STATES = states(60)


@given(
    st.sampled_from(STATES),
    st.integers(min_value=0, max_value=1023),
    st.one_of(st.none(), st.floats(min_value=0, max_value=4e9, allow_nan=False)),
)
def test_round_trip(state: SessionState, partition: int, due: float | None) -> None:
    stored = codec.encode(state, partition, due)
    assert codec.decode_state(stored) == state
    decoded_partition, decoded_due = codec.decode_header(stored)
    assert decoded_partition == partition
    if due is None:
        assert decoded_due is None
    else:
        assert decoded_due is not None
        assert abs(decoded_due - due) <= 0.0005


def test_stored_state_is_compact() -> None:
    """Open sessions are held as these bytes; docs/performance.md budgets 2 KiB each."""
    sizes = sorted(len(codec.encode(state, 7, 1.0)) for state in STATES)
    assert sizes[len(sizes) // 2] < 2048
