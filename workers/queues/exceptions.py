"""Errors of the agent-queue area."""

from workers.errors import EscalatorError, ServiceUnavailableError


class QueueError(EscalatorError):
    """Raised when an escalation cannot be written to or read from an agent queue."""


class QueueUnavailableError(QueueError, ServiceUnavailableError):
    """Raised when Redis does not answer."""


class QueuePermissionError(QueueUnavailableError):
    """Raised when Redis refuses a command to the configured user (ACL): the worker waits and
    retries, as for a Redis that does not answer, and says which permission is missing."""
