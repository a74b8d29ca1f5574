"""Admission, as an ASGI middleware in front of every dynamic route: who goes on to the application,
and through which door. It decides in O(1), from signed cookies and the room's counters, without
awaiting the database:

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
2 and a page 1. Which addresses hash a password is the app's to say (``password_paths``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from haven.shield.core import Headers, Shield
from haven.shield.lane import LaneFull
from haven.shield.limiter import Priority, Shed
from haven.web.asgi import ASGIApp, Noted, Receive, Scope, Send, read_cookies
from haven.web.i18n import language_of
from haven.web.security import safe_next

PAGE_COST: Final = 1.0
SUBMIT_COST: Final = 2.0  # a POST writes: about 9 ms of CPU against 2-3 ms for a page
HASH_RETRY: Final = 2  # Retry-After (s) when the lane is full
HOLDER_RETRY_MAX: Final = 2  # people let in are shed only for a moment: they retry soon


class Admission:
    """Lets a request on to ``app``, or answers it with the waiting page, a 429 or a 503.
    ``password_paths``: where a POST hashes a password (it takes the lane, not the limiter)."""

    def __init__(self, app: ASGIApp, shield: Shield, password_paths: Collection[str]) -> None:
        self.app = app
        self.shield = shield
        self.password_paths = frozenset(password_paths)

    def cost_of(self, method: str, path: str) -> float:
        """The request's weight in the limiter; 0 for a password hash, which takes the lane instead."""
        if method != "POST":
            return PAGE_COST
        return 0.0 if path in self.password_paths else SUBMIT_COST

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
            await self._through(scope, receive, send, Priority.SHEDDABLE, PAGE_COST, [])
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
        priority = Priority.CRITICAL if method == "POST" else Priority.NORMAL
        await self._through(scope, receive, send, priority, self.cost_of(method, path), cookie_headers)

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
        cost: float,
        cookie_headers: Headers,
    ) -> None:
        """Past the admission limiter (or the lane, for a password hash) to the application, with
        the cookies given on the way in added to its answer; or shed at once."""
        if not cost:
            # A full lane is the origin at capacity as much as a full limit is: the lane tells the
            # limiter's pressure, so that the room lets fewer people in.
            try:
                await self.shield.lane.enter()
            except LaneFull:
                await self.shield.busy(scope, send, HASH_RETRY, cookie_headers)
                return
            try:
                await self.app(scope, receive, Noted(send, cookie_headers))
            finally:
                self.shield.lane.leave()
            return
        try:
            permit = await self.shield.limiter.acquire(priority, cost)
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
            await self.shield.busy(scope, send, retry, cookie_headers)
            return
        noted = Noted(send, cookie_headers)
        try:
            await self.app(scope, receive, noted)
        finally:
            if noted.status == 0:  # the client went away before an answer: no latency to learn from
                permit.abandon()
            else:
                permit.release(ok=noted.status < 500)
