"""The console's pages: signing in, the room live, a control asked for, confirmed and logged, the
audit log, both languages, and the line between operators and applicants."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest

from haven.web.cookies import OPERATOR_COOKIE, SESSION_COOKIE
from tests.console.conftest import PASSWORD, Console, code
from tests.visitor import Visitor, csrf_of, hidden


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def room_mode(console: Console) -> str:
    shield = console.app.shield
    assert shield is not None
    state = await shield.room.store.state(shield.room.name, shield.room.now())
    return state.mode


async def test_the_console_asks_an_operator_to_sign_in(console: Console) -> None:
    response = await console.browser.get("/admin/en")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/en/sign-in?next=/admin/en"
    assert (await console.browser.get("/admin")).headers["location"] == "/admin/en"
    page = await console.browser.get("/admin/en/sign-in")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    assert "private" in page.headers["cache-control"]
    assert "Sign in to the operators’ console" in unescape(page.text)


async def test_signing_in_sets_a_cookie_for_the_console_alone(console: Console) -> None:
    source = await console.browser.get("/admin/en/sign-in")
    response = await console.browser.client.post(
        "/admin/en/sign-in",
        data={
            "csrf": csrf_of(source.text),
            "name": "rosa",
            "password": PASSWORD,
            "code": code(console.operator, console.clock),
            "next": "/admin/en/audit-log",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/en/audit-log"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and OPERATOR_COOKIE in v)
    assert "Path=/admin;" in cookie
    assert "SameSite=Strict" in cookie
    assert "HttpOnly" in cookie
    page = await console.browser.get("/admin/en")
    assert page.status_code == 200
    assert "Signed in as rosa" in text(page.text)


async def test_a_wrong_sign_in_says_so_and_keeps_the_name(console: Console) -> None:
    response = await console.browser.submit(
        "/admin/en/sign-in", {"name": "rosa", "password": PASSWORD, "code": "000001"}
    )
    assert response.status_code == 422
    assert "The name, password or code is not right" in text(response.text)
    assert 'value="rosa"' in response.text
    empty = await console.browser.submit("/admin/en/sign-in", {"name": "", "password": "", "code": ""})
    assert empty.status_code == 422
    words = text(empty.text)
    assert (
        words.index("Enter your operator name") < words.index("Enter your password") < words.index("6-digit")
    )


async def test_a_pause_is_confirmed_then_done_and_logged(console: Console) -> None:
    await console.sign_in()
    browser = console.browser
    asked = await browser.submit("/admin/en/controls", {"action": "pause"}, page="/admin/en")
    assert asked.status_code == 200
    assert "Nobody more will be let in from the line" in text(asked.text)
    assert await room_mode(console) == "auto"  # asked, not done
    done = await browser.client.post(
        "/admin/en/controls", data={"csrf": csrf_of(asked.text), "action": "pause", "confirmed": "yes"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/en?done=pause"
    assert await room_mode(console) == "paused"
    page = await browser.get(done.headers["location"])
    assert "Done: Pause the room" in text(page.text)
    assert "Paused: nobody more is let in from the line." in text(page.text)
    log = await browser.get("/admin/en/audit-log")
    words = text(log.text)
    assert "rosa Pause the room" in words
    row = re.search(
        r"Pause the room</td>\s*<td><code[^>]*>(.*?)</code></td>\s*<td><code[^>]*>(.*?)</code>", log.text
    )
    assert row is not None
    before, after = (json.loads(unescape(part)) for part in row.groups())
    assert before["mode"] == "auto"
    assert after["mode"] == "paused"


async def test_a_fixed_rate_and_an_event_are_checked_field_by_field(console: Console) -> None:
    await console.sign_in()
    browser = console.browser
    bad = await browser.submit("/admin/en/controls", {"action": "rate", "rate": "lots"}, page="/admin/en")
    assert bad.status_code == 422
    assert 'href="#rate"' in bad.text
    assert "Enter how many people to let in each second" in text(bad.text)
    past = await browser.submit(
        "/admin/en/controls", {"action": "schedule", "start": "2020-01-01 10:00"}, page="/admin/en"
    )
    assert past.status_code == 422
    assert "The start must be in the future" in text(past.text)
    asked = await browser.submit(
        "/admin/en/controls",
        {"action": "schedule", "start": "2099-11-03 21:00", "seed": "s33d"},
        page="/admin/en",
    )
    assert asked.status_code == 200
    assert "before 2099-11-03 21:00:00 (Ottawa time)" in text(asked.text)
    assert "s33d" in asked.text
    done = await browser.client.post(
        "/admin/en/controls",
        data={
            "csrf": csrf_of(asked.text),
            "action": "schedule",
            "start": "2099-11-03 21:00",
            "seed": "s33d",
            "confirmed": "yes",
        },
    )
    assert done.status_code == 303
    assert await room_mode(console) == "event"
    rate = await browser.submit("/admin/en/controls", {"action": "rate", "rate": "12,5"}, page="/admin/en")
    assert "12.5 a second" in text(rate.text)


async def test_a_form_without_its_token_changes_nothing(console: Console) -> None:
    await console.sign_in()
    response = await console.browser.client.post(
        "/admin/en/controls", data={"action": "open", "confirmed": "yes"}
    )
    assert response.status_code == 403
    assert await room_mode(console) == "auto"


async def test_the_console_in_french(console: Console) -> None:
    await console.sign_in(lang="fr")
    page = await console.browser.get("/admin/fr")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    words = text(page.text)
    for english in ("The waiting room", "People in line", "Controls", "Pause the room", "Audit log"):
        assert english not in words, english
    log = await console.browser.get("/admin/fr/journal")
    assert log.status_code == 200
    assert "Journal" in text(log.text)


async def test_the_figures_come_alone_for_the_script(console: Console) -> None:
    await console.sign_in()
    sampler = console.app.console.sampler
    assert sampler is not None
    await sampler.sample()
    await sampler.sample()
    fragment = await console.browser.get("/admin/en/figures")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Arrivals a second" in fragment.text
    assert "<svg" in fragment.text
    assert "no-store" in fragment.headers["cache-control"]
    console.browser.client.cookies.clear()
    assert (await console.browser.get("/admin/en/figures")).status_code == 401


async def test_an_applicants_session_opens_nothing_in_the_console(console: Console) -> None:
    applicant = console.browser
    await applicant.sign_up_and_in("ana@example.com")
    assert (await applicant.get("/en/account")).status_code == 200
    for page in ("/admin/en", "/admin/en/audit-log", "/admin/en/figures"):
        assert (await applicant.get(page)).status_code in (303, 401), page
    # Its value put where the console looks is not an operator's session either.
    applicant.client.cookies.set(
        OPERATOR_COOKIE, applicant.cookie(SESSION_COOKIE), domain="haven.test", path="/admin"
    )
    assert (await applicant.get("/admin/en")).status_code == 303


async def test_an_operators_session_opens_nothing_of_an_applicants(console: Console) -> None:
    await console.sign_in()
    operator = console.browser
    value = operator.cookie(OPERATOR_COOKIE)
    async with Visitor.of(console.app, console.app.settings.mail_folder) as other:
        other.client.cookies.set(OPERATOR_COOKIE, value, domain="haven.test")  # sent everywhere
        other.client.cookies.set(SESSION_COOKIE, value, domain="haven.test")
        account = await other.get("/en/account")
        assert account.status_code == 303
        assert "/en/account/sign-in" in account.headers["location"]


async def test_the_operators_api_is_logged_too(console: Console) -> None:
    token = console.app.settings.admin_token
    response = await console.browser.client.post(
        "/admin/api/room", json={"action": "rate", "rate": 7}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    entries, _ = await console.app.services.operators.entries()
    assert entries[0].operator == "(token)"
    assert entries[0].action == "rate"
    assert json.loads(entries[0].after)["rate"] == 7.0


@pytest.mark.parametrize("page", ["/admin/en", "/admin/fr/journal", "/admin/en/sign-in"])
async def test_console_pages_are_never_cached(console: Console, page: str) -> None:
    await console.sign_in()
    response = await console.browser.get(page)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert "noindex" in response.headers["x-robots-tag"]


async def test_a_round_is_shown_as_a_dry_run_then_run_and_logged(console: Console) -> None:
    await console.sign_in()
    browser = console.browser
    page = await browser.get("/admin/en/rounds")
    assert page.status_code == 200
    assert "No round has been run yet." in text(page.text)
    assert 'value="category:french"' in page.text  # the categories in force today
    bad = await browser.submit("/admin/en/rounds", {"kind": "general", "size": "0"}, page="/admin/en/rounds")
    assert bad.status_code == 422
    assert "Enter how many people to invite" in text(bad.text)
    wrong = await browser.submit(
        "/admin/en/rounds", {"kind": "program:xyz", "size": "5"}, page="/admin/en/rounds"
    )
    assert wrong.status_code == 422
    assert "Choose who the round is for" in text(wrong.text)
    asked = await browser.submit(
        "/admin/en/rounds", {"kind": "program:cec", "size": "1,500"}, page="/admin/en/rounds"
    )
    assert asked.status_code == 200
    words = text(asked.text)
    assert "Canadian Experience Class" in words
    assert "People it would invite now 0" in words  # an empty pool
    assert await console.app.services.rounds.all() == []  # a dry run records nothing
    fields = {name: hidden(asked.text, name) for name in ("size", "kind", "at")}
    done = await browser.client.post(
        "/admin/en/rounds", data={"csrf": csrf_of(asked.text), **fields, "confirmed": "yes"}
    )
    assert done.status_code == 303
    (recorded,) = await console.app.services.rounds.all()
    assert recorded.program == "cec"
    assert recorded.size == 1500
    listing = text((await browser.get(done.headers["location"])).text)
    assert f"Round {recorded.id} is recorded: 0 people invited" in listing
    entries, _ = await console.app.services.operators.entries()
    assert entries[0].action == "round-drawn"
    assert json.loads(entries[0].after)["id"] == recorded.id
    # Confirming the same dry run again issues nothing more.
    again = await browser.client.post(
        "/admin/en/rounds", data={"csrf": csrf_of(asked.text), **fields, "confirmed": "yes"}
    )
    assert again.status_code == 303
    assert len(await console.app.services.rounds.all()) == 1


async def test_an_old_dry_run_must_be_looked_at_again(console: Console) -> None:
    await console.sign_in()
    asked = await console.browser.submit(
        "/admin/en/rounds", {"kind": "general", "size": "10"}, page="/admin/en/rounds"
    )
    fields = {name: hidden(asked.text, name) for name in ("size", "kind", "at")}
    assert console.clock.moment is not None
    console.clock.moment += dt.timedelta(minutes=16)
    late = await console.browser.client.post(
        "/admin/en/rounds", data={"csrf": csrf_of(asked.text), **fields, "confirmed": "yes"}
    )
    assert late.status_code == 422
    assert "more than 15 minutes old" in text(late.text)
    assert await console.app.services.rounds.all() == []
