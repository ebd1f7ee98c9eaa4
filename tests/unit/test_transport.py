"""The embedded broker's URL resolves to its own transport (a short fetch wait, end offsets
read from the last batch); a Kafka URL to Faust's own, which the bench's bare agent uses (the
worker's app picks its batching transport on either broker: test_batching.py)."""

from faust.transport import by_url

from workers.settings import load_settings
from workers.stream.app import faust_options
from workers.stream.transport import EmbeddedTransport, embedded_url


def test_the_embedded_profile_uses_the_embedded_transport() -> None:
    options = faust_options(load_settings(broker_url="kafka://127.0.0.1:9092"))
    assert options["broker"] == "tansu://127.0.0.1:9092"
    assert by_url(options["broker"]) is EmbeddedTransport


def test_the_kafka_profile_keeps_the_stock_transport() -> None:
    settings = load_settings(broker_url="kafka://k1:9092", broker_profile="kafka")
    options = faust_options(settings)
    assert options["broker"] == "kafka://k1:9092"
    assert by_url(options["broker"]) is not EmbeddedTransport
    assert "producer_max_batch_size" not in options


def test_every_broker_of_a_url_is_kept() -> None:
    assert embedded_url("kafka://a:1;b:2") == "tansu://a:1;b:2"
