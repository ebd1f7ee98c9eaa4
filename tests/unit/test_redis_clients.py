"""workers.redis_clients: one factory for every Redis client, from the settings: the URL (TLS for
rediss://), the settings' user and password over the URL's, named timeouts, and a password that
shows nowhere."""

import asyncio
import logging
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
import redis.asyncio.connection as async_connection
import redis.connection as sync_connection

from workers.embedded import free_port
from workers.errors import ConfigurationError
from workers.redis_clients import (
    CHECK_TIMEOUT_SECONDS,
    REDIS_TIMEOUT_SECONDS,
    async_client,
    async_client_for_url,
    sync_client,
)
from workers.settings import Settings, load_settings

SETTINGS_SECRET = "settings-S3cret-do-not-log"
URL_SECRET = "url-S3cret-do-not-log"


def _settings(url: str, **overrides: object) -> Settings:
    return load_settings(redis_url=url, **overrides)


def _both(settings: Settings) -> list[dict[str, Any]]:
    """The connection arguments of a sync and an asyncio client built from ``settings``."""
    sync = sync_client(settings)
    kwargs = [dict(sync.connection_pool.connection_kwargs)]
    sync.close()
    kwargs.append(dict(async_client(settings).connection_pool.connection_kwargs))
    return kwargs


def test_settings_credentials_win_over_the_urls() -> None:
    settings = _settings(
        f"redis://url-user:{URL_SECRET}@127.0.0.1:6390/2",
        redis_username="desk",
        redis_password=SETTINGS_SECRET,
    )
    for kwargs in _both(settings):
        assert (kwargs["username"], kwargs["password"]) == ("desk", SETTINGS_SECRET)
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6390, 2)


def test_each_credential_the_settings_leave_unset_keeps_the_urls() -> None:
    url = f"redis://url-user:{URL_SECRET}@127.0.0.1:6390/0"
    for kwargs in _both(_settings(url)):
        assert (kwargs["username"], kwargs["password"]) == ("url-user", URL_SECRET)
    for kwargs in _both(_settings(url, redis_password=SETTINGS_SECRET)):
        assert (kwargs["username"], kwargs["password"]) == ("url-user", SETTINGS_SECRET)
    for kwargs in _both(_settings(url, redis_username="desk")):
        assert (kwargs["username"], kwargs["password"]) == ("desk", URL_SECRET)


def test_no_credentials_anywhere_send_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCALATOR_REDIS_USERNAME", "")
    monkeypatch.setenv("ESCALATOR_REDIS_PASSWORD", "")
    for kwargs in _both(_settings("redis://127.0.0.1:6390/0")):
        assert kwargs.get("username") is None
        assert kwargs.get("password") is None


def test_a_percent_encoded_url_password_is_decoded() -> None:
    for kwargs in _both(_settings("redis://u:p%40ss%2Fw@127.0.0.1:6390/0")):
        assert kwargs["password"] == "p@ss/w"


def test_rediss_gives_a_verifying_tls_connection() -> None:
    settings = _settings("rediss://127.0.0.1:6390/0", redis_password=SETTINGS_SECRET)
    sync = sync_client(settings)
    assert sync.connection_pool.connection_class is sync_connection.SSLConnection
    assert sync.connection_pool.connection_kwargs.get("ssl_cert_reqs", "required") == "required"
    sync.close()
    asynchronous = async_client(settings)
    assert asynchronous.connection_pool.connection_class is async_connection.SSLConnection
    plain = sync_client(_settings("redis://127.0.0.1:6390/0"))
    assert plain.connection_pool.connection_class is sync_connection.Connection
    plain.close()


def test_timeouts_are_the_named_ones() -> None:
    settings = _settings("redis://127.0.0.1:6390/0")
    for kwargs in _both(settings):
        assert kwargs["socket_timeout"] == REDIS_TIMEOUT_SECONDS
        assert kwargs["socket_connect_timeout"] == REDIS_TIMEOUT_SECONDS
    check = async_client(settings, timeout=CHECK_TIMEOUT_SECONDS)
    assert check.connection_pool.connection_kwargs["socket_timeout"] == CHECK_TIMEOUT_SECONDS
    one_try = sync_client(settings, timeout=CHECK_TIMEOUT_SECONDS, one_try=True)
    assert one_try.connection_pool.connection_kwargs["retry"].get_retries() == 0
    one_try.close()


def test_a_bare_url_client_for_tests_and_desks() -> None:
    client = async_client_for_url(f"redis://u:{URL_SECRET}@127.0.0.1:6390/0", username="desk")
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("desk", URL_SECRET)


def test_an_invalid_url_is_a_configuration_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis URL") as raised:
        sync_client(_settings(f"http://user:{URL_SECRET}@127.0.0.1:6390/0"))
    assert URL_SECRET not in str(raised.value)
    assert "user:***@127.0.0.1:6390" in str(raised.value)


def test_the_password_shows_in_no_repr_log_or_error(caplog: pytest.LogCaptureFixture) -> None:
    """Against a port nobody listens on: the client's repr, redis-py's debug logs and the
    connection error name the server, never the password."""
    caplog.set_level(logging.DEBUG)
    nowhere = f"redis://url-user:{URL_SECRET}@127.0.0.1:{free_port()}/0"
    settings = _settings(nowhere, redis_username="desk", redis_password=SETTINGS_SECRET)
    texts: list[str] = [repr(settings), settings.redis_url_for_display]

    sync = sync_client(settings, timeout=0.5, one_try=True)
    texts += [repr(sync), repr(sync.connection_pool)]
    with pytest.raises(redis.ConnectionError) as sync_error:
        sync.ping()
    texts += [str(sync_error.value), repr(sync_error.value)]
    sync.close()

    async def fail() -> BaseException:
        client = async_client(settings, timeout=0.5)
        texts.extend([repr(client), repr(client.connection_pool)])
        try:
            await client.ping()
        except (redis.ConnectionError, OSError) as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("a Redis answered on a free port")

    async_error = asyncio.run(fail())
    texts += [str(async_error), repr(async_error), caplog.text]
    for text in texts:
        assert SETTINGS_SECRET not in text
        assert URL_SECRET not in text
    assert "127.0.0.1" in repr(sync)


def test_clients_are_of_the_expected_kinds() -> None:
    settings = _settings("redis://127.0.0.1:6390/0")
    sync = sync_client(settings)
    assert isinstance(sync, redis.Redis)
    assert sync.auto_close_connection_pool, "closing the client closes its own pool"
    sync.close()
    asynchronous = async_client(settings)
    assert isinstance(asynchronous, aioredis.Redis)
    assert asynchronous.auto_close_connection_pool
