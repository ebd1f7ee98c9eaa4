"""Services started on loopback for development, the demo and CI: the embedded Kafka-compatible
broker (Tansu), a single-node Apache Kafka, a private redis-server, and worker processes."""

from workers.embedded.broker import EmbeddedBroker, free_port, tansu_binary
from workers.embedded.exceptions import EmbeddedBrokerError, EmbeddedRedisError, WorkerProcessError
from workers.embedded.kafka_broker import KafkaBroker
from workers.embedded.process import WorkerProcess
from workers.embedded.redis_server import EmbeddedRedis, redis_server_binary

# Either broker a test, the demo or `escalator broker` can start.
BrokerProcess = EmbeddedBroker | KafkaBroker

__all__ = [
    "BrokerProcess",
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "EmbeddedRedis",
    "EmbeddedRedisError",
    "KafkaBroker",
    "WorkerProcess",
    "WorkerProcessError",
    "free_port",
    "redis_server_binary",
    "tansu_binary",
]
