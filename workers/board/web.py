"""The live board on the worker's web server: two pages, their static files and the JSON they poll.

The pages poll ``/board/api/...`` every 1.5 s rather than hold a Server-Sent Events stream.
Escalations wait in Redis, which has no change feed that also reports entries leaving their
streams (accepts, withdrawals), so a push endpoint would still poll Redis, once per viewer,
and hold a connection open per viewer in the worker. Polling one cheap read keeps each
worker stateless towards viewers, goes through any proxy, needs no reconnect logic when a
worker restarts, and the waiting times must be refreshed every second or two anyway.

Every response forbids inline scripts and foreign origins (Content-Security-Policy): the
pages show chat text, which is hostile input, and insert it as text only.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol

import faust
import redis.asyncio as aioredis
from faust.web import Request, Response, View
from mode import Service

from workers.board.model import BoardSnapshot, board_json, find_session, session_json
from workers.board.source import BoardSource, BoardUnavailableError
from workers.decision import Policy
from workers.decision.policy import load_policy
from workers.queues.keys import QueueKeys
from workers.redis_clients import CHECK_TIMEOUT_SECONDS, async_client
from workers.settings import Settings

STATIC_FILES: Mapping[str, str] = {
    "board.html": "text/html",
    "session.html": "text/html",
    "board.css": "text/css",
    "common.js": "text/javascript",
    "board.js": "text/javascript",
    "session.js": "text/javascript",
}
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SnapshotSource(Protocol):
    """Where the board's entries come from (``BoardSource`` on Redis)."""

    async def snapshot(self) -> BoardSnapshot:
        """Every queue stream and its waiting entries."""
        ...


class BoardApi:
    """The JSON endpoints' answers as (status, body), apart from the web server so they are
    tested without one."""

    def __init__(
        self,
        source: SnapshotSource,
        policy: Policy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self._policy = policy
        self._clock = clock

    async def escalations(self) -> tuple[int, dict[str, Any]]:
        """Every queue with its waiting escalations; 503 while Redis does not answer."""
        try:
            snapshot = await self._source.snapshot()
        except BoardUnavailableError as exc:
            return 503, {"error": str(exc)}
        return 200, board_json(snapshot, self._policy, self._clock())

    async def session(self, session_id: str) -> tuple[int, dict[str, Any]]:
        """The session's waiting escalation in full; 404 once nothing of it waits (accepted,
        withdrawn, or never escalated)."""
        try:
            snapshot = await self._source.snapshot()
        except BoardUnavailableError as exc:
            return 503, {"error": str(exc)}
        entry = find_session(snapshot, session_id)
        if entry is None:
            return 404, {"error": "no escalation of this session waits in a queue"}
        return 200, session_json(entry, self._policy, self._clock())


def load_static_files() -> dict[str, bytes]:
    """The pages, styles and scripts shipped in ``workers/board/static`` (package data)."""
    folder = resources.files("workers.board").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC_FILES}


class BoardConnections(Service):
    """Closes the board's Redis connections when the worker stops."""

    def __init__(self, client: "aioredis.Redis", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    async def on_stop(self) -> None:
        await self.client.aclose()


def install_board(app: faust.App, settings: Settings, policy: Policy | None = None) -> None:
    """Serve the live board at ``/board`` on ``app``'s web server."""
    # A board request must answer within a poll or two, not hang, when Redis is away.
    client = async_client(settings, timeout=CHECK_TIMEOUT_SECONDS)
    app.add_dependency(BoardConnections(client))
    api = BoardApi(
        BoardSource(client, QueueKeys(settings.redis_prefix)),
        policy or load_policy(settings.policy_file),
    )
    files = load_static_files()

    def static(web: View, name: str) -> Response:
        return web.bytes(
            files[name], content_type=STATIC_FILES[name], headers=dict(SECURITY_HEADERS)
        )

    @app.page("/board")
    async def board_page(web: View, request: Request) -> Response:
        """The board: every queue's waiting escalations, refreshed live."""
        return static(web, "board.html")

    @app.page("/board/sessions/{session_id}")
    async def board_session_page(web: View, request: Request, **params: Any) -> Response:
        """One session's escalation: trend chart, matrix, evidence and handoff packet."""
        return static(web, "session.html")

    @app.page("/board/static/{name}")
    async def board_static(web: View, request: Request, **params: Any) -> Response:
        """Only the shipped files, by exact name: nothing else on disk is reachable."""
        name = str(params["name"])
        if name not in files:
            return web.json({"error": "not found"}, status=404, headers=dict(SECURITY_HEADERS))
        return static(web, name)

    @app.page("/board/api/escalations")
    async def board_escalations(web: View, request: Request) -> Response:
        """What the board polls."""
        status, body = await api.escalations()
        return web.json(body, status=status, headers=dict(SECURITY_HEADERS))

    @app.page("/board/api/sessions/{session_id}")
    async def board_session(web: View, request: Request, **params: Any) -> Response:
        """What the session view polls."""
        status, body = await api.session(str(params["session_id"]))
        return web.json(body, status=status, headers=dict(SECURITY_HEADERS))
