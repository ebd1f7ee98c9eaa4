"""Agent queues in Redis: where escalations wait for a person (see docs/redis-layout.md)."""

from workers.queues.exceptions import QueueError, QueueUnavailableError
from workers.queues.keys import QueueKeys
from workers.queues.writer import AgentQueueWriter, EnqueueResult

__all__ = ["AgentQueueWriter", "EnqueueResult", "QueueError", "QueueKeys", "QueueUnavailableError"]
