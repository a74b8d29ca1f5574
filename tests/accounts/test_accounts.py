"""Accounts, on SQLite and on PostgreSQL: sign up, confirm, sign in and out, reset, and the guards."""

from __future__ import annotations

import pytest

from tests.visitor import Visitor, csrf_of, hidden

SIGN_UP = "/en/account/sign-up"
SIGN_IN = "/en/account/sign-in"


async def test_sign_up_confirm_sign_in_and_out(site: Visitor) -> None:
    await site.sign_up_and_in("Ada@Example.org")
    home = await site.get("/en/account")
    assert home.status_code == 200
    assert "ada@example.org" in home.text
    assert home.headers["cache-control"] == "private, no-store"
    sign_out = await site.submit("/en/account/sign-out", {}, page="/en/account")
    assert sign_out.status_code == 303
    assert (await site.get("/en/account")).status_code == 303  # back to sign in


async def test_sign_up_errors_name_each_field_in_both_languages(site: Visitor) -> None:
    english = await site.submit(SIGN_UP, {"email": "not-an-address", "password": "short"})
    assert english.status_code == 422
    assert "<title>Error: " in english.text
    assert "Enter an email address in the correct format, like name@example.com" in english.text
    assert "Enter a password of at least 10 characters" in english.text
    assert 'value="not-an-address"' in english.text
    french = await site.submit("/fr/compte/inscription", {"email": "", "password": ""})
    assert french.status_code == 422
    assert "<title>Erreur\u00a0: " in french.text


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(site: Visitor) -> None:
    response = await site.client.post(
        SIGN_UP, data={"email": "eve@example.org", "password": "long enough password"}
    )
    assert response.status_code == 403
    assert await site.mails() == []
    forged = await site.client.post(
        SIGN_UP, data={"email": "eve@example.org", "password": "long enough password", "csrf": "guess"}
    )
    assert forged.status_code == 403


async def test_signing_up_twice_tells_nobody_but_the_owner(site: Visitor) -> None:
    await site.submit(SIGN_UP, {"email": "bo@example.org", "password": "long enough password"})
    again = await site.submit(SIGN_UP, {"email": "bo@example.org", "password": "another password!"})
    assert again.status_code == 303  # the same answer as a new address
    mails = await site.mails()
    assert "You already have a Haven account" in mails[-1]


async def test_a_wrong_password_says_so_without_saying_which(site: Visitor) -> None:
    await site.sign_up_and_in("cy@example.org")
    await site.submit("/en/account/sign-out", {}, page="/en/account")
    wrong = await site.submit(SIGN_IN, {"email": "cy@example.org", "password": "wrong password"})
    unknown = await site.submit(SIGN_IN, {"email": "nobody@example.org", "password": "wrong password"})
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "Enter the email address and password of your Haven account" in response.text


async def test_the_session_id_changes_at_sign_in(site: Visitor) -> None:
    """Session fixation: a session id planted before sign-in is never the one after."""
    await site.sign_up_and_in("dee@example.org")
    first = site.cookie("haven_session")
    await site.submit("/en/account/sign-out", {}, page="/en/account")
    site.plant("haven_session", first)
    again = await site.submit(SIGN_IN, {"email": "dee@example.org", "password": "correct horse battery"})
    assert again.status_code == 303
    second = site.cookie("haven_session")
    assert second != first
    # The old id, signed out, opens nothing.
    site.plant("haven_session", first)
    assert (await site.get("/en/account")).status_code == 303


async def test_cookies_are_http_only_and_same_site_lax(site: Visitor) -> None:
    await site.submit(SIGN_UP, {"email": "eli@example.org", "password": "long enough password"})
    link = await site.link_in_last_mail()
    page = await site.get(link)
    await site.client.post(
        link.split("?")[0], data={"csrf": csrf_of(page.text), "token": hidden(page.text, "token")}
    )
    form = await site.get(SIGN_IN)
    response = await site.client.post(
        SIGN_IN,
        data={"csrf": csrf_of(form.text), "email": "eli@example.org", "password": "long enough password"},
    )
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and "haven_session" in value
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_sign_in_is_throttled_per_account_then_works_again(site: Visitor) -> None:
    await site.sign_up_and_in("fay@example.org")
    await site.submit("/en/account/sign-out", {}, page="/en/account")
    statuses = []
    for _ in range(7):
        response = await site.submit(SIGN_IN, {"email": "fay@example.org", "password": "wrong password"})
        statuses.append(response.status_code)
    assert statuses[:6] == [422] * 6
    assert statuses[6] == 429
    blocked = await site.submit(SIGN_IN, {"email": "fay@example.org", "password": "correct horse battery"})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Your account is not locked" in blocked.text
    # The wait is a throttle, not a lock: once it is over, the right password works.
    await site.app.services.database.engine.dispose() if False else None
    await expire_throttles(site)
    ok = await site.submit(SIGN_IN, {"email": "fay@example.org", "password": "correct horse battery"})
    assert ok.status_code == 303


async def expire_throttles(site: Visitor) -> None:
    import datetime as dt

    from sqlalchemy import update

    from haven.accounts.models import Throttle

    database = site.app.services.database
    assert database is not None
    async with database.transaction() as session:
        await session.execute(
            update(Throttle).values(blocked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


async def test_sign_in_is_throttled_per_address_across_accounts(site: Visitor) -> None:
    for number in range(31):
        await site.submit(SIGN_IN, {"email": f"guess{number}@example.org", "password": "wrong password"})
    response = await site.submit(SIGN_IN, {"email": "someone@example.org", "password": "wrong password"})
    assert response.status_code == 429


async def test_a_password_reset_link_works_once_and_signs_out_everywhere(site: Visitor) -> None:
    await site.sign_up_and_in("gil@example.org")
    asked = await site.submit("/en/account/forgot-password", {"email": "gil@example.org"})
    assert asked.status_code == 303
    link = await site.link_in_last_mail()
    form = await site.get(link)
    assert form.status_code == 200
    token = hidden(form.text, "token")
    changed = await site.client.post(
        "/en/account/reset-password",
        data={"csrf": csrf_of(form.text), "token": token, "password": "a brand new password"},
    )
    assert changed.status_code == 200
    assert (await site.get("/en/account")).status_code == 303  # signed out everywhere
    again = await site.get(link)
    assert again.status_code == 400
    signed = await site.submit(SIGN_IN, {"email": "gil@example.org", "password": "a brand new password"})
    assert signed.status_code == 303


async def test_asking_for_a_reset_for_an_unknown_address_looks_the_same(site: Visitor) -> None:
    response = await site.submit("/en/account/forgot-password", {"email": "ghost@example.org"})
    assert response.status_code == 303
    assert await site.mails() == []


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/fr/compte"])
async def test_sign_in_only_sends_you_to_our_own_pages(site: Visitor, target: str) -> None:
    await site.submit(SIGN_UP, {"email": "hal@example.org", "password": "long enough password"})
    response = await site.submit(
        SIGN_IN,
        {"email": "hal@example.org", "password": "long enough password", "next": target},
        page=SIGN_IN,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/en/account"
