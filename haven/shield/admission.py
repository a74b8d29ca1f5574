"""Admission, as an ASGI middleware in front of every dynamic route: who goes on to the application,
through which door, and who is shed first when the origin is full. It decides in O(1), from signed
cookies and the room's counters, without awaiting the database.

**Priorities** (``limiter.Priority``), shed lowest first, each shed answered 503 with ``Retry-After``:

1. people already in who are submitting or saving a profile (any POST under the profile pages);
2. people already in: their other pages, and their password hashes (which take the hash lane);
3. new visitors: the first dynamic page the room lets them into, and the room's own work for them
   (joining the line, being told their place);
4. anonymous work: the cookie-free JSON API (``/api/…``), and calculator pages that miss the page
   cache (``Shield.admit_miss``, gated before this layer).

A visitor without a pass is let in with a new one while the room is idle, or given a ticket (or told
their place) on the waiting page while it queues. Someone holding a valid pass is never sent back to
the waiting room: at worst they are asked to retry in a second or two.

**Cost.** Every request is weighed by what it costs the core (``costs.py``, measured by
``python -m bench.costs``). Work that waits on the database goes through the limiter, which bounds the
cost in flight, each priority up to its share of the limit; work that never waits (the API, the
room's paths, calculator misses) spends from a CPU budget per priority (``budget.py``). Password hashes
wait in a lane of their own (``lane.py``). Which addresses hash a password, and which are the profile
pages, is the app's to say.

**Fail-closed, within bounds.** If the shared store stops answering, the room runs on in this process
(its own line, its own counter) and says so in the metrics; the limiter protects the origin either way.
Nothing is ever let through unbounded: a request that cannot be placed is shed at once with a
prebuilt 503 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Collection
from time import monotonic
from typing import Final

from haven.shield.core import Headers, Shield
from haven.shield.costs import Kind, weight
from haven.shield.lane import LaneFull
from haven.shield.limiter import Priority, Shed
from haven.web.asgi import ASGIApp, Noted, Receive, Scope, Send, read_cookies
from haven.web.i18n import language_of
from haven.web.security import safe_next

HASH_RETRY: Final = 2  # Retry-After (s) when the lane is full
HOLDER_RETRY_MAX: Final = 2  # people let in are shed only for a moment: they retry soon
PROFILE_WRITES: Final[frozenset[Kind]] = frozenset({"save", "submit"})


class Admission:
    """Lets a request on to ``app``, or answers it with the waiting page, a 429 or a 503.
    ``password_paths``: where a POST hashes a password (it takes the lane, not the limiter);
    ``profile_prefixes``: where the profile pages live (a POST there writes a profile), and
    ``submit_slugs``: the last segment of a profile's submission address."""

    def __init__(
        self,
        app: ASGIApp,
        shield: Shield,
        password_paths: Collection[str],
        profile_prefixes: Collection[str] = (),
        submit_slugs: Collection[str] = (),
    ) -> None:
        self.app = app
        self.shield = shield
        self.password_paths = frozenset(password_paths)
        self.profile_prefixes = tuple(prefix.rstrip("/") + "/" for prefix in profile_prefixes)
        self.submit_slugs = frozenset(submit_slugs)

    def kind_of(self, method: str, path: str) -> Kind:
        """What the request costs, as a row of the cost table."""
        if method != "POST":
            return "page"
        if path in self.password_paths:
            return "password"
        if path.startswith(self.profile_prefixes) or path + "/" in self.profile_prefixes:
            return "submit" if path.rsplit("/", 1)[-1] in self.submit_slugs else "save"
        return "page"  # another form (signing out, confirming an address) costs what a page does

    @staticmethod
    def priority_of(kind: Kind, newcomer: bool) -> Priority:
        """The request's priority: profile writes first, then people already in, then newcomers."""
        if kind in PROFILE_WRITES:
            return Priority.SUBMIT
        return Priority.ADMIT if newcomer else Priority.IN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shield = self.shield
        if not await shield.limits.allow_address(shield.address(scope)):
            await shield.too_many(scope, send)
            return
        path: str = scope["path"]
        if path.startswith("/api/"):
            retry = shield.spend(Priority.ANONYMOUS, "api")
            if retry is not None:
                await shield.busy(scope, send, retry, [])
                return
            await self._through(scope, receive, send, Priority.ANONYMOUS, "api", [])
            return
        method: str = scope["method"]
        cookies = read_cookies(scope)
        cookie_headers: Headers = []
        current = shield.read_pass(cookies)
        if current is not None:
            renewed = await shield.room.renew(current)
            if renewed is not None:
                cookie_headers.append(shield.pass_cookie(scope, renewed[1]))
            if not await shield.limits.allow_visitor(current.pass_id):
                await shield.too_many(scope, send)
                return
        elif not await self._admit(scope, send, cookies, cookie_headers):
            return
        kind = self.kind_of(method, path)
        priority = self.priority_of(kind, newcomer=current is None)
        await self._through(scope, receive, send, priority, kind, cookie_headers)

    async def _admit(
        self, scope: Scope, send: Send, cookies: dict[str, str], cookie_headers: Headers
    ) -> bool:
        """Let a visitor without a pass in (True, with the pass cookie added to ``cookie_headers``),
        or answer with the waiting page or a 429 (False)."""
        shield, room = self.shield, self.shield.room
        counted = False  # whether this visit used the address's allowance of new places
        if room.admits_directly():
            # A new pass is a new place in, whether or not anyone queues: the same allowance per
            # address, so that nobody stockpiles passes while the room is idle.
            if not await shield.limits.allow_join(shield.address(scope)):
                await shield.too_many(scope, send)
                return False
            counted = True
            if await room.let_in_directly():
                _, token = await room.grant()
                cookie_headers.append(shield.pass_cookie(scope, token))
                return True
        # The room's own work for a newcomer (a join, a place told, a turn claimed) is theirs to pay
        # from the newcomers' budget: when it is spent, people already in come first.
        retry = shield.spend(Priority.ADMIT, "room")
        if retry is not None:
            await shield.busy(scope, send, retry, cookie_headers)
            return False
        ticket = shield.read_ticket(cookies)
        if ticket is not None:
            turn = await shield.claim(scope, ticket)
            if turn is not None:
                cookie_headers.extend(turn)
                return True
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        target = safe_next(path + (f"?{query}" if query else "")) if scope["method"] == "GET" else ""
        place, new_cookie = await shield.place(scope, cookies, ticket, counted=counted)
        if new_cookie is not None:
            cookie_headers.append(new_cookie)
        if isinstance(place, int):
            await shield.too_many(scope, send)
        else:
            await shield.send_page(scope, send, language_of(path), shield.view(place, target), cookie_headers)
        return False

    async def _through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        priority: Priority,
        kind: Kind,
        cookie_headers: Headers,
    ) -> None:
        """Past the admission limiter (or the lane, for a password hash) to the application, with
        the cookies given on the way in added to its answer; or shed at once."""
        if kind == "password":
            # A full lane is the origin at capacity as much as a full limit is: the lane tells the
            # limiter's pressure, so that the room lets fewer people in.
            try:
                await self.shield.lane.enter()
            except LaneFull:
                await self.shield.busy(scope, send, HASH_RETRY, cookie_headers)
                return
            started = monotonic()
            noted = Noted(send, cookie_headers)
            try:
                await self.app(scope, receive, noted)
            finally:
                self.shield.lane.leave()
                self._took(noted, started)
            return
        try:
            permit = await self.shield.limiter.acquire(priority, weight(kind))
        except Shed as shed:
            # A pass given on this very request (a claimed turn, a first visit) goes out with the
            # 503: its ticket is spent, and without the pass the visitor could not get in again.
            # People let in are asked to come back in a moment; anonymous calls get the limiter's
            # hint, which grows while the overload lasts.
            retry = (
                shed.retry_after
                if priority is Priority.ANONYMOUS
                else min(shed.retry_after, HOLDER_RETRY_MAX)
            )
            await self.shield.busy(scope, send, retry, cookie_headers)
            return
        noted = Noted(send, cookie_headers)
        started = monotonic()
        try:
            await self.app(scope, receive, noted)
        finally:
            self._took(noted, started)
            if noted.status == 0:  # the client went away before an answer: no latency to learn from
                permit.abandon()
            else:
                permit.release(ok=noted.status < 500)

    def _took(self, noted: Noted, started: float) -> None:
        """Count how long an answered request took, for the p99 of requests let through."""
        if noted.status:
            now = monotonic()
            self.shield.latencies.add(now, now - started)
