"""One worker's shield: the parts its two layers share, and what they say to a visitor.

The waiting-room endpoints (``waiting.py``) and the admission layer (``admission.py``) both read the
visitor's pass and ticket, give places, and answer with the waiting page, a 429 or a 503; the room,
the admission limiter, its CPU budgets, the hash lane, the per-client limits and the counts the
metrics read live here, once per worker. The app builds one ``Shield`` and hands it to both layers
(``haven.app.compose``).

The shield imports no feature: the app gives it the layout its pages are drawn in, the busy page and
the addresses whose POST hashes a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final
from urllib.parse import parse_qs

from haven.settings import Settings
from haven.shield.admin import Audit
from haven.shield.budget import Budget
from haven.shield.costs import Kind, cost_ms
from haven.shield.lane import Lane, Origin
from haven.shield.limiter import Limiter, Priority, Shed, watch_loop_lag
from haven.shield.pages import STATUS_PATH, State, View, WaitingPages
from haven.shield.public import PublicState
from haven.shield.ratelimits import open_limits
from haven.shield.room import Place, Room, RoomSettings
from haven.shield.store import Store
from haven.shield.store.memory import MemoryStore
from haven.shield.store.saved import SavedRoom
from haven.shield.tokens import Pass, Refused, Signer, Ticket
from haven.shield.work import Work
from haven.web.asgi import Scope, Send, client_of, name_route, read_cookies
from haven.web.cookies import HOLDER_COOKIE, PASS_COOKIE, TICKET_COOKIE, Cookies
from haven.web.i18n import Language
from haven.web.pagecache import send_body
from haven.web.security import unsign
from haven.web.templates import Layout

logger = logging.getLogger("haven.shield")

# argon2id holds a core for about 170 ms: hashes wait in a lane of their own, HASH_SLOTS at once per
# worker and at most HASH_WAIT seconds, so that they never fill the limit that pages need.
HASH_SLOTS: Final = 2
HASH_WAIT: Final = 0.5  # a sign-in answers within half a second and a hash, or is told to retry
HASH_PRESSURE: Final = 0.25  # a wait in the lane longer than this counts as pressure
HTML: Final = b"text/html; charset=utf-8"
JSON: Final = b"application/json"
# The API's own error shape (``ErrorOut`` in its OpenAPI document), so clients parse one format.
BUSY_JSON: Final = (
    b'{"error": {"status": 503, "message": "Haven is busy. Try again after the seconds in Retry-After."}}'
)
TOO_MANY_JSON: Final = (
    b'{"error": {"status": 429, "message": "Too many requests from this client. Try again after the '
    b'seconds in Retry-After."}}'
)
BUSY_ROUTE: Final = "busy"  # the route class of a request shed before it reached its route
Headers = list[tuple[bytes, bytes]]


class RecentLatencies:
    """How long the requests let through took, over the last ``span`` seconds (the newest ``size``
    at most): the p99 each worker reports for the operators' console."""

    def __init__(self, span: float = 10.0, size: int = 4096) -> None:
        self.span = span
        self._samples: deque[tuple[float, float]] = deque(maxlen=size)

    def add(self, at: float, seconds: float) -> None:
        self._samples.append((at, seconds))

    def p99(self, now: float) -> float | None:
        """The 99th percentile (nearest rank) of the span's latencies, None without any."""
        samples = self._samples
        while samples and samples[0][0] < now - self.span:
            samples.popleft()
        if not samples:
            return None
        ordered = sorted(seconds for _, seconds in samples)
        return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


class Shield:
    """The shield's parts in one worker, their lifecycle (the room's ticks, the loop-lag watch) and
    the operations both of its layers perform for a visitor."""

    def __init__(
        self,
        settings: Settings,
        layout: Layout,
        busy_page: bytes,
        store: Store,
        *,
        limiter: Limiter | None = None,
        room_settings: RoomSettings | None = None,
        hash_wait: float = HASH_WAIT,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.signer = Signer([settings.secret_key, *settings.shield_old_keys])
        self.limiter = limiter or Limiter(min_limit=16, initial_limit=20)
        self.lane = Lane(HASH_SLOTS, hash_wait, HASH_PRESSURE, self.limiter.note_pressure)
        self.budget = Budget(self.limiter, lambda: not self.room.admits_directly())
        room_settings = room_settings or RoomSettings(
            name=settings.room,
            place_kept=settings.place_kept_minutes * 60.0,
            # Long enough for the longest claim window: the place kept, or a turn email's link.
            history=max(1800.0, settings.place_kept_minutes * 60.0, settings.turn_link_minutes * 60.0 + 300),
            pass_seconds=settings.pass_minutes * 60.0,
            start_rate=float(settings.admit_start),
            failover_grace=float(settings.redis_failover_seconds) if settings.redis_sentinels else 0.0,
        )
        self.room = Room(store, self.signer, Origin(self.limiter, self.lane), room_settings, now=now)
        self.pages = WaitingPages(layout, self.room.settings.place_kept, settings.join_work)
        self.work = Work(self.signer, room_settings.name, settings.join_work, now)
        self.limits = open_limits(settings)
        self.cookies = Cookies.from_settings(settings)
        self.busy_page = busy_page
        self.latencies = RecentLatencies()
        # Where the operators' API records each change (the console's audit log, once the app runs).
        self.audit: Audit | None = None
        self.refused: dict[tuple[str, str], int] = {}  # (cookie, reason) -> count
        self.sheds: dict[str, int] = {}  # "rate" -> 429s sent (the limiter and the lane count theirs)
        self._tasks: list[asyncio.Task[None]] = []
        # Called with the room's public state after every tick (the app publishes the state
        # document and the live status page with them; the turn emails go out from one).
        self.after_tick: list[Callable[[PublicState], Awaitable[None]]] = []

    # Lifecycle ---------------------------------------------------------------------------------------

    _saved: SavedRoom | None = None  # where the line is written when the shield stops (None: nowhere)

    def start(self) -> None:
        store = self.room.shared
        if isinstance(store, MemoryStore):
            # The default store keeps the line in this process: it is carried over a clean restart
            # (``store/saved.py``), read back before the first tick. A shared store needs none of
            # this, and its local stand-in is never kept: those places are not places in its line.
            self._saved = SavedRoom(store, self.settings.var_dir)
            self._saved.restore(self.room.now())
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._ticker()), loop.create_task(watch_loop_lag(self.limiter))]

    async def _ticker(self) -> None:
        every = self.room.settings.tick_seconds
        while True:
            try:
                await self.room.tick()
            except Exception:
                logger.exception("waiting-room tick failed")
            try:
                await self.room.stores.report(
                    self.room.name, self.worker_id, json.dumps(self.report()), self.room.now()
                )
            except Exception:
                logger.exception("reporting this worker's view failed")
            public = self.room.public
            for hook in self.after_tick:
                try:
                    await hook(public)
                except Exception:
                    logger.exception("after-tick hook %s failed", getattr(hook, "__qualname__", hook))
            await asyncio.sleep(every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._saved is not None:  # after the last tick: nothing moves the line any more
            self._saved.save(self.room.now())
            self._saved = None
        await self.limits.close()
        await self.room.shared.close()

    # Figures -----------------------------------------------------------------------------------------

    def worker(self) -> dict[str, object]:
        """This worker's side of the shield, for operators and the metrics."""
        limiter = self.limiter
        return {
            "limit": round(limiter.limit, 1),
            "in_flight": limiter.in_flight,
            "queued": limiter.queued,
            "at_capacity": limiter.at_capacity(),
            "sheds": self.shed_counts(),
            "hash_lane": {"busy": self.lane.busy, "waiting": self.lane.waiting, "slots": self.lane.slots},
            "refused_cookies": {f"{name}:{reason}": n for (name, reason), n in self.refused.items()},
        }

    @property
    def worker_id(self) -> str:
        """This worker among all of the cluster's: its host's address and port, and its process."""
        return f"{self.settings.host}:{self.settings.port}/{os.getpid()}"

    def report(self) -> dict[str, object]:
        """What this worker reports at each tick for the cluster's view (``haven room status``)."""
        room, limiter = self.room, self.limiter
        p99 = self.latencies.p99(time.monotonic())
        return {
            "worker": self.worker_id,
            "degraded": room.degraded,
            "admission_rate": round(room.rate, 2),
            "line_speed": round(room.speed, 2),
            "limit": round(limiter.limit, 1),
            "in_flight": limiter.in_flight,
            "pressure": round(limiter.pressure(), 3),
            "admitted": room.admitted,
            "joins": room.joins,
            "arrivals": room.joins + room.direct,
            "sheds": sum(self.shed_counts().values()),
            "shed_reasons": self.shed_counts(),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        }

    def shed_counts(self) -> dict[str, int]:
        """Requests shed, by reason: the limiter's (its CPU budgets' included), the lane's and the
        rate limits'."""
        return {**self.limiter.sheds, "hash_lane": self.lane.sheds, **self.sheds}

    # Admission by cost ---------------------------------------------------------------------------------

    def spend(self, priority: Priority, kind: Kind) -> int | None:
        """Admit a request that never waits by what it costs (``budget.py``): None if it may go on,
        else the ``Retry-After`` seconds of the 503 it gets."""
        try:
            self.budget.spend(priority, cost_ms(kind))
        except Shed as shed:
            return shed.retry_after
        return None

    async def admit_miss(self, scope: Scope, send: Send) -> bool:
        """Whether a query page that missed the page cache may be rendered now (``FinishedPages``'s
        gate): at once for people already in, within the anonymous budget for everyone else; when
        not, the 503 is sent here."""
        priority = Priority.IN if self.read_pass(read_cookies(scope)) is not None else Priority.ANONYMOUS
        retry = self.spend(priority, "query_miss")
        if retry is None:
            return True
        name_route(scope, BUSY_ROUTE)
        await self.busy(scope, send, retry, [])
        return False

    # The visitor -------------------------------------------------------------------------------------

    def address(self, scope: Scope) -> str:
        return client_of(scope, self.settings.behind_proxy)

    def read_pass(self, cookies: dict[str, str]) -> Pass | None:
        """The visitor's pass if it verifies; a refused one is counted and treated as absent."""
        token = cookies.get(PASS_COOKIE)
        if not token:
            return None
        try:
            return self.room.read_pass(token)
        except Refused as refusal:
            self._refused(PASS_COOKIE, refusal)
            return None

    def read_ticket(self, cookies: dict[str, str]) -> Ticket | None:
        token = cookies.get(TICKET_COOKIE)
        if not token:
            return None
        try:
            return self.room.read_ticket(token)
        except Refused as refusal:
            self._refused(TICKET_COOKIE, refusal)
            return None

    def _refused(self, name: str, refusal: Refused) -> None:
        key = (name, refusal.reason)
        self.refused[key] = self.refused.get(key, 0) + 1

    def pass_cookie(self, scope: Scope, token: str) -> tuple[bytes, bytes]:
        return self.cookies.header(scope, PASS_COOKIE, token, int(self.room.settings.pass_seconds))

    async def claim(self, scope: Scope, ticket: Ticket) -> Headers | None:
        """The cookies of a turn that has come (the pass, and the spent ticket cleared), or None."""
        claimed = await self.room.claim(ticket)
        if claimed is None:
            return None
        return [self.pass_cookie(scope, claimed[1]), self.cookies.deletion(scope, TICKET_COOKIE)]

    async def place(
        self, scope: Scope, cookies: dict[str, str], ticket: Ticket | None, *, counted: bool = False
    ) -> tuple[Place | int | View, tuple[bytes, bytes] | None]:
        """The visitor's place, joining when they have none (with the new ticket's cookie): or 429
        (too many joins from their address, unless ``counted`` already), or the proof-of-work page
        when the room asks for one and it was not done."""
        room = self.room
        if ticket is not None:
            place = await room.place(ticket)
            if not place.lapsed:
                return place, None
        if scope["method"] == "HEAD":  # a look, not a visit: no place is taken
            return View("lapsed"), None
        if self.work.bits:
            answer = parse_qs(scope["query_string"].decode("latin-1")).get("work", [""])[0]
            if not self.work.check(answer):
                return View("working", challenge=self.work.challenge()), None
        if not counted and not await self.limits.allow_join(self.address(scope)):
            return 429, None
        holder = unsign(cookies.get(HOLDER_COOKIE), self.settings.secret_key, HOLDER_COOKIE) or ""
        ticket, token = await room.join(holder)
        place = await room.place(ticket)
        cookie = self.cookies.header(scope, TICKET_COOKIE, token, int(room.settings.ticket_lifetime))
        return place, cookie

    def view(self, place: Place | View, target: str) -> View:
        """What the page says about a place (or a view already decided), going on to ``target``."""
        if isinstance(place, View):
            return replace(place, next=target)
        state: State
        room = self.room
        before_draw = room.state.mode == "event" and room.state.prequeue < 0
        number = None if before_draw else room.effective(place.ticket.number)
        if place.reached:
            state = "your-turn"
        elif place.lapsed:
            state = "lapsed"
        elif place.opens_at and self.room.state.prequeue < 0:
            state = "before-opening"
        else:
            state = "waiting"
        return View(
            state, place.position, place.eta_low, place.eta_high, place.opens_at, target, number=number
        )

    # Answers -----------------------------------------------------------------------------------------

    async def send_page(
        self, scope: Scope, send: Send, lang: Language | None, view: View, cookie_headers: Headers
    ) -> None:
        """The waiting page: 503 while waiting (with ``Retry-After``), 200 when it is the visitor's
        turn or there is no queue."""
        status = 200 if view.state in ("your-turn", "not-queueing") else 503
        extra = [*cookie_headers, (b"x-robots-tag", b"noindex")]
        if status == 503:
            extra.append((b"retry-after", str(int(view.check_again(self.room.speed)) or 5).encode()))
        body = self.pages.page(lang, view, self.room.speed)
        await send_body(send, status, body, HTML, extra=extra, head=scope["method"] == "HEAD")

    async def too_many(self, scope: Scope, send: Send) -> None:
        """429 for one client sending far more than a person could: JSON to the API, a page to people."""
        self.sheds["rate"] = self.sheds.get("rate", 0) + 1
        path: str = scope["path"]
        api = path.startswith("/api/") or path == STATUS_PATH
        body, content_type = (TOO_MANY_JSON, JSON) if api else (self.pages.too_many(), HTML)
        retry = str(self.limits.retry_after).encode()
        await send_body(send, 429, body, content_type, extra=[(b"retry-after", retry)])

    async def busy(self, scope: Scope, send: Send, retry_after: int, cookie_headers: Headers) -> None:
        """503 for a request the origin cannot take now, with the cookies given on the way in."""
        path: str = scope["path"]
        api = path.startswith("/api/") or path == STATUS_PATH
        body, content_type = (BUSY_JSON, JSON) if api else (self.busy_page, HTML)
        extra = [(b"retry-after", str(retry_after).encode()), *cookie_headers]
        await send_body(send, 503, body, content_type, extra=extra)
