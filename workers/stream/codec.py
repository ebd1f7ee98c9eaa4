"""The bytes a session's state is stored as in the table and its changelog.

``<partition>|<due>|<state JSON>``: the input partition the session lives on (clock ticks are
per partition) and when it next needs a look (epoch seconds, empty for never) come first, so a
tick can skip a session without parsing its state. Bytes, not a dict, keep an open session
small in memory (docs/performance.md).
"""

from workers.decision import SessionState

SEPARATOR = b"|"


def encode(state: SessionState, partition: int, due: float | None) -> bytes:
    """The stored form of ``state``."""
    header = b"%d|%s|" % (partition, b"%.3f" % due if due is not None else b"")
    return header + state.model_dump_json(exclude_defaults=True).encode()


def decode_header(stored: bytes) -> tuple[int, float | None]:
    """(partition, due) without parsing the state."""
    first = stored.index(SEPARATOR)
    second = stored.index(SEPARATOR, first + 1)
    due = stored[first + 1 : second]
    return int(stored[:first]), float(due) if due else None


def decode_state(stored: bytes) -> SessionState:
    """The state itself."""
    first = stored.index(SEPARATOR)
    second = stored.index(SEPARATOR, first + 1)
    return SessionState.model_validate_json(stored[second + 1 :])
