"""Accounts, on SQLite and on PostgreSQL: sign up, confirm, sign in and out, reset, and the guards."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from haven.accounts.models import Account
from haven.accounts.service import ACCOUNT_ALLOWANCE, ADDRESS_ALLOWANCE, BASE_WAIT
from haven.web.clock import FixedClock
from tests.accounts.factories import PASSWORD, verified_account
from tests.visitor import Visitor, csrf_of, hidden

HOME = "/en/account"
SIGN_UP = "/en/account/sign-up"
SIGN_IN = "/en/account/sign-in"
SIGN_OUT = "/en/account/sign-out"
FORGOT = "/en/account/forgot-password"
RESET = "/en/account/reset-password"
WRONG = "wrong password"


async def signed_in_as(site: Visitor, email: str) -> None:
    """A confirmed account for ``email``, made in the database, and this visitor signed in to it."""
    await verified_account(site.app.services.accounts, email)
    response = await site.submit(SIGN_IN, {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text[:500]


async def accounts_in_database(site: Visitor) -> int:
    async with site.app.services.database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(Account)) or 0


async def test_sign_up_confirm_sign_in_and_out(site: Visitor) -> None:
    await site.sign_up_and_in("Ada@Example.org")
    home = await site.get(HOME)
    assert home.status_code == 200
    assert "ada@example.org" in home.text
    assert home.headers["cache-control"] == "private, no-store"
    sign_out = await site.submit(SIGN_OUT, {}, page=HOME)
    assert sign_out.status_code == 303
    assert (await site.get(HOME)).status_code == 303  # back to sign in


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
    forged = await site.client.post(
        SIGN_UP, data={"email": "eve@example.org", "password": "long enough password", "csrf": "guess"}
    )
    assert forged.status_code == 403
    assert await accounts_in_database(site) == 0
    assert await site.mails() == []


@pytest.mark.parametrize("page", [SIGN_UP, "/en/account/verify-email", SIGN_IN, SIGN_OUT, FORGOT, RESET])
async def test_a_body_that_is_not_a_form_is_refused_on_every_account_page(site: Visitor, page: str) -> None:
    response = await site.client.post(page, json={"email": "eve@example.org"})
    assert response.status_code == 400


async def test_a_body_that_is_not_a_form_is_refused_when_asking_for_the_link_again(site: Visitor) -> None:
    await signed_in_as(site, "eve@example.org")
    response = await site.client.post("/en/account/send-link-again", json={})
    assert response.status_code == 400


async def test_signing_up_twice_tells_nobody_but_the_owner(site: Visitor) -> None:
    first = await site.submit(SIGN_UP, {"email": "bo@example.org", "password": "long enough password"})
    again = await site.submit(SIGN_UP, {"email": "bo@example.org", "password": "another password!"})
    assert first.status_code == again.status_code == 303  # the same answer as a new address
    assert first.headers["location"] == again.headers["location"]
    mails = await site.mails()
    assert len(mails) == 2
    assert "You already have a Haven account" in mails[1]


async def test_a_wrong_password_says_so_without_saying_which(site: Visitor) -> None:
    await verified_account(site.app.services.accounts, "cy@example.org")
    wrong = await site.submit(SIGN_IN, {"email": "cy@example.org", "password": WRONG})
    unknown = await site.submit(SIGN_IN, {"email": "nobody@example.org", "password": WRONG})
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "The email address or password is not right" in response.text


async def test_the_session_id_changes_at_sign_in(site: Visitor) -> None:
    """Session fixation: a session id planted before sign-in is never the one after."""
    await signed_in_as(site, "dee@example.org")
    first = site.cookie("haven_session")
    await site.submit(SIGN_OUT, {}, page=HOME)
    site.plant("haven_session", first)
    again = await site.submit(SIGN_IN, {"email": "dee@example.org", "password": PASSWORD})
    assert again.status_code == 303
    second = site.cookie("haven_session")
    assert second != first
    # The old id, signed out, opens nothing.
    site.plant("haven_session", first)
    assert (await site.get(HOME)).status_code == 303


async def test_signing_in_again_ends_the_session_held_before(site: Visitor) -> None:
    await signed_in_as(site, "dot@example.org")
    first = site.cookie("haven_session")
    again = await site.submit(SIGN_IN, {"email": "dot@example.org", "password": PASSWORD})
    assert again.status_code == 303
    assert (await site.get(HOME)).status_code == 200  # signed in, on the new session
    site.plant("haven_session", first)
    assert (await site.get(HOME)).status_code == 303


async def test_cookies_are_http_only_and_same_site_lax(site: Visitor) -> None:
    await verified_account(site.app.services.accounts, "eli@example.org")
    form = await site.get(SIGN_IN)
    response = await site.client.post(
        SIGN_IN, data={"csrf": csrf_of(form.text), "email": "eli@example.org", "password": PASSWORD}
    )
    assert response.status_code == 303
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and "haven_session" in value
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


async def test_failures_past_the_allowance_make_you_wait_and_the_wait_ends_by_itself(
    site: Visitor, clock: FixedClock
) -> None:
    """ACCOUNT_ALLOWANCE failures cost nothing; the first failure past them starts a wait of
    BASE_WAIT, each later one doubles it, and after the wait the right password works."""
    await verified_account(site.app.services.accounts, "fay@example.org")

    async def attempt(password: str) -> httpx.Response:
        return await site.submit(SIGN_IN, {"email": "fay@example.org", "password": password})

    def waits(response: httpx.Response, base_waits: int) -> bool:
        """Refused, told to come back after ``base_waits`` times BASE_WAIT (rounded up)."""
        seconds = base_waits * BASE_WAIT.total_seconds()
        return response.status_code == 429 and seconds <= int(response.headers["retry-after"]) <= seconds + 1

    for _ in range(ACCOUNT_ALLOWANCE):
        assert (await attempt(WRONG)).status_code == 422
    past = await attempt(WRONG)  # the first failure past the allowance is answered; the wait begins
    assert past.status_code == 422
    assert "retry-after" not in past.headers
    refused = await attempt(PASSWORD)  # even the right password waits
    assert waits(refused, 1)
    assert "Your account is not locked" in refused.text

    clock.moment = clock.now() + BASE_WAIT
    assert (await attempt(WRONG)).status_code == 422  # the wait is over; this failure doubles it
    assert waits(await attempt(PASSWORD), 2)

    clock.moment = clock.now() + 2 * BASE_WAIT  # a throttle, not a lock: the right password works
    assert (await attempt(PASSWORD)).status_code == 303


async def test_sign_in_is_throttled_per_address_across_accounts(site: Visitor) -> None:
    """From one address, ADDRESS_ALLOWANCE failures cost nothing, whatever the accounts tried; the
    first past them starts a wait for every account."""
    for number in range(ADDRESS_ALLOWANCE + 1):
        guess = await site.submit(SIGN_IN, {"email": f"guess{number}@example.org", "password": WRONG})
        assert guess.status_code == 422
    response = await site.submit(SIGN_IN, {"email": "someone@example.org", "password": WRONG})
    assert response.status_code == 429


async def test_a_password_reset_link_works_once_and_signs_out_everywhere(site: Visitor) -> None:
    await signed_in_as(site, "gil@example.org")
    asked = await site.submit(FORGOT, {"email": "gil@example.org"})
    assert asked.status_code == 303
    link = await site.link_in_last_mail()
    form = await site.get(link)
    assert form.status_code == 200
    token = hidden(form.text, "token")
    changed = await site.client.post(
        RESET, data={"csrf": csrf_of(form.text), "token": token, "password": "a brand new password"}
    )
    assert changed.status_code == 200
    assert (await site.get(HOME)).status_code == 303  # signed out everywhere
    again = await site.get(link)
    assert again.status_code == 400
    old = await site.submit(SIGN_IN, {"email": "gil@example.org", "password": PASSWORD})
    assert old.status_code == 422
    signed = await site.submit(SIGN_IN, {"email": "gil@example.org", "password": "a brand new password"})
    assert signed.status_code == 303


async def test_asking_for_a_reset_for_an_unknown_address_looks_the_same(site: Visitor) -> None:
    await verified_account(site.app.services.accounts, "ivy@example.org")
    known = await site.submit(FORGOT, {"email": "ivy@example.org"})
    unknown = await site.submit(FORGOT, {"email": "ghost@example.org"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    mails = await site.mails()
    assert len(mails) == 1
    assert "To: ivy@example.org" in mails[0]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/fr/compte"])
async def test_sign_in_only_sends_you_to_our_own_pages(site: Visitor, target: str) -> None:
    await verified_account(site.app.services.accounts, "hal@example.org")
    response = await site.submit(
        SIGN_IN, {"email": "hal@example.org", "password": PASSWORD, "next": target}, page=SIGN_IN
    )
    assert response.status_code == 303
    assert response.headers["location"] == HOME
