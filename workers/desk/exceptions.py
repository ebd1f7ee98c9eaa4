"""Errors of the agent-desk area."""

from workers.errors import EscalatorError, ServiceUnavailableError


class DeskError(EscalatorError):
    """Raised when a desk cannot claim, accept or report on an escalation."""


class DeskUnavailableError(DeskError, ServiceUnavailableError):
    """Raised when Redis or Kafka does not answer a desk."""


class ClaimLostError(DeskError):
    """Raised when accepting a claim that another desk took over after the claim timeout."""


class EscalationWithdrawnError(DeskError):
    """Raised when accepting an escalation the worker took out of its queue while it was claimed
    (replaced after an SLA breach, session ended or expired)."""


class InvalidEntryError(DeskError):
    """Raised when a claimed queue entry does not hold a valid escalation."""


class InvalidReportError(DeskError):
    """Raised when a handoff report breaks the HandoffEvent contract (an id or note too long)."""


class PublisherNotStartedError(DeskError):
    """Raised when a handoff event is published through a publisher that is not running."""
