"""What every personal page shares: private, never stored by a cache, cookies that are HttpOnly and
SameSite=Lax (Secure behind TLS), CSRF tokens on every form, and form bodies read carefully.

The CSRF token is a double-submit token: a random value in the ``haven_csrf`` cookie, signed with
the secret key, and the same value in a hidden field of every form. Another site can make a browser
send the cookie but cannot read it to fill in the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from haven.content.site import Site
from haven.settings import Settings
from haven.web.i18n import Language
from haven.web.pagecache import SECURITY_HEADERS
from haven.web.security import client_address, forwarded_https, new_token, sign, unsign

SESSION_COOKIE: Final = "haven_session"
CSRF_COOKIE: Final = "haven_csrf"
# Names the signed-in account to the waiting room (signed, so it cannot be borrowed), which keeps one
# place in the queue per account whatever the browser. It grants nothing else.
HOLDER_COOKIE: Final = "haven_holder"
CSRF_FIELD: Final = "csrf"
PRIVATE: Final = "private, no-store"
MAX_FORM_BYTES: Final = 64 * 1024
HEADERS: Final = {
    "cache-control": PRIVATE,
    "x-robots-tag": "noindex",
    **{name.decode(): value.decode() for name, value in SECURITY_HEADERS},
}


class BadForm(Exception):
    """A body that is not a form of ours (wrong type, too long): answered 400, nothing changed."""


async def read_form(request: Request) -> dict[str, str]:
    """The posted form, first value of each field."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadForm
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BadForm from None
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


class Personal:
    """Renders personal pages and manages their cookies."""

    def __init__(self, site: Site, settings: Settings) -> None:
        self.site = site
        self.settings = settings
        self.always_secure = settings.public_url.startswith("https://")

    def secure(self, request: Request) -> bool:
        if self.always_secure or request.url.scheme == "https":
            return True
        return forwarded_https(self.settings.behind_proxy, request.headers.get("x-forwarded-proto"))

    def client_address(self, request: Request) -> str:
        return client_address(
            self.settings.behind_proxy,
            request.headers.get("x-forwarded-for", ""),
            request.client.host if request.client else None,
        )

    # Sessions ---------------------------------------------------------------------------------

    def session_id(self, request: Request) -> str | None:
        return unsign(request.cookies.get(SESSION_COOKIE), self.settings.secret_key, SESSION_COOKIE)

    def set_session(self, response: Response, request: Request, session_id: str, account_id: str) -> None:
        key, secure = self.settings.secret_key, self.secure(request)
        for name, value in ((SESSION_COOKIE, session_id), (HOLDER_COOKIE, account_id)):
            response.set_cookie(
                name, sign(value, key, name), httponly=True, samesite="lax", secure=secure, path="/"
            )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(HOLDER_COOKIE, path="/")

    # CSRF -------------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """This browser's token, or a new one (set on the response by ``render``)."""
        token = unsign(request.cookies.get(CSRF_COOKIE), self.settings.secret_key, CSRF_COOKIE)
        if token is None:
            token = request.state.__dict__.setdefault("new_csrf", new_token())
        return token

    def csrf_ok(self, request: Request, form: Mapping[str, str]) -> bool:
        token = unsign(request.cookies.get(CSRF_COOKIE), self.settings.secret_key, CSRF_COOKIE)
        return token is not None and form.get(CSRF_FIELD) == token

    def renew_csrf(self, request: Request) -> None:
        """A fresh token from the next page on (at sign-in and sign-out)."""
        request.state.new_csrf = new_token()

    def _finish(self, request: Request, response: Response) -> Response:
        fresh = getattr(request.state, "new_csrf", None)
        if fresh is not None:
            response.set_cookie(
                CSRF_COOKIE,
                sign(fresh, self.settings.secret_key, CSRF_COOKIE),
                httponly=True,
                samesite="lax",
                secure=self.secure(request),
                path="/",
            )
        for name, value in HEADERS.items():
            response.headers[name] = value
        return response

    # Responses --------------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        lang: Language,
        template: str,
        *,
        title: str,
        other_path: str,
        status: int = 200,
        errors: Sequence[Any] = (),
        retry_after: int | None = None,
        **context: Any,
    ) -> Response:
        words = self.site.renderer.gettext(lang)
        html = self.site.renderer.render(
            template,
            lang,
            title=f"{words('Error:')} {title}" if errors else title,
            heading=title,
            description="",
            canonical=None,
            alternates={},
            noindex=True,
            toggle_href=other_path,
            crumbs=[],
            errors=list(errors),
            csrf=self.csrf_token(request),
            **self.site.chrome(lang),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if retry_after is not None:
            response.headers["retry-after"] = str(retry_after)
        return self._finish(request, response)

    def redirect(self, request: Request, location: str) -> Response:
        return self._finish(request, RedirectResponse(location, status_code=303))
