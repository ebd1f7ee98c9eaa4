"""Every Redis client escalator opens is built here, from the settings (in the manner of arq's
``RedisSettings``): the worker's queue writer and depth gauge, the board, the desk client and
the ``escalator desk`` commands, the demo, the board screenshots, the bench and the service
checks. (The embedded ``redis-server`` of workers/embedded builds its own: it has no users.)

- URL: ``ESCALATOR_REDIS_URL`` (or ``REDIS_URL``), ``redis://`` or ``rediss://``; ``rediss://``
  is TLS, verified against the system's CA certificates (redis-py's query options, e.g.
  ``?ssl_ca_certs=/path/ca.pem``, can name another bundle). The path is the database.
- Credentials: ``ESCALATOR_REDIS_USERNAME`` and ``ESCALATOR_REDIS_PASSWORD`` each win over the
  user and password in the URL; one the settings leave unset keeps the URL's; with neither,
  no AUTH is sent (the ``default`` user).
- Timeouts: connect and reply, see the two constants below.

The password never reaches a ``repr``, a log line or an error message: those name the URL as
``Settings.redis_url_for_display`` does.
"""

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url as parse_async_url
from redis.backoff import NoBackoff
from redis.connection import parse_url as parse_sync_url
from redis.retry import Retry

from workers.errors import ConfigurationError
from workers.settings import Settings, display_redis_url

REDIS_TIMEOUT_SECONDS = 5.0
"""Connect and reply timeout of clients that do the work (the worker's writes, desk claims and
reports, the demo, the bench): long enough for a busy Redis or a TLS handshake with a remote
one, short enough that a Redis that went away is noticed (the worker then retries with backoff,
a desk command reports it)."""

CHECK_TIMEOUT_SECONDS = 2.0
"""Connect and reply timeout where someone waits for an answer whether or not Redis is there:
the check before a command starts, the board's requests and the worker's metrics scrapes (a
scrape must answer, with the queue depth unknown, while Redis is away)."""


def _options(
    parse: Any,
    url: str,
    username: str | None,
    password: str | None,
    timeout: float,
) -> dict[str, Any]:
    """Connection-pool arguments: the URL's, then the credentials given over the URL's."""
    try:
        options: dict[str, Any] = parse(url)
    except ValueError as exc:
        # redis-py's messages do not quote the URL; say which one, without its password.
        raise ConfigurationError(
            f"invalid Redis URL {display_redis_url(url)}: {exc}; "
            "expected redis://[user:password@]host:port/db or rediss://... (TLS)"
        ) from None
    if username:
        options["username"] = username
    if password is not None:
        options["password"] = password
    options["socket_connect_timeout"] = timeout
    options["socket_timeout"] = timeout
    return options


def _credentials(settings: Settings) -> tuple[str | None, str | None]:
    password = settings.redis_password
    return settings.redis_username, None if password is None else password.get_secret_value()


def sync_client_for_url(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = REDIS_TIMEOUT_SECONDS,
    one_try: bool = False,
) -> "redis.Redis":
    """A synchronous client owning its connection pool. ``one_try``: no retries (redis-py's
    default retries take 4-10 s on a Redis that is not there: too long for a check)."""
    options = _options(parse_sync_url, url, username, password, timeout)
    if one_try:
        options["retry"] = Retry(NoBackoff(), 0)
    return redis.Redis.from_pool(redis.ConnectionPool(**options))


def async_client_for_url(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = REDIS_TIMEOUT_SECONDS,
) -> "aioredis.Redis":
    """An asyncio client owning its connection pool (``aclose`` closes both)."""
    options = _options(parse_async_url, url, username, password, timeout)
    return aioredis.Redis.from_pool(aioredis.ConnectionPool(**options))


def sync_client(
    settings: Settings, *, timeout: float = REDIS_TIMEOUT_SECONDS, one_try: bool = False
) -> "redis.Redis":
    """A synchronous client of the configured Redis, as the configured user."""
    username, password = _credentials(settings)
    return sync_client_for_url(
        settings.redis_url.get_secret_value(),
        username=username,
        password=password,
        timeout=timeout,
        one_try=one_try,
    )


def async_client(settings: Settings, *, timeout: float = REDIS_TIMEOUT_SECONDS) -> "aioredis.Redis":
    """An asyncio client of the configured Redis, as the configured user."""
    username, password = _credentials(settings)
    return async_client_for_url(
        settings.redis_url.get_secret_value(),
        username=username,
        password=password,
        timeout=timeout,
    )


def refused_credentials(settings: Settings) -> str:
    """What to say when Redis refuses the configured user (or wants one and got none)."""
    return (
        f"Redis at {settings.redis_url_for_display} refused the credentials; fix the user "
        "and password in REDIS_URL or ESCALATOR_REDIS_USERNAME / ESCALATOR_REDIS_PASSWORD"
    )
