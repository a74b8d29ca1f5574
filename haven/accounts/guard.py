"""What other features' personal pages take from accounts: who is signed in, the road to signing in
that comes back to the page, and the answer to a form whose CSRF token has expired."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from haven.accounts.models import Account
from haven.accounts.paths import path
from haven.services import services
from haven.web.i18n import OTHER, Language, translations


async def signed_in(request: Request) -> Account | None:
    app = services(request)
    session_id = app.personal.session_id(request)
    if session_id is None:
        return None
    return await app.accounts.account_for_session(session_id)


def sign_in_first(request: Request, lang: Language) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return services(request).personal.redirect(request, f"{path('sign_in', lang)}?next={target}")


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
