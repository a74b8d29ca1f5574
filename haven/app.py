"""``create_app(settings)``: the one place that wires Haven's features together, and ``compose``, the
one place the front is stacked.

Requests meet ``Haven`` first. Under Granian (RSGI) a finished page goes out in one call straight from
memory; everything else, and every request under ASGI, goes down the stack of middlewares that
``compose`` builds, outermost first:

    Metrics → FinishedPages → OpsEndpoints → TargetLimit → Operators → WaitingRoom → Admission
      → ProblemPage → FastAPI

(``Operators`` sends the console, under ``/admin``, straight to the bottom: past the room it steers.)

Reading Haven therefore never reaches the shield, the framework, the templates or the database; a
query page not rendered yet asks the shield first (``Shield.admit_miss``), since rendering costs
the core. The
README's "How it is built" draws the same stack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from time import perf_counter

from fastapi import FastAPI
from starlette.applications import Starlette

from haven import settings as settings_module
from haven.accounts import routes as accounts_routes
from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.accounts.paths import password_paths
from haven.checker import api as checker_api
from haven.checker import routes as checker_routes
from haven.console import pages as console_pages
from haven.console import routes as console_routes
from haven.console.figures import Sampler, reader
from haven.console.paths import PREFIX as CONSOLE_PREFIX
from haven.content import search
from haven.content.site import ACCOUNT_KEY, REPORT_KEY, Site, build_site
from haven.feedback import routes as feedback_routes
from haven.feedback.paths import PATHS as FEEDBACK_PATHS
from haven.mail.metrics import MailExporter
from haven.ops.health import OpsEndpoints, Readiness
from haven.ops.metrics import Metrics, RequestMetrics
from haven.profiles import noc_pages
from haven.profiles import paths as profile_paths
from haven.profiles import routes as profiles_routes
from haven.rounds.public import RoundsBoard
from haven.services import Services
from haven.shield.admin import ADMIN_PATH
from haven.shield.admission import Admission
from haven.shield.core import Shield
from haven.shield.metrics import ShieldExporter
from haven.shield.public import NOT_YET, STATE_PATH, PublicState
from haven.shield.status_page import StatusPages
from haven.shield.store import open_store
from haven.shield.waiting import WaitingRoom
from haven.turnmail.routes import routes as turnmail_routes
from haven.turnmail.service import TurnMail
from haven.web import apidocs
from haven.web.asgi import ASGIApp, Receive, Scope, Send
from haven.web.clock import Clock, SystemClock
from haven.web.errors import ErrorPages, install_error_handlers
from haven.web.i18n import LANGUAGES
from haven.web.layers import MAX_TARGET_BYTES, FinishedPages, Operators, ProblemPage, TargetLimit
from haven.web.pagecache import CachedResponse
from haven.web.personal import Personal
from haven.web.querypages import Miss, QueryPages
from haven.web.rsgi import RSGILoop, RSGIProtocol, RSGIScope, call_asgi


class Haven:
    """What the server runs: the ASGI entry into the stack, Granian's RSGI entry with its fast path
    for finished pages, and the one lifespan (``start``/``stop``) both interfaces share."""

    def __init__(
        self,
        settings: settings_module.Settings,
        clock: Clock,
        front: ASGIApp,
        *,
        site: Site,
        responses: Mapping[str, CachedResponse],
        query_pages: QueryPages,
        metrics: RequestMetrics,
        readiness: Readiness,
        personal: Personal,
        framework: ASGIApp,
        shield: Shield | None,
        board: RoundsBoard,
        console: console_pages.Console,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.front = front  # the middleware stack, outermost layer first
        self.site = site
        self.responses = responses
        self.query_pages = query_pages
        self.metrics = metrics
        self.readiness = readiness
        self.personal = personal
        self.framework = framework
        self.shield = shield
        self.board = board
        self.console = console
        self._services: Services | None = None  # built when the app starts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.front(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":  # Haven serves none: refuse the handshake
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async def __rsgi__(self, scope: RSGIScope, protocol: RSGIProtocol) -> None:
        """Granian's RSGI entry. A finished page is a dictionary lookup and one call, before any
        middleware (the same answer ``FinishedPages`` gives under ASGI, counted into the same
        metrics); everything else crosses the bridge into the stack."""
        if scope.proto != "http":  # websockets are off in Granian; nothing else reaches here
            return
        started = perf_counter()
        path = scope.path
        cached: CachedResponse | Miss | None = self.responses.get(path)
        if cached is None and len(path) + len(scope.query_string) <= MAX_TARGET_BYTES:
            cached = self.query_pages.lookup(path, scope.query_string.encode("latin-1", "replace"))
        if cached is None or isinstance(cached, Miss):
            # A query page not rendered yet is admitted by its cost first: down the stack.
            await call_asgi(self.front, scope, protocol)
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
        self._services.board = self.board
        self.board.start(self._services.rounds)
        self.readiness.engine = self._services.engine
        if isinstance(self.framework, Starlette):  # where its routes find the services
            self.framework.state.services = self._services
        if self.shield is not None:
            self.shield.audit = self._services.operators.audit_hook
            self.shield.start()
        if self.console.sampler is not None:
            self.console.sampler.start()
        self.metrics.start()

    async def stop(self) -> None:
        await self.board.stop()
        if self.console.sampler is not None:
            await self.console.sampler.stop()
        await self.metrics.stop()
        if self.shield is not None:
            await self.shield.stop()
        if self._services is not None:
            self.readiness.engine = None
            await self._services.stop()
            self._services = None

    def __rsgi_init__(self, loop: RSGILoop) -> None:
        loop.run_until_complete(self.start())

    def __rsgi_del__(self, loop: RSGILoop) -> None:
        loop.run_until_complete(self.stop())

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
    """The FastAPI app at the bottom of the stack: dynamic pages and the JSON API."""
    app = FastAPI(
        title="Haven API",
        version="1",
        summary="Immigration eligibility and points calculators: stateless, cookie-free, bilingual.",
        docs_url=None,  # served from memory as a page of our own (no third-party script)
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.clock = clock
    install_error_handlers(app, ErrorPages(not_found=site.not_found, problem=site.problem, busy=site.busy))
    app.include_router(checker_api.router)
    app.include_router(accounts_routes.build_router())
    app.include_router(profiles_routes.build_router())
    app.include_router(console_routes.build_router())
    app.include_router(feedback_routes.build_router())
    return app


def create_app(settings: settings_module.Settings, *, clock: Clock | None = None) -> Haven:
    clock = clock or SystemClock()
    # The header links to the account's home, a route of the accounts feature.
    links = {
        **checker_routes.links(),
        ACCOUNT_KEY: dict(ACCOUNT_PATHS["home"]),
        REPORT_KEY: dict(FEEDBACK_PATHS["report"]),  # the footer's "report a problem"
    }
    site = build_site(settings, dynamic_links=links)
    framework = create_framework(site, clock)
    docs = apidocs.render_docs(site.renderer, site.base_url, framework.openapi())
    board = RoundsBoard.of(site)  # the calculators show its cut-offs beside a score
    return compose(
        settings,
        clock,
        site,
        {**site.responses, apidocs.PATH: docs},
        QueryPages(
            {
                **checker_routes.page_routes(site, board.cutoffs),
                **search.routes(site),
                **noc_pages.routes(site),
            },
            clock,
        ),
        framework,
        board=board,
    )


def compose(
    settings: settings_module.Settings,
    clock: Clock,
    site: Site,
    responses: Mapping[str, CachedResponse],
    query_pages: QueryPages,
    framework: ASGIApp,
    *,
    shield: Shield | None = None,
    board: RoundsBoard | None = None,
) -> Haven:
    """Stack the front on ``framework``, from the bottom up (each layer wraps the one below it).
    With ``HAVEN_SHIELD`` on, the shield is ``shield``, or one on the store ``HAVEN_REDIS_URL`` names
    (tests bring their own, and a stand-in for the framework)."""
    # With several workers, each publishes its figures there so that a scrape of any shows them all.
    metrics = RequestMetrics(settings.var_dir / "metrics" if settings.workers > 1 else None)
    readiness = Readiness()
    metrics.registry.register(MailExporter())  # what this process's mail sweeps did
    responses = dict(responses)  # the shield publishes its state document here at every tick
    # The rounds of invitations: pages made again when a round is recorded, and the query pages
    # (which show the latest cut-offs) forgotten then.
    board = board or RoundsBoard.of(site)
    board.attach(responses)
    board.on_change.append(query_pages.clear)
    front: ASGIApp = ProblemPage(framework, site.problem, site.busy)
    turnmail: TurnMail | None = None
    if settings.shield and shield is None:
        shield = Shield(settings, site, site.busy.body, open_store(settings))
    # The live service status page: the room's state in words, finished once a tick.
    status_pages = StatusPages(
        site.renderer,
        {lang: site.live_pages[(lang, "service-status")] for lang in LANGUAGES},
        room=shield is not None,
    )
    if shield is None:
        responses.update(status_pages.responses)  # no room: the page says so, from memory
    else:
        status_pages.update(shield.room.public)
        shield.after_tick.append(status_pages.after_tick)
    if shield is not None:
        front = Admission(
            front,
            shield,
            password_paths(),
            profile_prefixes=profile_paths.BASE.values(),
            submit_slugs=profile_paths.SLUGS["submit"].values(),
        )
        turnmail = TurnMail(settings, shield)  # "email me when it's my turn"
        shield.after_tick.append(turnmail.on_tick)
        extra = {
            address: ProblemPage(page, site.problem, site.busy)
            for address, page in turnmail_routes(turnmail).items()
        }
        front = WaitingRoom(front, shield, routes={**extra, **status_pages.routes()})
        metrics.registry.register(ShieldExporter(shield))
        publish_room_state(shield, responses)
    # The operators' console: never queued by the room it steers, never from a cache.
    console = console_pages.Console(shield)
    if shield is not None:
        console.sampler = Sampler(reader(shield.room.store, shield.room.name, shield.room.now))
    if isinstance(framework, Starlette):
        framework.state.console = console
    front = Operators(
        front, ProblemPage(framework, site.problem, site.busy), CONSOLE_PREFIX, frozenset({ADMIN_PATH})
    )
    front = TargetLimit(front)
    front = OpsEndpoints(front, metrics, readiness)
    front = FinishedPages(front, responses, query_pages, None if shield is None else shield.admit_miss)
    front = Metrics(front, metrics)
    haven = Haven(
        settings,
        clock,
        front,
        site=site,
        responses=responses,
        query_pages=query_pages,
        metrics=metrics,
        readiness=readiness,
        personal=Personal(site, settings),
        framework=framework,
        shield=shield,
        board=board,
        console=console,
    )
    if turnmail is not None:
        turnmail.bind(lambda: haven.services)  # the email road writes once the app has started
    return haven


def publish_room_state(shield: Shield, responses: dict[str, CachedResponse]) -> None:
    """Serve the room's public state as a finished page (the RSGI fast path included), replaced
    at every tick: the polls that reach the origin cost it a dictionary lookup."""
    responses[STATE_PATH] = shield.room.public.response if not shield.settings.shared_room else NOT_YET

    async def publish(public: PublicState) -> None:
        if shield.room.known or not shield.settings.shared_room:
            responses[STATE_PATH] = public.response

    shield.after_tick.append(publish)


def build() -> Haven:
    """Factory the server calls in each worker process: settings from the environment."""
    settings = settings_module.load()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return create_app(settings)
