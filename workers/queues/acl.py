"""The Redis ACL users escalator needs: one for workers, one per desk queue set.

The command lists are data, derived from what each role runs: the Lua scripts
(``workers/queues/lua``, ``workers/desk/lua``) and the client calls of its Python modules.
``tests/unit/test_acl.py`` reads both and fails when a list lacks a command or holds one
nothing runs, and ``tests/integration/test_redis_acl.py`` runs each role under exactly these
users on a real Redis and tries what a desk must not do.

Key patterns follow ``workers/queues/keys.py``. Desks never touch the escalation markers
(so they cannot forge "already enqueued"), hold no ``DEL`` but on ownership records, no
consumer-group management, and reach only the queue streams of their own queues.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from workers.queues.keys import (
    ESCALATION_MARKER_PREFIX,
    HANDOFF_PREFIX,
    OWNER_PREFIX,
    QUEUE_INDEX_KEY,
    QUEUE_PREFIX,
)

# Every client: liveness checks, and loading a script the server does not have yet (redis-py
# runs scripts by EVALSHA and loads them on NOSCRIPT).
CONNECTION_COMMANDS = ("ping", "evalsha", "script|load")

# The worker: the enqueue (and SLA requeue) and withdraw scripts, queue depths for /metrics,
# and the live board's read of waiting entries and claims.
WORKER_COMMANDS = (
    *CONNECTION_COMMANDS,
    "get",
    "set",
    "sadd",
    "xadd",
    "xdel",
    "xgroup|create",
    "smembers",
    "xlen",
    "xrange",
    "xpending",
)

# A desk: claim, accept and finish scripts, and the queue listings of `desk tail`.
DESK_COMMANDS = (
    *CONNECTION_COMMANDS,
    "exists",
    "xinfo|groups",
    "xpending",
    "xrange",
    "xreadgroup",
    "xclaim",
    "xack",
    "xdel",
    "xtrim",
    "xlen",
    "smembers",
    "hset",
    "hsetnx",
    "hget",
    "hmget",
    "expire",
)
# Released ownership records are deleted (FINISH); nothing else a desk may delete.
DESK_DELETE = "del"


@dataclass(frozen=True, slots=True)
class RedisUser:
    """One ACL user: its name and the rules after ``ACL SETUSER name on >password``."""

    name: str
    rules: tuple[str, ...]

    def setuser(self, password: str) -> list[str]:
        """The ``ACL SETUSER`` arguments that create (or reset) the user with ``password``."""
        return ["ACL", "SETUSER", self.name, "reset", "on", f">{password}", *self.rules]

    def command_line(self, password_placeholder: str = "PASSWORD") -> str:
        """The user as a line for redis-cli or an ACL file, the password left to fill in."""
        return " ".join(self.setuser(password_placeholder))


def _commands(names: Sequence[str]) -> tuple[str, ...]:
    return ("-@all", *(f"+{name}" for name in names))


def worker_user(prefix: str, name: str = "escalator-worker") -> RedisUser:
    """The worker: queue streams, escalation markers and the queue index; nothing of the
    desks' ownership and handoff records."""
    keys = (
        f"~{prefix}:{QUEUE_PREFIX}:*",
        f"~{prefix}:{ESCALATION_MARKER_PREFIX}:*",
        f"~{prefix}:{QUEUE_INDEX_KEY}",
    )
    return RedisUser(name, ("resetchannels", *keys, *_commands(WORKER_COMMANDS)))


def desk_user(prefix: str, queues: Sequence[str], name: str) -> RedisUser:
    """A desk serving ``queues``: their streams, the queue index (read), ownership and handoff
    records; DEL on ownership records only (a selector)."""
    if not queues:
        raise ValueError("a desk user serves at least one queue")
    keys = (
        *(f"~{prefix}:{QUEUE_PREFIX}:{queue}:p*" for queue in queues),
        f"%R~{prefix}:{QUEUE_INDEX_KEY}",
        f"~{prefix}:{OWNER_PREFIX}:*",
        f"~{prefix}:{HANDOFF_PREFIX}:*",
    )
    release = f"(~{prefix}:{OWNER_PREFIX}:* -@all +{DESK_DELETE})"
    return RedisUser(name, ("resetchannels", *keys, *_commands(DESK_COMMANDS), release))
