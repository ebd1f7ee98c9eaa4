"""Services started on loopback for development, the demo and CI: the Kafka-compatible broker
(Tansu), a private redis-server, and worker processes."""

from workers.embedded.broker import EmbeddedBroker, free_port, tansu_binary
from workers.embedded.exceptions import EmbeddedBrokerError, EmbeddedRedisError, WorkerProcessError
from workers.embedded.process import WorkerProcess
from workers.embedded.redis_server import EmbeddedRedis, redis_server_binary

__all__ = [
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "EmbeddedRedis",
    "EmbeddedRedisError",
    "WorkerProcess",
    "WorkerProcessError",
    "free_port",
    "redis_server_binary",
    "tansu_binary",
]
