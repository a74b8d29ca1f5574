"""The gate: the shield's raw ASGI layer in front of every dynamic route.

Finished pages never reach it (``Haven`` answers them from memory first, and they are never queued).
For everything else it decides in O(1), from signed cookies and the room's counters, without awaiting
the database:

- the waiting page and the waiting-room status answer from the room;
- the cookie-free JSON API (``/api/…``) is anonymous: rate-limited per address, admitted as
  sheddable work;
- a visitor holding a valid pass goes to the admission limiter and on to the application
  (a POST is a submission: critical; anything else normal);
- a visitor without one is let in with a new pass while the room is idle, or given a ticket (or told
  their place) on the waiting page while it queues.

**Fail-closed, within bounds.** If the shared store stops answering, the room runs on in this process
(its own line, its own counter) and says so in the metrics; the limiter protects the origin either way.
Nothing is ever let through unbounded: a request the limiter cannot place is shed at once with a
prebuilt 503 and ``Retry-After``.

**Cost.** Requests are weighted by what they cost: a password hash (sign-up, sign-in, new password)
holds a core for about 170 ms at Haven's argon2id settings, where a dynamic page takes 2–3 ms and a
submission about 9 ms (``bench/results/accounts.json``; ``python -m bench.shield``). Hashes wait in a
lane of their own (``haven/shield/lane.py``) and never enter the limiter; there, a submission weighs
2 and a page 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final
from urllib.parse import parse_qs

from haven.accounts.paths import password_paths
from haven.content.site import Site
from haven.settings import Settings
from haven.shield.admin import ADMIN_PATH, operate
from haven.shield.lane import Lane, LaneFull, Origin
from haven.shield.limiter import Limiter, Priority, Shed, watch_loop_lag
from haven.shield.pages import (
    STATUS_PATH,
    WAITING_PATHS,
    State,
    View,
    WaitingPages,
    language_of,
)
from haven.shield.ratelimits import ClientLimits
from haven.shield.room import Place, Room, RoomSettings
from haven.shield.store import Store
from haven.shield.tokens import Pass, Refused, Signer, Ticket
from haven.shield.work import Work
from haven.web.asgi import Message, Receive, Scope, Send, header, read_cookies
from haven.web.i18n import Language
from haven.web.pagecache import send_body, send_method_not_allowed
from haven.web.personal import HOLDER_COOKIE
from haven.web.security import client_address, forwarded_https, safe_next, unsign

logger = logging.getLogger("haven.shield")

TICKET_COOKIE: Final = "haven_ticket"
PASS_COOKIE: Final = "haven_pass"  # noqa: S105 - a cookie name, not a secret
PAGE_COST: Final = 1.0
SUBMIT_COST: Final = 2.0  # a POST writes: about 9 ms of CPU against 2-3 ms for a page
# argon2id holds a core for about 170 ms: hashes wait in a lane of their own, HASH_SLOTS at once per
# worker and at most HASH_WAIT seconds, so that they never fill the limit that pages need.
HASH_SLOTS: Final = 2
HASH_WAIT: Final = 0.5  # a sign-in answers within half a second and a hash, or is told to retry
HASH_RETRY: Final = 2  # Retry-After (s) when the lane is full
HASH_PRESSURE: Final = 0.25  # a wait in the lane longer than this counts as pressure
HOLDER_RETRY_MAX: Final = 2  # people let in are shed only for a moment: they retry soon
PASSWORD_ROUTES: Final = password_paths()
App = Callable[[Scope, Receive, Send], Awaitable[int]]
# The API's own error shape (``ErrorOut`` in its OpenAPI document), so clients parse one format.
BUSY_JSON: Final = (
    b'{"error": {"status": 503, "message": "Haven is busy. Try again after the seconds in Retry-After."}}'
)
TOO_MANY_JSON: Final = (
    b'{"error": {"status": 429, "message": "Too many requests from this client. Try again after the '
    b'seconds in Retry-After."}}'
)


def cost_of(method: str, path: str) -> float:
    """The request's weight in the limiter; 0 for a password hash, which takes the lane instead."""
    if method != "POST":
        return PAGE_COST
    return 0.0 if path in PASSWORD_ROUTES else SUBMIT_COST


class Answer:
    """The status of an answer, once the application has started it (0 until then)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = 0


class Shield:
    def __init__(
        self,
        settings: Settings,
        site: Site,
        store: Store,
        *,
        limiter: Limiter | None = None,
        room_settings: RoomSettings | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.signer = Signer([settings.secret_key, *settings.shield_old_keys])
        self.limiter = limiter or Limiter(min_limit=16, initial_limit=20)
        self.lane = Lane(HASH_SLOTS, HASH_WAIT, HASH_PRESSURE, self.limiter.note_pressure)
        room_settings = room_settings or RoomSettings(
            name=settings.room,
            ticket_ttl=settings.place_kept_minutes * 60.0,
            pass_seconds=settings.pass_minutes * 60.0,
            start_rate=float(settings.admit_start),
        )
        self.room = Room(store, self.signer, Origin(self.limiter, self.lane), room_settings, now=now)
        self.pages = WaitingPages(site, self.room.settings.ticket_ttl, settings.join_work)
        self.work = Work(self.signer, room_settings.name, settings.join_work, now)
        self.limits = ClientLimits(settings)
        self.busy_page = site.busy
        self.refused: dict[tuple[str, str], int] = {}  # (cookie, reason) -> count
        self.sheds: dict[str, int] = {}  # "rate" -> 429s sent (the limiter and the lane count theirs)
        self._tasks: list[asyncio.Task[None]] = []

    # Lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._ticker()), loop.create_task(watch_loop_lag(self.limiter))]

    async def _ticker(self) -> None:
        every = self.room.settings.tick_seconds
        while True:
            try:
                await self.room.tick()
            except Exception:
                logger.exception("waiting-room tick failed")
            await asyncio.sleep(every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.room.shared.close()

    # The gate ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: App) -> int:
        path: str = scope["path"]
        if path in WAITING_PATHS:
            return await self._waiting_room(scope, send, WAITING_PATHS[path])
        if path == STATUS_PATH:
            return await self._status(scope, send)
        if path == ADMIN_PATH:
            return await self._admin(scope, receive, send)
        if not await self.limits.allow_address(self._address(scope)):
            return await self._too_many(scope, send)
        if path.startswith("/api/"):
            return await self._through(scope, receive, send, app, Priority.SHEDDABLE, PAGE_COST, [])
        method: str = scope["method"]
        cookies = read_cookies(scope)
        cookie_headers: list[tuple[bytes, bytes]] = []
        current = self._pass(cookies)
        if current is not None:
            renewed = await self.room.renew(current)
            if renewed is not None:
                cookie_headers.append(self._cookie(scope, PASS_COOKIE, renewed[1], self._pass_age()))
            if not await self.limits.allow_visitor(current.pass_id):
                return await self._too_many(scope, send)
        else:
            answered = await self._admit(scope, send, cookies, cookie_headers)
            if answered:
                return answered
        priority = Priority.CRITICAL if method == "POST" else Priority.NORMAL
        return await self._through(scope, receive, send, app, priority, cost_of(method, path), cookie_headers)

    def _pass(self, cookies: dict[str, str]) -> Pass | None:
        """The visitor's pass if it verifies; a refused one is counted and treated as absent."""
        token = cookies.get(PASS_COOKIE)
        if not token:
            return None
        try:
            return self.room.read_pass(token)
        except Refused as refusal:
            self._refused(PASS_COOKIE, refusal)
            return None

    def _ticket(self, cookies: dict[str, str]) -> Ticket | None:
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

    async def _admit(
        self, scope: Scope, send: Send, cookies: dict[str, str], cookie_headers: list[tuple[bytes, bytes]]
    ) -> int:
        """Let a visitor without a pass in (0, with the pass cookie added to ``cookie_headers``), or
        answer with the waiting page (the status sent)."""
        room = self.room
        counted = False  # whether this visit used the address's allowance of new places
        if room.admits_directly():
            # A new pass is a new place in, whether or not anyone queues: the same allowance per
            # address, so that nobody stockpiles passes while the room is idle.
            if not await self.limits.allow_join(self._address(scope)):
                return await self._too_many(scope, send)
            counted = True
            if await room.let_in_directly():
                _, token = await room.grant()
                cookie_headers.append(self._cookie(scope, PASS_COOKIE, token, self._pass_age()))
                return 0
        ticket = self._ticket(cookies)
        if ticket is not None:
            claimed = await room.claim(ticket)
            if claimed is not None:
                cookie_headers.append(self._cookie(scope, PASS_COOKIE, claimed[1], self._pass_age()))
                cookie_headers.append(self._cookie(scope, TICKET_COOKIE, "", 0))
                return 0
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        target = safe_next(path + (f"?{query}" if query else "")) if scope["method"] == "GET" else ""
        place, new_cookie = await self._place(scope, cookies, ticket, counted=counted)
        if new_cookie is not None:
            cookie_headers.append(new_cookie)
        if isinstance(place, int):
            return await self._too_many(scope, send)
        view = replace(place, next=target) if isinstance(place, View) else self._view(place, target)
        return await self._send_page(scope, send, language_of(path), view, cookie_headers)

    async def _place(
        self, scope: Scope, cookies: dict[str, str], ticket: Ticket | None, *, counted: bool = False
    ) -> tuple[Place | int | View, tuple[bytes, bytes] | None]:
        """The visitor's place, joining when they have none: or 429 (too many joins from their
        address, unless ``counted`` already), or the proof-of-work page when the room asks for one
        and it was not done."""
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
        if not counted and not await self.limits.allow_join(self._address(scope)):
            return 429, None
        holder = unsign(cookies.get(HOLDER_COOKIE), self.settings.secret_key, HOLDER_COOKIE) or ""
        ticket, token = await room.join(holder)
        place = await room.place(ticket)
        return place, self._cookie(scope, TICKET_COOKIE, token, int(room.settings.ticket_lifetime))

    def _view(self, place: Place, target: str) -> View:
        state: State
        if place.reached:
            state = "your-turn"
        elif place.lapsed:
            state = "lapsed"
        elif place.opens_at and self.room.state.prequeue < 0:
            state = "before-opening"
        else:
            state = "waiting"
        return View(state, place.position, place.eta_low, place.eta_high, place.opens_at, target)

    # Responses ---------------------------------------------------------------------------------------

    async def _through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: App,
        priority: Priority,
        cost: float,
        cookie_headers: list[tuple[bytes, bytes]],
    ) -> int:
        """Past the admission limiter (or the lane, for a password hash) to the application, or
        shed at once."""
        if not cost:
            # A full lane is the origin at capacity as much as a full limit is: the lane tells the
            # limiter's pressure, so that the room lets fewer people in.
            try:
                await self.lane.enter()
            except LaneFull:
                return await self._busy(scope, send, HASH_RETRY, cookie_headers)
            try:
                return await self._app(scope, receive, send, app, cookie_headers)
            finally:
                self.lane.leave()
        return await self._limited(scope, receive, send, app, priority, cost, cookie_headers)

    async def _limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: App,
        priority: Priority,
        cost: float,
        cookie_headers: list[tuple[bytes, bytes]],
    ) -> int:
        try:
            permit = await self.limiter.acquire(priority, cost)
        except Shed as shed:
            # A pass given on this very request (a claimed turn, a first visit) goes out with the
            # 503: its ticket is spent, and without the pass the visitor could not get in again.
            # People let in are asked to come back in a moment; anonymous calls get the limiter's
            # hint, which grows while the overload lasts.
            retry = (
                shed.retry_after
                if priority is Priority.SHEDDABLE
                else min(shed.retry_after, HOLDER_RETRY_MAX)
            )
            return await self._busy(scope, send, retry, cookie_headers)
        answer = Answer()
        try:
            return await self._app(scope, receive, send, app, cookie_headers, answer)
        finally:
            if answer.status == 0:  # the client went away before an answer: no latency to learn from
                permit.abandon()
            else:
                permit.release(ok=answer.status < 500)

    @staticmethod
    async def _app(
        scope: Scope,
        receive: Receive,
        send: Send,
        app: App,
        cookie_headers: list[tuple[bytes, bytes]],
        answer: Answer | None = None,
    ) -> int:
        """The application, with the gate's cookies added to its answer (whose status is noted in
        ``answer`` as it starts)."""
        answer = answer or Answer()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                if cookie_headers:
                    message = {**message, "headers": [*message.get("headers", []), *cookie_headers]}
            await send(message)

        returned = await app(scope, receive, sending)
        return returned or answer.status

    async def _busy(
        self, scope: Scope, send: Send, retry_after: int, cookies: list[tuple[bytes, bytes]] | None = None
    ) -> int:
        if scope["path"].startswith("/api/"):
            body = BUSY_JSON
            content_type = b"application/json"
        else:
            body = self.busy_page.body
            content_type = b"text/html; charset=utf-8"
        extra = [(b"retry-after", str(retry_after).encode()), *(cookies or [])]
        await send_body(send, 503, body, content_type, extra=extra)
        return 503

    async def _too_many(self, scope: Scope, send: Send) -> int:
        self.sheds["rate"] = self.sheds.get("rate", 0) + 1
        retry = self.limits.retry_after
        if scope["path"].startswith("/api/") or scope["path"] == STATUS_PATH:
            body = TOO_MANY_JSON
            content_type = b"application/json"
        else:
            body = self.pages.too_many()
            content_type = b"text/html; charset=utf-8"
        await send_body(send, 429, body, content_type, extra=[(b"retry-after", str(retry).encode())])
        return 429

    async def _send_page(
        self,
        scope: Scope,
        send: Send,
        lang: Language | None,
        view: View,
        cookie_headers: list[tuple[bytes, bytes]],
    ) -> int:
        """The waiting page: 503 while waiting (with ``Retry-After``), 200 when it is the visitor's
        turn or there is no queue."""
        status = 200 if view.state in ("your-turn", "not-queueing") else 503
        extra = [*cookie_headers, (b"x-robots-tag", b"noindex")]
        if status == 503:
            extra.append((b"retry-after", str(int(view.check_again(self.room.speed)) or 5).encode()))
        body = self.pages.page(lang, view, self.room.speed)
        await send_body(
            send, status, body, b"text/html; charset=utf-8", extra=extra, head=scope["method"] == "HEAD"
        )
        return status

    async def _waiting_room(self, scope: Scope, send: Send, lang: Language | None) -> int:
        """The waiting page at its own address: joins when the room queues and the visitor has no
        place, claims the visitor's turn when it has come, and says there is no queue otherwise."""
        if scope["method"] not in ("GET", "HEAD"):
            await send_method_not_allowed(send)
            return 405
        query = parse_qs(scope["query_string"].decode("latin-1"))
        target = safe_next(query.get("next", [""])[0])
        cookies = read_cookies(scope)
        cookie_headers: list[tuple[bytes, bytes]] = []
        if self._pass(cookies) is not None or self.room.admits_directly():
            return await self._send_page(scope, send, lang, View("not-queueing", next=target), [])
        ticket = self._ticket(cookies)
        if ticket is not None:
            claimed = await self.room.claim(ticket)
            if claimed is not None:
                cookie_headers.append(self._cookie(scope, PASS_COOKIE, claimed[1], self._pass_age()))
                cookie_headers.append(self._cookie(scope, TICKET_COOKIE, "", 0))
                return await self._send_page(
                    scope, send, lang, View("your-turn", next=target), cookie_headers
                )
        place, new_cookie = await self._place(scope, cookies, ticket)
        if isinstance(place, int):
            return await self._too_many(scope, send)
        if new_cookie is not None:
            cookie_headers.append(new_cookie)
        view = replace(place, next=target) if isinstance(place, View) else self._view(place, target)
        return await self._send_page(scope, send, lang, view, cookie_headers)

    async def _status(self, scope: Scope, send: Send) -> int:
        """The JSON status: read-only but for the check-in that keeps the place alive. A check
        whose turn is due within seconds is held until it comes (see ``Room.near_turn``)."""
        if scope["method"] not in ("GET", "HEAD"):
            await send_method_not_allowed(send)
            return 405
        if not await self.limits.allow_status(self._address(scope)):
            return await self._too_many(scope, send)
        cookies = read_cookies(scope)
        ticket = self._ticket(cookies)
        if self._pass(cookies) is not None or self.room.admits_directly():
            view = View("your-turn" if ticket is not None else "not-queueing")
        elif ticket is None:
            view = View("lapsed")
        else:
            place = await self.room.place(ticket)
            if scope["method"] == "GET":  # near the front, answered when the turn comes
                place = await self.room.near_turn(ticket, place)
            view = self._view(place, "")
        body = self.pages.status(view, self.room.speed)
        await send_body(send, 200, body, b"application/json", head=scope["method"] == "HEAD")
        return 200

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await operate(self.room, self.settings.admin_token, self.worker, scope, receive, send)

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

    def shed_counts(self) -> dict[str, int]:
        """Requests shed, by reason: the limiter's, the lane's and the rate limits'."""
        return {**self.limiter.sheds, "hash_lane": self.lane.sheds, **self.sheds}

    # Small parts --------------------------------------------------------------------------------------

    def _address(self, scope: Scope) -> str:
        client = scope.get("client")
        forwarded = header(scope, b"x-forwarded-for") if self.settings.behind_proxy else ""
        return client_address(self.settings.behind_proxy, forwarded, str(client[0]) if client else None)

    def _secure(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        return forwarded_https(self.settings.behind_proxy, header(scope, b"x-forwarded-proto"))

    def _pass_age(self) -> int:
        return int(self.room.settings.pass_seconds)

    def _cookie(self, scope: Scope, name: str, value: str, max_age: int) -> tuple[bytes, bytes]:
        secure = "; Secure" if self._secure(scope) else ""
        return (
            b"set-cookie",
            f"{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}".encode(),
        )
