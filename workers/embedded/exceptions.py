"""Errors of the embedded services area: the broker, Redis and worker processes."""

from workers.errors import EscalatorError


class EmbeddedBrokerError(EscalatorError):
    """Raised when a broker (Tansu, or Apache Kafka and what it needs: Java, Maven, its jars)
    is missing or does not start."""


class EmbeddedRedisError(EscalatorError):
    """Raised when redis-server is not installed or does not start."""


class WorkerProcessError(EscalatorError):
    """Raised when a worker child process exits early or is not ready in time."""
