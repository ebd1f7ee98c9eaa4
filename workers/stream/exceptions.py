"""Errors of the stream worker."""

from workers.errors import EscalatorError, ServiceUnavailableError


class StreamError(EscalatorError):
    """Root of the stream worker's errors."""


class ReadBackUnavailableError(StreamError, ServiceUnavailableError):
    """Raised when the broker does not return the records a read-back asks for in time."""


class EndOffsetUnavailableError(StreamError, ServiceUnavailableError):
    """Raised when the broker does not return a partition's last records in time, so its
    end offset cannot be known."""
