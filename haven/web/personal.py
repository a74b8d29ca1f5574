"""What every personal page shares: private, never stored by a cache, cookies from the one writer
(``haven/web/cookies.py``), CSRF tokens on every form, and form bodies read carefully.

The CSRF token is a double-submit token: a random value in the ``haven_csrf`` cookie, signed with
the secret key, and the same value in a hidden field of every form. Another site can make a browser
send the cookie but cannot read it to fill in the field.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from haven.settings import Settings
from haven.web.asgi import client_of
from haven.web.cookies import (
    CSRF_COOKIE,
    HELD_COOKIE,
    HOLDER_COOKIE,
    SENT_TO_COOKIE,
    SESSION_COOKIE,
    Cookies,
)
from haven.web.i18n import Language
from haven.web.pagecache import SECURITY_HEADERS
from haven.web.security import Sealer, new_token, sign, unsign
from haven.web.templates import Layout

CSRF_FIELD: Final = "csrf"
SENT_TO_SECONDS: Final = 15 * 60
HELD_SECONDS: Final = 60 * 60
HELD_PURPOSE: Final = b"haven:held-form:v1"
MAX_HELD_COOKIE: Final = 3800  # bytes of value: under the 4,096 a browser keeps for a whole cookie
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
    """Renders personal pages in the site's layout and manages their cookies."""

    def __init__(self, layout: Layout, settings: Settings) -> None:
        self.layout = layout
        self.settings = settings
        self.cookies = Cookies.from_settings(settings)
        self._sealer = Sealer(settings.data_key)

    def client_address(self, request: Request) -> str:
        return client_of(request.scope, self.settings.behind_proxy)

    # Sessions ---------------------------------------------------------------------------------

    def session_id(self, request: Request) -> str | None:
        return unsign(request.cookies.get(SESSION_COOKIE), self.settings.secret_key, SESSION_COOKIE)

    def set_session(self, response: Response, request: Request, session_id: str, account_id: str) -> None:
        """Both cookies last until the browser closes; the session itself ends sooner on the server."""
        key = self.settings.secret_key
        for name, value in ((SESSION_COOKIE, session_id), (HOLDER_COOKIE, account_id)):
            response.raw_headers.append(self.cookies.header(request.scope, name, sign(value, key, name)))

    def clear_session(self, response: Response, request: Request) -> None:
        """Signing out forgets the session, and anything typed that was kept for after it."""
        for name in (SESSION_COOKIE, HOLDER_COOKIE):
            response.raw_headers.append(self.cookies.deletion(request.scope, name))
        self.forget_held(response, request)

    # Where an email was sent ------------------------------------------------------------------

    def note_sent_to(self, response: Response, request: Request, email: str) -> None:
        """Keep ``email`` for 15 minutes, signed, so the next page can say where the email went."""
        encoded = base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")
        signed = sign(encoded, self.settings.secret_key, SENT_TO_COOKIE)
        response.raw_headers.append(
            self.cookies.header(request.scope, SENT_TO_COOKIE, signed, SENT_TO_SECONDS)
        )

    def sent_to(self, request: Request) -> str | None:
        """The address ``note_sent_to`` kept, if it is still there and ours."""
        encoded = unsign(request.cookies.get(SENT_TO_COOKIE), self.settings.secret_key, SENT_TO_COOKIE)
        if encoded is None:
            return None
        try:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    # What was typed when the session had ended -------------------------------------------------

    def hold_form(self, response: Response, request: Request, values: Mapping[str, str]) -> bool:
        """Keep ``values``, typed on the page at this address, for an hour (encrypted: they may hold
        a passport number), for the account this browser was signed in to; False when they are too
        long for a cookie and cannot be kept."""
        held = {
            "path": request.url.path,
            "holder": self.holder(request),
            "values": dict(values),
            "at": int(time.time()),
        }
        sealed = self._sealer.seal(json.dumps(held, ensure_ascii=False, separators=(",", ":")), HELD_PURPOSE)
        value = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
        if len(value) > MAX_HELD_COOKIE:
            return False
        response.raw_headers.append(self.cookies.header(request.scope, HELD_COOKIE, value, HELD_SECONDS))
        return True

    def held_form(self, request: Request, account_id: str) -> dict[str, str] | None:
        """What ``hold_form`` kept for the page at this address, if it is still there, recent, and
        was typed by ``account_id`` (signed in again)."""
        value = request.cookies.get(HELD_COOKIE)
        if not value:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            held = json.loads(self._sealer.open(sealed, HELD_PURPOSE))
        except (ValueError, UnicodeDecodeError):  # damaged, or sealed with another key
            return None
        if (
            held.get("path") != request.url.path
            or held.get("holder") != account_id
            or time.time() - held.get("at", 0) > HELD_SECONDS
        ):
            return None
        values = held.get("values")
        if not isinstance(values, dict):
            return None
        return {str(name): str(text) for name, text in values.items()}

    def holder(self, request: Request) -> str | None:
        """The account this browser was last signed in to (its signed holder cookie), if any."""
        return unsign(request.cookies.get(HOLDER_COOKIE), self.settings.secret_key, HOLDER_COOKIE)

    def forget_held(self, response: Response, request: Request) -> None:
        if HELD_COOKIE in request.cookies:
            response.raw_headers.append(self.cookies.deletion(request.scope, HELD_COOKIE))

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
            signed = sign(fresh, self.settings.secret_key, CSRF_COOKIE)
            response.raw_headers.append(self.cookies.header(request.scope, CSRF_COOKIE, signed))
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
        crumbs: Sequence[tuple[str, str]] = (),
        **context: Any,
    ) -> Response:
        renderer = self.layout.renderer
        words = renderer.gettext(lang)
        html = renderer.render(
            template,
            lang,
            title=f"{words('Error:')} {title}" if errors else title,
            heading=title,
            description="",
            canonical=None,
            alternates={},
            noindex=True,
            toggle_href=other_path,
            crumbs=list(crumbs),
            errors=list(errors),
            csrf=self.csrf_token(request),
            **self.layout.chrome(lang),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if retry_after is not None:
            response.headers["retry-after"] = str(retry_after)
        return self._finish(request, response)

    def bare(self, request: Request, status: int) -> Response:
        """A response with no body (a script's request), with every personal page's headers."""
        return self._finish(request, Response(status_code=status))

    def redirect(self, request: Request, location: str) -> Response:
        return self._finish(request, RedirectResponse(location, status_code=303))
