"""Every cookie Haven sets comes from one writer with one ``Secure`` rule: the shield's pass and
ticket, and the session, holder and CSRF cookies of personal pages, each under plain HTTP, over
TLS, behind our proxy that terminates TLS, and with an https public address (a proxy that sends
no ``X-Forwarded-Proto``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.responses import Response
from starlette.requests import Request

from haven.app import Haven
from haven.web.asgi import Scope
from haven.web.cookies import (
    CSRF_COOKIE,
    HELD_COOKIE,
    HOLDER_COOKIE,
    NAMES,
    OPERATOR_COOKIE,
    PASS_COOKIE,
    SENT_TO_COOKIE,
    SESSION_COOKIE,
    TICKET_COOKIE,
    Cookies,
)
from haven.web.personal import Personal
from tests.conftest import make_settings
from tests.shield.gate_kit import browser, gated, steer

SIGN_UP = "/en/account/sign-up"


@dataclass(frozen=True)
class Way:
    """How a visitor reaches Haven, and whether their cookies must be Secure."""

    name: str
    scheme: str
    headers: dict[str, str]
    secure: bool
    behind_proxy: str = ""  # HAVEN_BEHIND_PROXY ("": the default)
    public_url: str = ""  # HAVEN_PUBLIC_URL


WAYS = [
    Way("plain http", "http", {}, secure=False),
    Way("https", "https", {}, secure=True),
    Way("tls at our proxy", "http", {"x-forwarded-proto": "https"}, secure=True, behind_proxy="true"),
    Way("https public address", "http", {}, secure=True, public_url="https://haven.example"),
    # Without HAVEN_BEHIND_PROXY the header is anybody's claim, and a claim is not TLS.
    Way("a proxy header not believed", "http", {"x-forwarded-proto": "https"}, secure=False),
]


def attributes(header: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, {attribute: value}) of one Set-Cookie header; attribute names in lower case."""
    pair, *rest = (part.strip() for part in header.split(";"))
    name, _, value = pair.partition("=")
    found = {}
    for part in rest:
        key, _, setting = part.partition("=")
        found[key.lower()] = setting
    return name, value, found


def assert_written_by_the_one_writer(header: str, way: Way, *, max_age: str | None) -> None:
    name, _, found = attributes(header)
    assert name in NAMES
    assert found.get("path") == "/", header
    assert "httponly" in found, header
    assert found.get("samesite") == "Lax", header
    assert ("secure" in found) is way.secure, f"{way.name}: {header}"
    assert found.get("max-age") == max_age, header


def set_cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {attributes(value)[0]: value for name, value in headers if name.lower() == "set-cookie"}


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.name)
async def test_the_shields_pass_and_ticket(app: Haven, tmp_path: Path, way: Way) -> None:
    haven = gated(app, tmp_path / "var", HAVEN_BEHIND_PROXY=way.behind_proxy, HAVEN_PUBLIC_URL=way.public_url)
    room = haven.shield.room  # type: ignore[union-attr]
    pass_age, ticket_age = str(int(room.settings.pass_seconds)), str(int(room.settings.ticket_lifetime))
    # The cookies travel by hand: behind a proxy the browser speaks https, and sends its Secure
    # cookies back, where this client, speaking plain http to Haven as the proxy does, would not.
    async with browser(haven, base_url=f"{way.scheme}://haven.test") as client:
        answer = await client.get(SIGN_UP, headers=way.headers)
        assert answer.status_code == 200  # the room is idle: in, with a pass
        cookies = set_cookies(answer.headers.multi_items())
        assert_written_by_the_one_writer(cookies[PASS_COOKIE], way, max_age=pass_age)
        await steer(haven, action="pause")
        client.cookies.clear()
        answer = await client.get(SIGN_UP, headers=way.headers)
        assert answer.status_code == 503  # a place in the queue
        cookies = set_cookies(answer.headers.multi_items())
        assert_written_by_the_one_writer(cookies[TICKET_COOKIE], way, max_age=ticket_age)
        ticket = attributes(cookies[TICKET_COOKIE])[1]
        client.cookies.clear()
        await room.store.advance(room.name, 1, room.now())
        await room.tick()
        answer = await client.get(SIGN_UP, headers={**way.headers, "cookie": f"{TICKET_COOKIE}={ticket}"})
        assert answer.status_code == 200  # the turn came: a pass, and the spent ticket removed
        cookies = set_cookies(answer.headers.multi_items())
        assert_written_by_the_one_writer(cookies[PASS_COOKIE], way, max_age=pass_age)
        assert_written_by_the_one_writer(cookies[TICKET_COOKIE], way, max_age="0")
        assert attributes(cookies[TICKET_COOKIE])[1] == ""


def request_for(way: Way) -> Request:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "scheme": way.scheme,
        "path": "/en/account/sign-in",
        "raw_path": b"/en/account/sign-in",
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in way.headers.items()],
        "client": ("198.51.100.7", 50000),
        "server": ("haven.test", 443 if way.scheme == "https" else 80),
    }
    return Request(scope)


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.name)
def test_the_session_holder_and_csrf_cookies(app: Haven, tmp_path: Path, way: Way) -> None:
    """What the account pages set at sign-in (a new session, its holder and a new CSRF token) and
    take away at sign-out, through the personal pages' own calls."""
    settings = make_settings(
        tmp_path / "var", HAVEN_BEHIND_PROXY=way.behind_proxy, HAVEN_PUBLIC_URL=way.public_url
    )
    personal = Personal(app.site, settings)
    signing_in = request_for(way)
    personal.renew_csrf(signing_in)
    response = personal.redirect(signing_in, "/en/account")
    personal.set_session(response, signing_in, "session-id", "account-id")
    cookies = set_cookies([(k.decode(), v.decode()) for k, v in response.raw_headers])
    assert set(cookies) == {SESSION_COOKIE, HOLDER_COOKIE, CSRF_COOKIE}
    for name in (SESSION_COOKIE, HOLDER_COOKIE, CSRF_COOKIE):
        # They last as long as the browser session; the server ends the session sooner.
        assert_written_by_the_one_writer(cookies[name], way, max_age=None)
    signing_out = Response()
    personal.clear_session(signing_out, request_for(way))
    cleared = set_cookies([(k.decode(), v.decode()) for k, v in signing_out.raw_headers])
    assert set(cleared) == {SESSION_COOKIE, HOLDER_COOKIE}
    for name in (SESSION_COOKIE, HOLDER_COOKIE):
        assert_written_by_the_one_writer(cleared[name], way, max_age="0")


def test_every_cookie_name_is_one_of_havens() -> None:
    names = {
        PASS_COOKIE,
        TICKET_COOKIE,
        SESSION_COOKIE,
        CSRF_COOKIE,
        HOLDER_COOKIE,
        OPERATOR_COOKIE,
        SENT_TO_COOKIE,
        HELD_COOKIE,
    }
    assert names == NAMES
    writer = Cookies(behind_proxy=False, public_url="")
    scope: Scope = {"type": "http", "scheme": "http", "headers": []}
    with pytest.raises(ValueError, match="not one of Haven's cookies"):
        writer.header(scope, "session", "x")


@pytest.mark.parametrize(
    "value", ["a;b", "a b", 'a"b', "a,b", "a\\b", "\u00e9t\u00e9", "a\r\nSet-Cookie: x=y"]
)
def test_a_value_that_would_break_the_header_is_refused(value: str) -> None:
    writer = Cookies(behind_proxy=False, public_url="")
    scope: Scope = {"type": "http", "scheme": "http", "headers": []}
    with pytest.raises(ValueError, match="plain URL-safe text"):
        writer.header(scope, SESSION_COOKIE, value)
