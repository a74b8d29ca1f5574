"""The confirmation link signs in (once, soon, in the browser that signed up), sign-in brings an old
password hash up to today's argon2 parameters, and the session read still ends idle sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from sqlalchemy import func, select

from haven.accounts.models import Account, WebSession
from haven.accounts.service import SESSION_IDLE, SIGN_IN_FOR
from haven.web.clock import FixedClock
from haven.web.cookies import SESSION_COOKIE
from tests.accounts.factories import PASSWORD, verified_account
from tests.visitor import Visitor, csrf_of, hidden

HOME = "/en/account"
SIGN_UP = "/en/account/sign-up"
SIGN_IN = "/en/account/sign-in"


async def sign_up(site: Visitor, email: str) -> str:
    """Sign up in this visitor's browser; the confirmation link from the email."""
    response = await site.submit(SIGN_UP, {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text[:500]
    return await site.link_in_last_mail()


async def confirm(visitor: Visitor, link: str) -> int:
    """Open the link and select the button, as a person does; the status of the answer."""
    page = await visitor.get(link)
    assert page.status_code == 200
    response = await visitor.client.post(
        link.split("?")[0], data={"csrf": csrf_of(page.text), "token": hidden(page.text, "token")}
    )
    return response.status_code


@asynccontextmanager
async def another_browser(site: Visitor) -> AsyncIterator[Visitor]:
    async with Visitor.of(site.app, site.mail_dir, address="198.51.100.9") as other:
        yield other


async def sessions(site: Visitor) -> int:
    async with site.app.services.database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(WebSession)) or 0


async def stored_hash(site: Visitor, email: str) -> str:
    async with site.app.services.database.transaction() as session:
        found = await session.scalar(select(Account.password_hash).where(Account.email == email))
    assert found is not None
    return found


async def test_the_confirmation_link_signs_you_in_with_a_new_session(site: Visitor) -> None:
    link = await sign_up(site, "ada@example.org")
    csrf_before = site.cookie("haven_csrf")
    assert (await site.get(HOME)).status_code == 303  # not signed in yet
    assert await confirm(site, link) == 200
    home = await site.get(HOME)
    assert home.status_code == 200
    assert "ada@example.org" in home.text
    assert 'name="create_key"' in home.text  # ready to start a profile, no password asked
    assert site.cookie("haven_csrf") != csrf_before  # a new CSRF token with the new session
    assert await sessions(site) == 1


async def test_a_used_confirmation_link_does_not_sign_in_again(site: Visitor) -> None:
    link = await sign_up(site, "ada@example.org")
    assert await confirm(site, link) == 200
    first = site.cookie(SESSION_COOKIE)
    assert await confirm(site, link) == 400  # "This link has expired or has already been used"
    assert site.cookie(SESSION_COOKIE) == first
    assert await sessions(site) == 1


async def test_in_another_browser_the_link_only_confirms_the_address(site: Visitor) -> None:
    # Someone signing up with another person's address chose the password: following the link
    # must not sign that person in to an account somebody else can open.
    link = await sign_up(site, "ada@example.org")
    async with another_browser(site) as other:
        assert await confirm(other, link) == 200
        assert (await other.get(HOME)).status_code == 303  # to the sign-in page
    assert await sessions(site) == 0
    async with site.app.services.database.transaction() as session:
        account = await session.scalar(select(Account).where(Account.email == "ada@example.org"))
    assert account is not None
    assert account.email_verified_at is not None


async def test_a_link_followed_after_an_hour_only_confirms_the_address(
    site: Visitor, clock: FixedClock
) -> None:
    link = await sign_up(site, "ada@example.org")
    clock.moment = clock.now() + SIGN_IN_FOR + dt.timedelta(seconds=1)
    assert await confirm(site, link) == 200
    assert (await site.get(HOME)).status_code == 303
    assert await sessions(site) == 0


async def test_an_old_hash_is_made_again_with_todays_parameters_at_sign_in(site: Visitor) -> None:
    accounts = site.app.services.accounts
    account = await verified_account(accounts, "ada@example.org")
    old = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD)
    async with site.app.services.database.transaction() as session:
        (await session.get(Account, account.id)).password_hash = old  # type: ignore[union-attr]
    hasher = site.app.services.passwords.hasher
    assert hasher.check_needs_rehash(old)

    response = await site.submit(SIGN_IN, {"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 303
    fresh = await stored_hash(site, "ada@example.org")
    assert fresh != old
    assert not hasher.check_needs_rehash(fresh)
    assert hasher.verify(fresh, PASSWORD)

    # And a hash that is already today's is left as it is.
    async with another_browser(site) as other:
        again = await other.submit(SIGN_IN, {"email": "ada@example.org", "password": PASSWORD})
        assert again.status_code == 303
    assert await stored_hash(site, "ada@example.org") == fresh


async def test_an_idle_session_ends_at_its_next_request(site: Visitor, clock: FixedClock) -> None:
    await verified_account(site.app.services.accounts, "ada@example.org")
    assert (await site.submit(SIGN_IN, {"email": "ada@example.org", "password": PASSWORD})).status_code == 303
    clock.moment = clock.now() + SESSION_IDLE - dt.timedelta(seconds=1)
    assert (await site.get(HOME)).status_code == 200  # still in: and seen now
    clock.moment = clock.now() + SESSION_IDLE - dt.timedelta(seconds=1)
    assert (await site.get(HOME)).status_code == 200  # the last request counted, not the sign-in
    clock.moment = clock.now() + SESSION_IDLE + dt.timedelta(seconds=1)
    assert (await site.get(HOME)).status_code == 303
    assert await sessions(site) == 0  # ended, not just refused
