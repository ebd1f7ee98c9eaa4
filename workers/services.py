"""The services a command needs, checked before it starts: a missing broker or Redis is one
clear line naming the fix, instead of a client's retries and tracebacks. The demo, the bench
and the board screenshots start a private Redis when none answers (``answering_redis``).

``python -m workers.services`` exits 0 when a Redis answers at ``REDIS_URL``: ``make demo``
and ``make bench`` install Debian's redis-server only when it does not.
"""

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from pydantic import SecretStr

from workers.embedded.exceptions import EmbeddedRedisError
from workers.embedded.redis_server import INSTALL_HINT, EmbeddedRedis
from workers.errors import EscalatorError, ServiceUnavailableError
from workers.redis_clients import CHECK_TIMEOUT_SECONDS, refused_credentials, sync_client
from workers.settings import Settings, load_settings

SERVICE_CHECK_TIMEOUT_SECONDS = 3.0
GET_REDIS = (
    f"start one with `redis-server --daemonize yes` ({INSTALL_HINT}), "
    "or point REDIS_URL at a running Redis"
)


def redis_answers(settings: Settings) -> bool:
    """Whether Redis answers PING at the configured URL, with the configured credentials.

    Raises ServiceUnavailableError when it answers but refuses the credentials: that is a
    mistake to fix, not a missing service.
    """
    client = sync_client(settings, timeout=CHECK_TIMEOUT_SECONDS, one_try=True)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        raise ServiceUnavailableError(refused_credentials(settings)) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def require_redis(settings: Settings) -> None:
    """Raise ServiceUnavailableError, saying how to get one, unless Redis answers a PING."""
    if not redis_answers(settings):
        raise ServiceUnavailableError(
            f"no Redis answers at {settings.redis_url_for_display}; {GET_REDIS}"
        )


def require_broker(settings: Settings) -> None:
    """Raise ServiceUnavailableError, saying how to get one, unless a bootstrap server accepts
    a TCP connection (Kafka clients would log a retry per attempt before giving up)."""
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            address = (host.strip("[]") or "127.0.0.1", int(port))
            with socket.create_connection(address, timeout=SERVICE_CHECK_TIMEOUT_SECONDS):
                return
        except (OSError, ValueError):
            continue
    raise ServiceUnavailableError(
        f"no Kafka broker answers at {settings.broker_url}; start one with `escalator broker`, "
        "or point ESCALATOR_BROKER_URL at a running Kafka"
    )


@contextmanager
def answering_redis(
    settings: Settings, workdir: Path, announce: Callable[[str], None]
) -> Iterator[Settings]:
    """``settings`` when its Redis answers; otherwise settings pointing at a private
    ``redis-server`` started in ``workdir`` for the duration (``announce`` is told where) and
    stopped afterwards, with everything it held."""
    if redis_answers(settings):
        yield settings
        return
    server = EmbeddedRedis(workdir)
    try:
        server.start()
    except EmbeddedRedisError as exc:
        raise ServiceUnavailableError(
            f"no Redis answers at {settings.redis_url_for_display} and none could be started: "
            f"{exc}; or point REDIS_URL at a running Redis"
        ) from None
    announce(
        f"no Redis answers at {settings.redis_url_for_display}: started a private redis-server "
        f"on {server.host}:{server.port} (stopped at the end, with what it held)"
    )
    try:
        yield settings.model_copy(
            update={
                "redis_url": SecretStr(server.url),
                "redis_username": None,
                "redis_password": None,
            }
        )
    finally:
        server.stop()


def _probe() -> int:
    """0 when a Redis answers at ``REDIS_URL``, else 1 (the demo explains any error)."""
    try:
        return 0 if redis_answers(load_settings()) else 1
    except EscalatorError:
        return 1


if __name__ == "__main__":
    raise SystemExit(_probe())
