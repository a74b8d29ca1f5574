"""Each retention rule on SQLite and on PostgreSQL: what it deletes and what it must keep, just inside
and just past each limit, with the rows made through the app's own services."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy import select, update

from haven.accounts.models import Account, EmailToken, Throttle, WebSession
from haven.accounts.service import LinkNotValid, SignInFailed, TooManyAttempts
from haven.console.models import AuditEntry, OperatorSession
from haven.mail.models import OutboxMessage
from haven.mail.outbox import MAX_ATTEMPTS, Refused, deliver, queue
from haven.profiles.models import Profile
from haven.profiles.service import ProfileNotEditable
from haven.retention import RULES, prune
from haven.rounds.models import Application, Invitation, PoolCategory, PoolEntry, Round
from haven.rounds.service import round_day
from haven.rules.rounds import spec
from haven.services import Services
from haven.turnmail.models import TurnEmail
from haven.web.clock import FixedClock
from tests.accounts.factories import PASSWORD
from tests.retention.conftest import NOW
from tests.retention.making import confirmed, draft, rows, save, signed_in, signed_up
from tests.rounds.applicants import applicant

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
NOTHING = dict.fromkeys((rule.name for rule in RULES), 0)


def only(**counts: int) -> dict[str, int]:
    """What ``prune`` returns when only these rules deleted anything."""
    return {**NOTHING, **counts}


async def test_a_session_goes_once_it_has_ended_and_a_live_one_stays(
    services: Services, clock: FixedClock
) -> None:
    await confirmed(services, clock, "ana@example.org", NOW - 30 * DAY)
    await signed_in(services, clock, "ana@example.org", NOW - 13 * HOUR)  # ended an hour ago
    # Idle for hours, it signs nobody in; its row waits for its end, a minute from now.
    await signed_in(services, clock, "ana@example.org", NOW - 12 * HOUR + dt.timedelta(minutes=1))
    live = await signed_in(services, clock, "ana@example.org", NOW - 20 * dt.timedelta(minutes=1))

    assert await prune(services.database, NOW) == only(sessions=1)
    assert await rows(services, WebSession) == 2
    clock.moment = NOW
    assert await services.accounts.account_for_session(live) is not None  # still signed in
    assert await prune(services.database, NOW) == NOTHING
    assert await prune(services.database, NOW + 2 * dt.timedelta(minutes=1)) == only(sessions=1)


async def test_an_email_link_goes_once_used_or_expired_and_an_open_one_still_works(
    services: Services, clock: FixedClock
) -> None:
    await signed_up(services, clock, "late@example.org", NOW - 4 * DAY)  # expired a day ago
    still_open = await signed_up(services, clock, "open@example.org", NOW - 2 * DAY)  # a day left
    used = await signed_up(services, clock, "used@example.org", NOW - HOUR)
    await services.accounts.verify_email(used)

    assert await prune(services.database, NOW) == only(email_tokens=2)
    assert await rows(services, EmailToken) == 1
    with pytest.raises(LinkNotValid):  # a deleted link answers as a used one did
        await services.accounts.verify_email(used)
    clock.moment = NOW
    account, _ = await services.accounts.verify_email(still_open)
    assert account.email == "open@example.org"
    assert await prune(services.database, NOW) == only(email_tokens=1)


async def test_a_sign_in_count_goes_after_its_window_but_never_while_it_blocks(
    services: Services, clock: FixedClock
) -> None:
    await confirmed(services, clock, "kim@example.org", NOW - 30 * DAY)
    start = NOW - dt.timedelta(minutes=20)

    async def fail(email: str, address: str, at: dt.datetime) -> None:
        clock.moment = at
        with pytest.raises(SignInFailed):
            await services.accounts.sign_in(email, "wrong password", address)

    for _ in range(5):  # the account's allowance, all at the start of its window
        await fail("kim@example.org", "192.0.2.1", start)
    # The sixth, just inside the window, blocks the account for 15 seconds: past the window's end.
    await fail("kim@example.org", "192.0.2.1", start + dt.timedelta(minutes=14, seconds=59))
    await fail("lee@example.org", "192.0.2.2", start + dt.timedelta(minutes=10))

    during_block = start + dt.timedelta(minutes=15, seconds=5)
    # The window of 192.0.2.1 (six failures, no block) has passed: it goes. Kim's account is
    # blocked: it stays. Lee's account and 192.0.2.2 are inside their window: they keep their count.
    assert await prune(services.database, during_block) == only(throttles=1)
    kept = await services.database.read(
        lambda connection: {row.key: row.failures for row in connection.execute(select(Throttle))}
    )
    assert kept == {"account:kim@example.org": 6, "account:lee@example.org": 1, "address:192.0.2.2": 1}
    clock.moment = during_block
    with pytest.raises(TooManyAttempts):
        await services.accounts.sign_in("kim@example.org", PASSWORD, "192.0.2.3")
    await fail("lee@example.org", "192.0.2.2", during_block)
    assert await rows(services, Throttle, Throttle.key == "account:lee@example.org", Throttle.failures == 2)

    after_block = start + dt.timedelta(minutes=15, seconds=15)
    assert await prune(services.database, after_block) == only(throttles=1)
    assert await rows(services, Throttle, Throttle.key == "account:kim@example.org") == 0
    clock.moment = after_block
    await services.accounts.sign_in("kim@example.org", PASSWORD, "192.0.2.3")


async def _queued(services: Services, count: int) -> list[int]:
    ids = []
    for index in range(count):
        async with services.database.transaction() as session:
            message = queue(
                session, f"person{index}@example.org", "Haven: a subject", "A body.", language="en"
            )
            await session.flush()
            ids.append(message.id)
    return ids


async def _outbox_ids(services: Services) -> list[int]:
    return await services.database.read(
        lambda connection: list(
            connection.execute(select(OutboxMessage.id).order_by(OutboxMessage.id)).scalars()
        )
    )


async def test_a_delivered_email_goes_after_a_week_but_never_the_newest_nor_one_a_turn_email_holds(
    services: Services,
) -> None:
    first, held, newest = await _queued(services, 3)
    await deliver(services.database, services.mailer)
    sent = await services.database.read(
        lambda connection: connection.execute(
            select(OutboxMessage.sent_at).where(OutboxMessage.id == first)
        ).scalar_one()
    )
    assert sent is not None
    async with services.database.transaction() as session:  # as the turn emails' send leaves it
        session.add(
            TurnEmail(
                room="main", number=1, issued_ms=0, predicted=0, place=1, lang="en", next="/en",
                address_key="a" * 64, client_key="c" * 64, created_at=sent, sent_at=sent, outbox_id=held,
            )
        )  # fmt: skip

    assert await prune(services.database, sent + 6 * DAY) == NOTHING
    assert await prune(services.database, sent + 8 * DAY) == only(outbox_delivered=1)
    assert await _outbox_ids(services) == [held, newest]
    # Once a newer message exists, and once the turn email has let go of it, each may go.
    (pending,) = await _queued(services, 1)
    async with services.database.transaction() as session:
        await session.execute(update(TurnEmail).values(outbox_id=None))
    assert await prune(services.database, sent + 8 * DAY) == only(outbox_delivered=2)
    assert await _outbox_ids(services) == [pending]  # not delivered yet: never deleted


class Refusing:
    """A relay that refuses every message for good."""

    async def send(self, message: OutboxMessage) -> None:
        raise Refused("550 5.1.1 User unknown")


async def test_an_email_given_up_on_goes_after_30_days_and_one_still_tried_stays(services: Services) -> None:
    (refused,) = await _queued(services, 1)
    await deliver(services.database, Refusing())
    abandoned, tried, _newest = await _queued(services, 3)
    async with services.database.transaction() as session:
        # Every attempt spent before the outbox recorded when it gave up; and a message with one
        # attempt left, due again later.
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == abandoned).values(attempts=MAX_ATTEMPTS)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == tried)
            .values(attempts=MAX_ATTEMPTS - 1, next_attempt_at=NOW + HOUR)
        )
    failed = await services.database.read(
        lambda connection: connection.execute(
            select(OutboxMessage.failed_at).where(OutboxMessage.id == refused)
        ).scalar_one()
    )
    assert failed is not None
    assert await prune(services.database, failed + 29 * DAY) == NOTHING
    assert await prune(services.database, failed + 31 * DAY) == only(outbox_failed=2)
    left = await _outbox_ids(services)
    assert refused not in left
    assert abandoned not in left
    assert tried in left


async def test_a_draft_goes_60_days_after_its_last_save_with_its_passport_number(
    services: Services, clock: FixedClock
) -> None:
    start = NOW - 200 * DAY
    ana = await confirmed(services, clock, "ana@example.org", start)
    ben = await confirmed(services, clock, "ben@example.org", start)
    untouched = await draft(services, ana.id, start)
    saved_later = await draft(services, ben.id, start)
    await save(services, ben.id, saved_later, start + 59 * DAY, city="Accra")

    assert await prune(services.database, start + 59 * DAY) == NOTHING
    assert await prune(services.database, start + 61 * DAY) == only(drafts=1)
    assert await rows(services, Profile, Profile.id == untouched) == 0
    kept = await services.profiles.get(ben.id, saved_later)
    assert kept.answers["contact"]["city"] == "Accra"
    assert services.profiles.passport_number(kept) == "A12345678"
    with pytest.raises(ProfileNotEditable):  # it expired at 60 days from its start, as before
        await save(services, ben.id, saved_later, start + 61 * DAY, city="Kumasi")
    assert await prune(services.database, start + 118 * DAY) == NOTHING
    assert await prune(services.database, start + 120 * DAY) == only(drafts=1)


async def test_a_profile_goes_30_days_past_its_12_months_unless_an_application_or_an_open_invitation_holds_it(
    services: Services,
) -> None:
    t0 = dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC)
    nominated = {"pnp": "yes", "province": "on"}

    async def draw(size: int, round_id: str, at: dt.datetime) -> None:
        await services.rounds.draw(spec(size, at, round_day(at)), round_id, now=at)

    accepting = await applicant(services, "acc@example.org", t0 - 2 * HOUR, nomination=nominated)
    declining = await applicant(services, "dec@example.org", t0 - HOUR)
    await draw(2, "round-1", t0 + DAY)
    await services.rounds.accept(accepting.account_id, accepting.id, t0 + 2 * DAY)
    await services.rounds.decline(declining.account_id, declining.id, t0 + 2 * DAY)
    pooled = await applicant(services, "sub@example.org", t0)
    withdrawn = await applicant(services, "wd@example.org", t0)
    await services.profiles.withdraw(withdrawn.account_id, withdrawn.id, now=t0 + 10 * DAY)
    # Invited 330 days after submission: the invitation is open until day 390, never answered.
    invited = await applicant(services, "inv@example.org", t0, nomination=nominated)
    await draw(1, "round-2", t0 + 330 * DAY)
    assert await rows(services, Invitation, Invitation.profile_id == invited.id, Invitation.state == "open")

    async def left() -> set[str]:
        return set(
            await services.database.read(
                lambda connection: connection.execute(select(Account.email).join(Profile)).scalars().all()
            )
        )

    everyone = {"acc@example.org", "dec@example.org", "sub@example.org", "wd@example.org", "inv@example.org"}
    assert (await prune(services.database, t0 + 394 * DAY))["expired_profiles"] == 0
    assert await left() == everyone

    assert (await prune(services.database, t0 + 396 * DAY))["expired_profiles"] == 3
    assert await left() == {"acc@example.org", "inv@example.org"}
    for gone in (pooled, withdrawn, declining):  # their pool rows and past invitations with them
        assert await rows(services, PoolEntry, PoolEntry.profile_id == gone.id) == 0
        assert await rows(services, PoolCategory, PoolCategory.profile_id == gone.id) == 0
        assert await rows(services, Invitation, Invitation.profile_id == gone.id) == 0
    assert await rows(services, Round) == 2  # the rounds' public record stays whole

    # The invitation's deadline (day 390) passed 30 days ago: it goes. The application stays.
    assert (await prune(services.database, t0 + 419 * DAY))["expired_profiles"] == 0
    assert (await prune(services.database, t0 + 421 * DAY))["expired_profiles"] == 1
    assert (await prune(services.database, t0 + 2000 * DAY))["expired_profiles"] == 0
    assert await left() == {"acc@example.org"}
    assert await rows(services, Application, Application.profile_id == accepting.id) == 1
    assert await rows(services, Invitation, Invitation.profile_id == accepting.id) == 1


async def test_an_unconfirmed_account_goes_after_30_days_when_nothing_hangs_on_it(
    services: Services, clock: FixedClock
) -> None:
    month_ago = NOW - 31 * DAY
    await signed_up(services, clock, "gone@example.org", month_ago)
    await signed_up(services, clock, "young@example.org", NOW - 29 * DAY)
    await signed_up(services, clock, "resent@example.org", month_ago)
    await signed_up(services, clock, "drafting@example.org", month_ago)
    await signed_up(services, clock, "here@example.org", month_ago)
    await confirmed(services, clock, "confirmed@example.org", NOW - 400 * DAY)
    clock.moment = NOW - DAY
    resent = await services.database.read(
        lambda connection: connection.execute(
            select(Account.id).where(Account.email == "resent@example.org")
        ).scalar_one()
    )
    await services.accounts.resend_verification(resent)  # a link open for two more days
    drafting = await signed_in(services, clock, "drafting@example.org", month_ago)
    account = await services.accounts.account_for_session(drafting)
    assert account is not None
    await draft(services, account.id, month_ago)
    await signed_in(services, clock, "here@example.org", NOW - HOUR)

    counts = await prune(services.database, NOW)
    # The sessions and links of these sign-ups go by their own rules first: the session that ended,
    # and every link sent when they signed up (3 days each), but not the one sent again.
    assert counts == only(sessions=1, email_tokens=5, unconfirmed_accounts=1)
    emails = set(
        await services.database.read(
            lambda connection: connection.execute(select(Account.email)).scalars().all()
        )
    )
    assert emails == {
        "young@example.org",
        "resent@example.org",
        "drafting@example.org",
        "here@example.org",
        "confirmed@example.org",
    }
    # The address is free again: signing up with it makes a new account.
    await signed_up(services, clock, "gone@example.org", NOW)
    assert await rows(services, Account, Account.email == "gone@example.org") == 1


async def test_what_is_not_due_is_never_touched(services: Services, clock: FixedClock) -> None:
    """A fresh account with a session, an open link, a draft and a delivered email: no rule deletes
    any of it, however often it runs."""
    await signed_up(services, clock, "new@example.org", NOW - HOUR)
    await signed_in(services, clock, "new@example.org", NOW - HOUR)
    account = await confirmed(services, clock, "old@example.org", NOW - 400 * DAY)
    await draft(services, account.id, NOW - 59 * DAY)
    await deliver(services.database, services.mailer)
    before = await _everything(services)
    assert before == {"accounts": 2, "sessions": 1, "tokens": 1, "profiles": 1, "outbox": 1}
    for _ in range(2):
        assert await prune(services.database, NOW) == NOTHING
    assert await _everything(services) == before


async def _everything(services: Services) -> dict[str, int]:
    tables = {
        "accounts": Account,
        "sessions": WebSession,
        "tokens": EmailToken,
        "profiles": Profile,
        "outbox": OutboxMessage,
    }
    return {name: await rows(services, model) for name, model in tables.items()}


def test_every_rule_has_a_distinct_name() -> None:
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)


async def test_an_operators_session_goes_at_its_end_and_the_audit_log_after_two_years(
    services: Services, clock: FixedClock
) -> None:
    operator = await services.operators.add("rosa", PASSWORD)
    clock.moment = NOW - 9 * HOUR
    await services.operators.sign_in(
        "rosa", PASSWORD, pyotp.TOTP(operator.secret).at(clock.now()), "198.51.100.1"
    )
    clock.moment = NOW - 7 * HOUR
    _, live = await services.operators.sign_in(
        "rosa", PASSWORD, pyotp.TOTP(operator.secret).at(clock.now()), "198.51.100.1"
    )
    async with services.database.transaction() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.action == "operator-added").values(at=NOW - 731 * DAY)
        )
        await session.execute(
            update(AuditEntry).where(AuditEntry.action == "signed-in").values(at=NOW - 729 * DAY)
        )
    assert await prune(services.database, NOW) == only(operator_sessions=1, audit_log=1)
    assert await rows(services, OperatorSession) == 1
    assert await rows(services, AuditEntry) == 2  # the two sign-ins, within their two years
    clock.moment = NOW - 7 * HOUR + dt.timedelta(minutes=5)
    assert await services.operators.operator_for_session(live) is not None
