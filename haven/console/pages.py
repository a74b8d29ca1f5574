"""What every console page shares: the request as a page of its own (its language, the services,
the console), who is signed in, the road to signing in, the posted form, and how numbers and moments
are written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import Response

from haven.console.figures import Sampler
from haven.console.operators import SignedIn
from haven.console.paths import PATHS, language_of, path
from haven.services import Services, services
from haven.shield.core import Shield
from haven.web.clock import OTTAWA
from haven.web.cookies import OPERATOR_COOKIE
from haven.web.i18n import N_, OTHER, Language, translations
from haven.web.personal import HEADERS, BadForm, read_form
from haven.web.security import unsign


@dataclass
class Console:
    """What the console steers and shows: the app's shield (None when ``HAVEN_SHIELD`` is off) and
    the sampler keeping the room's last hour."""

    shield: Shield | None
    sampler: Sampler | None = None


def console_of(request: Request) -> Console:
    found = getattr(request.app.state, "console", None)
    return found if isinstance(found, Console) else Console(None)


def number(value: float, lang: Language, places: int = 1) -> str:
    pattern = "#,##0" + ("." + "#" * places if places else "")
    return format_decimal(round(value, places), format=pattern, locale="fr_CA" if lang == "fr" else "en_CA")


def moment(value: dt.datetime | float, lang: Language) -> str:
    """A moment in Ottawa, to the second: 2026-11-03 21:00:05 in both languages (operators compare
    these with logs)."""
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(value, dt.UTC)
    return at.astimezone(OTTAWA).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class ConsolePage:
    """One request to a console page: its language, the app's services and the console."""

    request: Request
    lang: Language
    app: Services
    console: Console

    @property
    def gettext(self) -> Callable[[str], str]:
        return translations(self.lang).gettext

    @property
    def address(self) -> str:
        return self.app.personal.client_address(self.request)

    def session_id(self) -> str | None:
        raw = self.request.cookies.get(OPERATOR_COOKIE)
        return unsign(raw, self.app.settings.secret_key, OPERATOR_COOKIE)

    async def operator(self) -> SignedIn | None:
        session_id = self.session_id()
        return None if session_id is None else await self.app.operators.operator_for_session(session_id)

    def render(
        self, template: str, title: str, name: str, *, operator: SignedIn | None, **context: Any
    ) -> Response:
        response = self.app.personal.render(
            self.request,
            self.lang,
            template,
            title=self.gettext(title),
            other_path=path(name, OTHER[self.lang]),
            paths={key: value[self.lang] for key, value in PATHS.items()},
            operator=operator,
            **context,
        )
        response.headers["x-robots-tag"] = "noindex, nofollow"
        return response

    def redirect(self, location: str) -> Response:
        return self.app.personal.redirect(self.request, location)

    def sign_in_first(self) -> Response:
        target = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        return self.redirect(f"{path('sign_in', self.lang)}?next={quote(target)}")

    def before_id(self) -> int | None:
        """The ``before`` of a page of a log (its newest row older than that id), when it is one."""
        raw = self.request.query_params.get("before", "")
        return int(raw) if raw.isdigit() and len(raw) < 12 else None

    async def operator_and_form(self) -> tuple[SignedIn, dict[str, str]] | Response:
        """The signed-in operator and the form they posted; or the answer when there is no
        operator (to sign in first) or no good form."""
        operator = await self.operator()
        if operator is None:
            return self.sign_in_first()
        form = await self.posted()
        if isinstance(form, Response):
            return form
        return operator, form

    async def posted(self) -> dict[str, str] | Response:
        try:
            form = await read_form(self.request)
        except BadForm:
            return Response(status_code=400, headers=HEADERS)
        if not self.app.personal.csrf_ok(self.request, form):
            return self.render(
                "console/expired.html", N_("This form has expired"), "room", operator=None, status=403
            )
        return form


def console_page(
    handler: Callable[[ConsolePage], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        page = ConsolePage(request, language_of(request.url.path), services(request), console_of(request))
        return await handler(page)

    return endpoint
