"""The Kafka transport for the embedded broker (Tansu).

Tansu answers a fetch over several partitions only when the fetch's maximum wait is over,
even if records arrived meanwhile; Faust asks for 1.5 s, so every record would wait up to
1.5 s (on Apache Kafka a fetch returns as soon as a record arrives). This transport is
Faust's aiokafka transport with a short maximum wait, used with the embedded-broker
profile only (``BrokerProfile.EMBEDDED``), under the URL scheme ``tansu://``.
"""

from typing import Any

import aiokafka
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "tansu"
# Short enough not to matter next to a decision; long enough that an idle worker does not
# spin (one fetch every 50 ms).
FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer: aiokafka.AIOKafkaConsumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EmbeddedTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the embedded broker's fetch wait."""

    Consumer = _Consumer


def register() -> None:
    """Make ``tansu://`` broker URLs resolve to this transport."""
    drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:EmbeddedTransport")


def embedded_url(broker_url: str) -> str:
    """The broker URL with this transport's scheme (``kafka://a:1;b:2`` -> ``tansu://...``)."""
    register()
    return SCHEME + broker_url[broker_url.index("://") :]
