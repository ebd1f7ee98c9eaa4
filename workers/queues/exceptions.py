"""Errors of the agent-queue area."""

from workers.errors import EscalatorError, ServiceUnavailableError


class QueueError(EscalatorError):
    """Raised when an escalation cannot be written to or read from an agent queue."""


class QueueUnavailableError(QueueError, ServiceUnavailableError):
    """Raised when Redis does not answer."""
