"""Every Redis key escalator and its desks write, built from one configurable root prefix.

Agent-desk developers: this module and docs/desk-integration.md are the whole layout.
"""

from dataclasses import dataclass

# Stream of escalations waiting in one queue at one priority tier: {root}:queue:{queue}:p{n}.
QUEUE_PREFIX = "queue"
# String holding the stream entry id of an escalation already enqueued: {root}:escalation:{id}.
ESCALATION_MARKER_PREFIX = "escalation"
# Set of every queue stream key written so far, for desks and tools to discover queues.
QUEUE_INDEX_KEY = "queues"
# Hash of who accepted an escalation, until it is handed back: {root}:owner:{id}.
OWNER_PREFIX = "owner"
# Hash of the handoff events published per escalation, one field per status: {root}:handoff:{id}.
HANDOFF_PREFIX = "handoff"
# Consumer group through which desk instances share every queue stream.
DESK_GROUP = "desks"


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

    def owner(self, escalation_id: str) -> str:
        """Who owns an accepted escalation (fields agent_id, consumer, session_id, ...)."""
        return f"{self.root}:{OWNER_PREFIX}:{escalation_id}"

    def handoff(self, escalation_id: str) -> str:
        """The handoff events published for an escalation, so a retry publishes the same one."""
        return f"{self.root}:{HANDOFF_PREFIX}:{escalation_id}"

    def parse_queue_stream(self, key: str) -> tuple[str, int] | None:
        """(queue, priority) of a queue stream key under this root; None for any other key."""
        head = f"{self.root}:{QUEUE_PREFIX}:"
        if not key.startswith(head):
            return None
        queue, separator, tier = key[len(head) :].rpartition(":p")
        if not separator or not queue or not tier.isdigit():
            return None
        return queue, int(tier)

    @property
    def queue_index(self) -> str:
        """The set of known queue streams."""
        return f"{self.root}:{QUEUE_INDEX_KEY}"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key under the root."""
        return f"{self.root}:*"
