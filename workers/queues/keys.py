"""Every Redis key escalator writes, built from one configurable root prefix.

Agent-desk developers: this module and docs/redis-layout.md are the whole layout.
"""

from dataclasses import dataclass

# Stream of escalations waiting in one queue at one priority tier: {root}:queue:{queue}:p{n}.
QUEUE_PREFIX = "queue"
# String holding the stream entry id of an escalation already enqueued: {root}:escalation:{id}.
ESCALATION_MARKER_PREFIX = "escalation"
# Set of every queue stream key written so far, for desks and tools to discover queues.
QUEUE_INDEX_KEY = "queues"


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Key builder bound to a root prefix (setting ``ESCALATOR_REDIS_PREFIX``)."""

    root: str

    def queue_stream(self, queue: str, priority: int) -> str:
        """The stream for one queue and priority tier."""
        return f"{self.root}:{QUEUE_PREFIX}:{queue}:p{priority}"

    def escalation_marker(self, escalation_id: str) -> str:
        """The idempotency marker of one escalation."""
        return f"{self.root}:{ESCALATION_MARKER_PREFIX}:{escalation_id}"

    @property
    def queue_index(self) -> str:
        """The set of known queue streams."""
        return f"{self.root}:{QUEUE_INDEX_KEY}"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key under the root."""
        return f"{self.root}:*"
