"""Operations endpoints, answered before any framework: liveness, readiness and metrics.

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
from haven.web.asgi import Message, Scope, Send
from haven.web.pagecache import GET_OR_HEAD, NO_STORE, send_method_not_allowed, send_plain

OpsHandler = Callable[[Scope, Send], Awaitable[int]]
ROUTE_CLASS: Final = "ops"


def ops_handlers(metrics: RequestMetrics, engine: Callable[[], AsyncEngine | None]) -> dict[str, OpsHandler]:
    """Handlers by exact path. ``engine`` returns the engine once the app has started."""

    async def healthz(scope: Scope, send: Send) -> int:
        await send_plain(send, 200, "ok\n")
        return 200

    async def readyz(scope: Scope, send: Send) -> int:
        current = engine()
        if current is not None and await is_ready(current):
            await send_plain(send, 200, "ready\n")
            return 200
        await send_plain(send, 503, "database unavailable\n", extra=[(b"retry-after", b"5")])
        return 503

    async def metrics_text(scope: Scope, send: Send) -> int:
        body = metrics.render()
        headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", NO_STORE.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200

    def get_only(handler: OpsHandler) -> OpsHandler:
        async def guarded(scope: Scope, send: Send) -> int:
            if scope["method"] not in GET_OR_HEAD:
                await send_method_not_allowed(send)
                return 405
            if scope["method"] == "HEAD":
                return await handler(scope, _without_body(send))
            return await handler(scope, send)

        return guarded

    return {
        "/healthz": get_only(healthz),
        "/readyz": get_only(readyz),
        "/metrics": get_only(metrics_text),
    }


def _without_body(send: Send) -> Send:
    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send
