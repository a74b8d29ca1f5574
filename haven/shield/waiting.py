"""The waiting room's own addresses, as an ASGI middleware: the waiting page (in each language and
bilingual), the public room state, the personal JSON status, the operators' API, and the addresses
the app adds (``routes``: pages people reach from the waiting page, without a pass). Everything
else goes on to admission.

These answer from the room and this worker's state alone: they never queue and never enter the
limiter, so that operators can always act. The personal ones (the waiting page, the status) cost the
core a little each and are paid from the newcomers' CPU budget (``budget.py``): when the origin is
full for the people already in, they are shed (503, ``Retry-After``) before anyone already in is.
The public state costs nothing: it is finished bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qs

from haven.shield.admin import ADMIN_PATH, operate
from haven.shield.core import Shield
from haven.shield.limiter import Priority
from haven.shield.pages import STATUS_PATH, WAITING_PATHS, View
from haven.shield.public import NOT_YET, STATE_PATH
from haven.web.asgi import ASGIApp, Receive, Scope, Send, name_route, read_cookies
from haven.web.i18n import Language
from haven.web.pagecache import GET_OR_HEAD, send_body, send_method_not_allowed
from haven.web.security import safe_next

ROUTE_CLASS: Final = "room"


class WaitingRoom:
    """Answers the waiting room's addresses from ``shield``; hands every other request to ``app``."""

    def __init__(self, app: ASGIApp, shield: Shield, routes: Mapping[str, ASGIApp] | None = None) -> None:
        self.app = app
        self.shield = shield
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if path in WAITING_PATHS:
            name_route(scope, ROUTE_CLASS)
            await self.page(scope, send, WAITING_PATHS[path])
        elif path == STATE_PATH:
            # The same finished bytes for everyone (the app also serves them before any layer).
            shield = self.shield
            response = shield.room.public.response
            if shield.settings.shared_room and not shield.room.known:
                response = NOT_YET
            name_route(scope, response.route_class)
            await response.serve(scope, send)
        elif path == STATUS_PATH:
            name_route(scope, ROUTE_CLASS)
            await self.status(scope, send)
        elif path in self.routes:
            name_route(scope, ROUTE_CLASS)
            await self.routes[path](scope, receive, send)
        elif path == ADMIN_PATH:
            shield = self.shield
            await operate(
                shield.room,
                shield.settings.admin_token,
                shield.worker,
                scope,
                receive,
                send,
                audit=shield.audit,
                address=shield.address(scope),
            )
        else:
            await self.app(scope, receive, send)

    async def page(self, scope: Scope, send: Send, lang: Language | None) -> None:
        """The waiting page at its own address: joins when the room queues and the visitor has no
        place, claims the visitor's turn when it has come, and says there is no queue otherwise."""
        if scope["method"] not in GET_OR_HEAD:
            await send_method_not_allowed(send)
            return
        shield = self.shield
        if not await self._spend(scope, send):
            return
        query = parse_qs(scope["query_string"].decode("latin-1"))
        target = safe_next(query.get("next", [""])[0])
        cookies = read_cookies(scope)
        if shield.read_pass(cookies) is not None or shield.room.admits_directly():
            await shield.send_page(scope, send, lang, View("not-queueing", next=target), [])
            return
        ticket = shield.read_ticket(cookies)
        if ticket is not None:
            turn = await shield.claim(scope, ticket)
            if turn is not None:
                await shield.send_page(scope, send, lang, View("your-turn", next=target), turn)
                return
        place, new_cookie = await shield.place(scope, cookies, ticket)
        if isinstance(place, int):
            await shield.too_many(scope, send)
            return
        cookie_headers = [new_cookie] if new_cookie is not None else []
        await shield.send_page(scope, send, lang, shield.view(place, target), cookie_headers)

    async def status(self, scope: Scope, send: Send) -> None:
        """The personal JSON status, read-only and from this worker's memory: for clients without
        the page's script, and the one check a page makes when its turn is near, which is held
        until it comes (see ``Room.near_turn``)."""
        if scope["method"] not in GET_OR_HEAD:
            await send_method_not_allowed(send)
            return
        shield, room = self.shield, self.shield.room
        if not await shield.limits.allow_status(shield.address(scope)):
            await shield.too_many(scope, send)
            return
        if not await self._spend(scope, send):
            return
        cookies = read_cookies(scope)
        ticket = shield.read_ticket(cookies)
        if shield.read_pass(cookies) is not None or room.admits_directly():
            view = View("your-turn" if ticket is not None else "not-queueing")
        elif ticket is None:
            view = View("lapsed")
        else:
            place = await room.place(ticket)
            if scope["method"] == "GET":  # near the front, answered when the turn comes
                place = await room.near_turn(ticket, place)
            view = shield.view(place, "")
        body = shield.pages.status(view, room.speed)
        await send_body(send, 200, body, b"application/json", head=scope["method"] == "HEAD")

    async def _spend(self, scope: Scope, send: Send) -> bool:
        """Pay for one personal request from the newcomers' budget; False once answered with a 503."""
        retry = self.shield.spend(Priority.ADMIT, "room")
        if retry is None:
            return True
        await self.shield.busy(scope, send, retry, [])
        return False
