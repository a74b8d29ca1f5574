"""What every personal page takes from accounts: the request as a page of its own (its language, the
services, the form it posts), who is signed in, the road to signing in that comes back to the page,
and the answer to a form whose CSRF token has expired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from haven.accounts.models import Account
from haven.accounts.paths import path
from haven.services import Services, services
from haven.web.forms import Translate
from haven.web.i18n import OTHER, Language, page_language, translations
from haven.web.personal import BadForm, read_form


async def signed_in(request: Request) -> Account | None:
    app = services(request)
    session_id = app.personal.session_id(request)
    if session_id is None:
        return None
    return await app.accounts.account_for_session(session_id)


def sign_in_first(request: Request, lang: Language, *, ended: str = "") -> Response:
    """The way to sign in that comes back to this page. A browser that still holds a session cookie
    had a session that ended (30 idle minutes, or 12 hours): the sign-in page says so, and what
    became of what was typed on the page (``ended``: "held", kept; "lost", too long to keep)."""
    app = services(request)
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    ended = ended or ("1" if app.personal.session_id(request) else "")
    return app.personal.redirect(
        request, f"{path('sign_in', lang)}?next={target}" + (f"&ended={ended}" if ended else "")
    )


def form_expired(request: Request, lang: Language, back: str) -> Response:
    """A form whose CSRF token does not match: refuse it, change nothing, and say what to do."""
    _ = translations(lang).gettext
    app = services(request)
    return app.personal.render(
        request,
        lang,
        "accounts/form_expired.html",
        title=_("This form has expired"),
        other_path=path("home", OTHER[lang]),
        status=403,
        back=back,
    )


@dataclass(frozen=True)
class PersonalPage:
    """One request to a personal page: its language, the app's services, and what every such page
    does. Features subclass it with their own helpers and take it with ``personal_page(Class)``."""

    request: Request
    lang: Language
    app: Services

    @property
    def gettext(self) -> Translate:
        return translations(self.lang).gettext

    def redirect(self, location: str) -> Response:
        return self.app.personal.redirect(self.request, location)

    def render_with(
        self,
        paths: Mapping[str, Mapping[Language, str]],
        template: str,
        title: str,
        name: str,
        **context: Any,
    ) -> Response:
        """``template`` with ``title`` (a msgid), the feature's addresses in this language as
        ``paths``, and the language toggle going to its page ``name``."""
        return self.app.personal.render(
            self.request,
            self.lang,
            template,
            title=self.gettext(title),
            other_path=paths[name][OTHER[self.lang]],
            paths={key: value[self.lang] for key, value in paths.items()},
            **context,
        )

    async def posted(self, back: str) -> dict[str, str] | Response:
        """The posted form, or the answer to a body that is not a form of ours (400) or to a form
        whose CSRF token has expired (a page that links ``back``)."""
        try:
            form = await read_form(self.request)
        except BadForm:
            return Response(status_code=400)
        if not self.app.personal.csrf_ok(self.request, form):
            return form_expired(self.request, self.lang, back)
        return form


Page = TypeVar("Page", bound=PersonalPage)


def personal_page(kind: type[Page]) -> Callable[..., Awaitable[Page]]:
    """The FastAPI dependency that gives a handler its page of ``kind``: the language from the
    address, the services of the running app. A coroutine, taking nothing but the request: FastAPI
    runs a plain function dependency in a worker thread, a thread hop on every personal request."""

    async def page(request: Request) -> Page:
        return kind(request, page_language(request), services(request))

    return page
