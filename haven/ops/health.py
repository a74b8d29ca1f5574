"""Operations endpoints, answered before the shield and the framework: liveness, readiness and metrics.

``/healthz`` says the process can answer (it touches nothing else, so a slow database never gets a
healthy worker restarted); ``/readyz`` says the database answers too, so a load balancer can stop
sending traffic to a worker that cannot serve applicants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from haven.db import is_ready
from haven.ops.metrics import CONTENT_TYPE, RequestMetrics
from haven.web.asgi import ASGIApp, Message, Receive, Scope, Send, name_route
from haven.web.pagecache import GET_OR_HEAD, NO_STORE, send_method_not_allowed, send_plain

OpsHandler = Callable[[Scope, Send], Awaitable[None]]
ROUTE_CLASS: Final = "ops"


class Readiness:
    """What ``/readyz`` asks: whether the database of the running process answers. The app gives it
    the engine when it starts and takes it back when it stops; before that, it is not ready."""

    def __init__(self) -> None:
        self.engine: AsyncEngine | None = None

    async def ready(self) -> bool:
        return self.engine is not None and await is_ready(self.engine)


class OpsEndpoints:
    """``/healthz``, ``/readyz`` and ``/metrics`` by exact path (GET and HEAD); the rest goes on."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, readiness: Readiness) -> None:
        self.app = app
        self.metrics = metrics
        self.readiness = readiness
        self.handlers: dict[str, OpsHandler] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/metrics": self.metrics_text,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        name_route(scope, ROUTE_CLASS)
        if scope["method"] not in GET_OR_HEAD:
            await send_method_not_allowed(send)
        elif scope["method"] == "HEAD":
            await handler(scope, _without_body(send))
        else:
            await handler(scope, send)

    async def healthz(self, scope: Scope, send: Send) -> None:
        await send_plain(send, 200, "ok\n")

    async def readyz(self, scope: Scope, send: Send) -> None:
        if await self.readiness.ready():
            await send_plain(send, 200, "ready\n")
        else:
            await send_plain(send, 503, "database unavailable\n", extra=[(b"retry-after", b"5")])

    async def metrics_text(self, scope: Scope, send: Send) -> None:
        body = self.metrics.render()
        headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", NO_STORE.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _without_body(send: Send) -> Send:
    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send
