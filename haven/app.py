"""``create_app(settings)``: the one place that wires Haven's features together.

Requests meet ``Haven`` first, a raw ASGI callable that answers everything rendered at start-up (content
pages, assets, sitemap) and the operations endpoints from memory, and hands the rest to the FastAPI app.
Reading Haven therefore never reaches the framework, the templates or the database.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any, Final

from fastapi import FastAPI

from haven import settings as settings_module
from haven.accounts import routes as accounts_routes
from haven.checker import api as checker_api
from haven.checker import routes as checker_routes
from haven.content.site import Site, build_site
from haven.ops.health import ops_handlers
from haven.ops.metrics import RequestMetrics
from haven.profiles import routes as profiles_routes
from haven.services import Services
from haven.shield.gate import Shield
from haven.shield.metrics import ShieldExporter
from haven.shield.pages import STATUS_PATH, WAITING_PATHS
from haven.shield.store import open_store
from haven.web import apidocs
from haven.web.asgi import ASGIApp, Message, Receive, Scope, Send
from haven.web.clock import Clock, SystemClock
from haven.web.errors import ErrorPages, install_error_handlers
from haven.web.pagecache import send_plain
from haven.web.personal import Personal
from haven.web.querypages import QueryPages
from haven.web.rsgi import call_asgi

# Longer request targets are refused before any routing: no page of ours is near this long, and
# routing or logging a megabyte of path is work an attacker should not get for free.
MAX_TARGET_BYTES: Final = 2048
logger = logging.getLogger("haven")


class Haven:
    """The ASGI application a server runs."""

    def __init__(
        self,
        settings: settings_module.Settings,
        site: Site,
        framework: ASGIApp,
        query_pages: QueryPages,
        personal: Personal,
        clock: Clock,
        shield: Shield | None = None,
    ) -> None:
        self.settings = settings
        self.shield = shield
        self.site = site
        self.framework = framework
        self.query_pages = query_pages
        self.personal = personal
        self.clock = clock
        self._services: Services | None = None  # built when the app starts
        self.metrics = RequestMetrics()
        self.responses = site.responses
        self.ops = ops_handlers(self.metrics, lambda: self._services.engine if self._services else None)
        if shield is not None:
            self.metrics.registry.register(ShieldExporter(shield))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":  # Haven serves none: refuse the handshake
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Granian's RSGI entry: finished pages go straight out; everything else takes the ASGI
        path through the bridge (where the 414 check, the operations endpoints, the framework and
        their metrics live)."""
        if scope.proto != "http":  # websockets are off in Granian; nothing else reaches here
            return
        started = perf_counter()
        path: str = scope.path
        cached = self.responses.get(path)
        if cached is None and len(path) + len(scope.query_string) <= MAX_TARGET_BYTES:
            page = self.query_pages.get(path)
            if page is not None:
                cached = self.query_pages.response(
                    path, page, scope.query_string.encode("latin-1", "replace")
                )
        if cached is None:
            await call_asgi(self, scope, protocol)
            return
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            status = cached.serve_rsgi(scope, protocol)
        finally:
            metrics.in_flight -= 1
        metrics.observe(cached.route_class, status, perf_counter() - started)

    @property
    def services(self) -> Services:
        """The services of the running app (there are none before it starts)."""
        if self._services is None:
            raise RuntimeError("Haven has not started: its services exist only while it runs")
        return self._services

    async def start(self) -> None:
        """Build the services and start the background work (the mail sweep, the room's ticks)."""
        self._services = await Services.open(self.settings, self.clock, self.personal)
        self.framework.state.services = self._services  # type: ignore[attr-defined]
        if self.shield is not None:
            self.shield.start()

    async def stop(self) -> None:
        if self.shield is not None:
            await self.shield.stop()
        if self._services is not None:
            await self._services.stop()
            self._services = None

    def __rsgi_init__(self, loop: Any) -> None:
        loop.run_until_complete(self.start())

    def __rsgi_del__(self, loop: Any) -> None:
        loop.run_until_complete(self.stop())

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            path: str = scope["path"]
            cached = self.responses.get(path)
            if cached is not None:
                route_class = cached.route_class
                status = await cached.serve(scope, send)
            elif (handler := self.ops.get(path)) is not None:
                route_class = "ops"
                status = await handler(scope, send)
            elif len(scope.get("raw_path") or path.encode()) + len(scope["query_string"]) > (
                MAX_TARGET_BYTES
            ):
                route_class = "refused"
                status = 414
                await send_plain(send, 414, "URI Too Long\n")
            elif (page := self.query_pages.get(path)) is not None:
                cached = self.query_pages.response(path, page, scope["query_string"])
                route_class = cached.route_class
                status = await cached.serve(scope, send)
            elif self.shield is not None:
                route_class = "room" if path in WAITING_PATHS or path == STATUS_PATH else "app"
                status = await self.shield(scope, receive, send, self._dynamic)
            else:
                route_class = "app"
                status = await self._dynamic(scope, receive, send)
        finally:
            metrics.in_flight -= 1
        metrics.observe(route_class, status, perf_counter() - started)

    async def _dynamic(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Hand over to the framework, noting the status it sends; a failure it did not answer gets
        the problem page, and is logged once, here."""
        status = 0

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.framework(scope, receive, noting_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status == 0:
                await self.site.problem.send_as_is(scope, send)
                status = 500
        return status

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_framework(site: Site, clock: Clock) -> FastAPI:
    """The FastAPI app behind the gate: dynamic pages and the JSON API."""
    app = FastAPI(
        title="Haven API",
        version="1",
        summary="Immigration eligibility and points calculators: stateless, cookie-free, bilingual.",
        docs_url=None,  # served from memory as a page of our own (no third-party script)
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.clock = clock
    install_error_handlers(app, ErrorPages(not_found=site.not_found, problem=site.problem))
    app.include_router(checker_api.router)
    app.include_router(accounts_routes.build_router())
    app.include_router(profiles_routes.build_router())
    return app


def create_app(settings: settings_module.Settings, *, clock: Clock | None = None) -> Haven:
    clock = clock or SystemClock()
    site = build_site(settings, dynamic_links=checker_routes.links())
    query_pages = QueryPages(checker_routes.page_routes(site), clock)
    personal = Personal(site, settings)
    framework = create_framework(site, clock)
    shield = Shield(settings, site, open_store(settings.redis_url)) if settings.shield else None
    haven = Haven(settings, site, framework, query_pages, personal, clock, shield)
    haven.responses = {**site.responses, apidocs.PATH: apidocs.render_docs(site, framework.openapi())}
    return haven


def build() -> Haven:
    """Factory the server calls in each worker process: settings from the environment."""
    settings = settings_module.load()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return create_app(settings)
