"""Secrets come from the environment and never show in a repr, a dump or an error message;
the Kafka and Redis security settings become the right client arguments."""

import ssl

import faust
import pytest

from workers.errors import ConfigurationError
from workers.settings import KafkaSecurityProtocol, Settings, load_settings

SASL_SECRET = "kafka-S3cret-do-not-log"
REDIS_SECRET = "redis-S3cret-do-not-log"
URL_SECRET = "url-S3cret-do-not-log"


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "redis_url": f"redis://worker:{URL_SECRET}@127.0.0.1:6379/0",
        "redis_username": "worker",
        "redis_password": REDIS_SECRET,
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "escalator",
        "kafka_sasl_password": SASL_SECRET,
    }
    return load_settings(**{**values, **overrides})


def _assert_hidden(text: str) -> None:
    for secret in (SASL_SECRET, REDIS_SECRET, URL_SECRET):
        assert secret not in text


def test_repr_str_and_dumps_hide_secrets() -> None:
    settings = _settings()
    _assert_hidden(repr(settings))
    _assert_hidden(str(settings))
    _assert_hidden(settings.model_dump_json())
    _assert_hidden(str(settings.model_dump()))
    _assert_hidden(settings.redis_url_for_display)
    _assert_hidden(repr(settings.faust_broker_credentials()))


def test_configuration_errors_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCALATOR_KAFKA_SASL_PASSWORD", SASL_SECRET)
    monkeypatch.setenv("ESCALATOR_REDIS_PASSWORD", REDIS_SECRET)
    monkeypatch.setenv("ESCALATOR_KAFKA_SECURITY_PROTOCOL", SASL_SECRET)  # a secret, misplaced
    with pytest.raises(ConfigurationError) as error:
        load_settings(web_port=0)
    _assert_hidden(str(error.value))
    assert "ESCALATOR_KAFKA_SECURITY_PROTOCOL" in str(error.value)


def test_sasl_without_a_password_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="KAFKA_SASL_PASSWORD"):
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="escalator")


def test_plaintext_by_default_changes_nothing() -> None:
    settings = load_settings()
    assert settings.kafka_security_protocol is KafkaSecurityProtocol.PLAINTEXT
    assert settings.kafka_client_kwargs() == {}
    assert settings.faust_broker_credentials() is None
    assert settings.redis_client_kwargs() == {}


def test_sasl_kwargs_for_faust_and_aiokafka() -> None:
    settings = _settings()
    assert settings.kafka_client_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "escalator",
        "sasl_plain_password": SASL_SECRET,
    }
    credentials = settings.faust_broker_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "escalator"
    assert credentials.password == SASL_SECRET
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.ssl_context is None
    assert settings.redis_client_kwargs() == {"username": "worker", "password": REDIS_SECRET}


def test_empty_redis_credentials_mean_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCALATOR_REDIS_USERNAME", "")
    monkeypatch.setenv("ESCALATOR_REDIS_PASSWORD", "")
    settings = load_settings()
    assert settings.redis_username is None
    assert settings.redis_password is None
    assert settings.redis_client_kwargs() == {}


def test_a_child_process_gets_the_redis_and_its_credentials_or_empty_ones() -> None:
    assert _settings().redis_environment() == {
        "ESCALATOR_REDIS_URL": f"redis://worker:{URL_SECRET}@127.0.0.1:6379/0",
        "ESCALATOR_REDIS_USERNAME": "worker",
        "ESCALATOR_REDIS_PASSWORD": REDIS_SECRET,
    }
    # Empty ones, so credentials in the parent's environment are not inherited.
    assert load_settings(redis_url="redis://127.0.0.1:7000/0").redis_environment() == {
        "ESCALATOR_REDIS_URL": "redis://127.0.0.1:7000/0",
        "ESCALATOR_REDIS_USERNAME": "",
        "ESCALATOR_REDIS_PASSWORD": "",
    }


def test_sasl_ssl_carries_a_verifying_context() -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL")
    kwargs = settings.kafka_client_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    credentials = settings.faust_broker_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.ssl_context is not None


def test_ssl_only_gives_ssl_credentials() -> None:
    settings = load_settings(kafka_security_protocol="SSL")
    assert isinstance(settings.faust_broker_credentials(), faust.SSLCredentials)
    assert set(settings.kafka_client_kwargs()) == {"security_protocol", "ssl_context"}


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ConfigurationError, match="kafka_ssl_keyfile"):
        load_settings(kafka_security_protocol="SSL", kafka_ssl_certfile="/etc/client.pem")
