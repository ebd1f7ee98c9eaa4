"""The embedded Kafka-compatible broker (Tansu) for development, the demo and CI."""

from workers.embedded.broker import EmbeddedBroker, free_port, tansu_binary
from workers.embedded.exceptions import EmbeddedBrokerError, WorkerProcessError
from workers.embedded.process import WorkerProcess

__all__ = [
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "WorkerProcess",
    "WorkerProcessError",
    "free_port",
    "tansu_binary",
]
