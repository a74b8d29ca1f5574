"""Every cookie Haven sets: their names, and the one writer, so that all of them carry the same
attributes: ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` (the operators' cookie narrower still) and,
whenever the visitor reached Haven over TLS, ``Secure``.

Over TLS means any of: the request came over https; our own proxy says it did (the last entry of
``X-Forwarded-Proto``, believed only with ``HAVEN_BEHIND_PROXY``); or Haven's public address is https,
in which case browsers only ever reach it over TLS, whatever a proxy that says nothing forwards.
"""

from __future__ import annotations

from typing import Final

from haven.settings import Settings
from haven.web.asgi import Scope, header
from haven.web.security import forwarded_https

PASS_COOKIE: Final = "haven_pass"  # noqa: S105 - a cookie name, not a secret
TICKET_COOKIE: Final = "haven_ticket"
SESSION_COOKIE: Final = "haven_session"
CSRF_COOKIE: Final = "haven_csrf"
# Names the signed-in account to the waiting room (signed, so it cannot be borrowed), which keeps one
# place in the queue per account whatever the browser. It grants nothing else.
HOLDER_COOKIE: Final = "haven_holder"
# An operator's session in the console: sent only to ``/admin`` and never from another site's page
# (``SameSite=Strict``), so it reaches nothing of an applicant's, and theirs opens nothing of it.
OPERATOR_COOKIE: Final = "haven_operator"
# The address an email was just sent to, for the "check your email" page to name (signed, for 15
# minutes): it never goes in a page's address, where logs and browser history would keep it.
SENT_TO_COOKIE: Final = "haven_sent_to"
# What a person had typed on a profile page when their session had ended: encrypted with the data key,
# for an hour, and put back on that page once they have signed in again (then deleted).
HELD_COOKIE: Final = "haven_held"
NAMES: Final = frozenset(
    (
        PASS_COOKIE,
        TICKET_COOKIE,
        SESSION_COOKIE,
        CSRF_COOKIE,
        HOLDER_COOKIE,
        OPERATOR_COOKIE,
        SENT_TO_COOKIE,
        HELD_COOKIE,
    )
)
# What RFC 6265 allows in a cookie value: every value Haven writes is URL-safe text, so anything else
# is a mistake of ours, refused loudly rather than sent as a header a browser would cut short.
_FORBIDDEN: Final = frozenset(' ",;\\\x7f') | frozenset(chr(c) for c in range(0x20))


class Cookies:
    """Writes Haven's ``Set-Cookie`` headers for one configuration (the proxy, the public address)."""

    def __init__(self, *, behind_proxy: bool, public_url: str) -> None:
        self.behind_proxy = behind_proxy
        self.always_secure = public_url.startswith("https://")

    @classmethod
    def from_settings(cls, settings: Settings) -> Cookies:
        return cls(behind_proxy=settings.behind_proxy, public_url=settings.public_url)

    def secure(self, scope: Scope) -> bool:
        """Whether the visitor reached Haven over TLS (see the module's docstring)."""
        if self.always_secure or scope.get("scheme") == "https":
            return True
        return forwarded_https(self.behind_proxy, header(scope, b"x-forwarded-proto"))

    def header(
        self,
        scope: Scope,
        name: str,
        value: str,
        max_age: int | None = None,
        *,
        path: str = "/",
        same_site: str = "Lax",
    ) -> tuple[bytes, bytes]:
        """The ``Set-Cookie`` header for ``name``: kept ``max_age`` seconds, or until the browser
        closes when None (sessions); 0 deletes it. ``path`` and ``same_site`` narrow where the
        browser sends it (the operators' cookie: ``/admin``, ``Strict``)."""
        if name not in NAMES:
            raise ValueError(f"{name} is not one of Haven's cookies")
        if any(c in _FORBIDDEN for c in value) or not value.isascii():
            raise ValueError(f"{name}: a cookie value must be plain URL-safe text")
        lifetime = "" if max_age is None else f"; Max-Age={max_age}"
        secure = "; Secure" if self.secure(scope) else ""
        attributes = f"Path={path}; HttpOnly; SameSite={same_site}{secure}"
        return b"set-cookie", f"{name}={value}{lifetime}; {attributes}".encode()

    def deletion(self, scope: Scope, name: str, *, path: str = "/") -> tuple[bytes, bytes]:
        """The header that removes ``name`` from the browser."""
        return self.header(scope, name, "", 0, path=path)
