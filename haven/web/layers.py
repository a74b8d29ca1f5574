"""The front's general layers, each an ASGI middleware of one concern: finished pages from memory,
the limit on the request target, and the problem page for a failure nobody answered.

``haven.app.compose`` stacks them with the operations endpoints, the metrics and the shield; the
README's "How it is built" draws the stack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from haven.db import dropped_connection
from haven.web.asgi import ASGIApp, Noted, Receive, Scope, Send, name_route, target_length
from haven.web.pagecache import CachedResponse, send_plain
from haven.web.querypages import Miss, QueryPages

# Longer request targets are refused before any routing: no page of ours is near this long, and
# routing or logging a megabyte of path is work an attacker should not get for free.
MAX_TARGET_BYTES: Final = 2048
# Whether a query page may be rendered now; when not, the gate has answered the request itself.
MissGate = Callable[[Scope, Send], Awaitable[bool]]
logger = logging.getLogger("haven")


class FinishedPages:
    """Answers from memory what was rendered ahead of time: the site's pages, assets and sitemap by
    exact path, and query pages (calculators, the eligibility check) from their LRU. Such answers are
    never queued and never reach the application. A query page not rendered yet costs the core its
    rendering: ``admit_miss``, when given (the shield's), decides first whether it may, and answers
    the request itself when not."""

    def __init__(
        self,
        app: ASGIApp,
        responses: Mapping[str, CachedResponse],
        query_pages: QueryPages,
        admit_miss: MissGate | None = None,
    ) -> None:
        self.app = app
        self.responses = responses
        self.query_pages = query_pages
        self.admit_miss = admit_miss

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cached = self.responses.get(path)
        if cached is None and target_length(scope) <= MAX_TARGET_BYTES:
            # A query page over the limit is refused further down, as any other long target is.
            found = self.query_pages.lookup(path, scope["query_string"])
            if isinstance(found, Miss):
                if self.admit_miss is not None and not await self.admit_miss(scope, send):
                    return
                found = self.query_pages.render(found)
            cached = found
        if cached is None:
            await self.app(scope, receive, send)
            return
        name_route(scope, cached.route_class)
        await cached.serve(scope, send)


class TargetLimit:
    """Refuses a request target longer than ``MAX_TARGET_BYTES`` with a 414."""

    def __init__(self, app: ASGIApp, limit: int = MAX_TARGET_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and target_length(scope) > self.limit:
            name_route(scope, "refused")
            await send_plain(send, 414, "URI Too Long\n")
            return
        await self.app(scope, receive, send)


class ProblemPage:
    """Right above the application: a failure it did not answer gets the bilingual problem page
    (500), or the busy page (503 with ``Retry-After``) when the database's connection failed, and
    is logged once, here. A failure after the answer started cannot change it: it is
    only logged."""

    def __init__(self, app: ASGIApp, page: CachedResponse, busy: CachedResponse | None = None) -> None:
        self.app = app
        self.page = page
        self.busy = busy  # answered instead (503) when the failure is the database's connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        noted = Noted(send)
        try:
            await self.app(scope, receive, noted)
        except Exception as error:
            if dropped_connection(error):  # the database restarting or failing over: busy, not broken
                logger.warning("database away on %s %s: %s", scope["method"], scope["path"], error)
                if noted.status == 0 and self.busy is not None:
                    await self.busy.send_as_is(scope, send)
                    return
            else:
                logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if noted.status == 0:
                await self.page.send_as_is(scope, send)


class Operators:
    """Sends the operators' console (every address under ``prefix`` but the room's own JSON API,
    which the waiting room answers) straight to ``console``: past the waiting room and the
    admission limiter it steers, so that operators get in first whatever the crowd. Everything else
    goes on to ``app``."""

    def __init__(self, app: ASGIApp, console: ASGIApp, prefix: str, keep: frozenset[str]) -> None:
        self.app = app
        self.console = console
        self.prefix = prefix
        self.keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if (path == self.prefix or path.startswith(self.prefix + "/")) and path not in self.keep:
            name_route(scope, "console")
            await self.console(scope, receive, send)
            return
        await self.app(scope, receive, send)
