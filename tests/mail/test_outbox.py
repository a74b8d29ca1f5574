"""The outbox, on SQLite and on PostgreSQL: queued in the transaction that needs it, delivered once
(even by sweeps that run at the same time), tried again after a wait when it failed, abandoned after
the last attempt, and forgotten (address and body) once done when it was a turn email."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select, update

from haven import settings as settings_module
from haven.app import create_app
from haven.db import Database, create_engine, utcnow
from haven.mail.metrics import MailExporter
from haven.mail.models import OutboxMessage
from haven.mail.outbox import (
    DELIVERIES,
    LEASE,
    MAX_ATTEMPTS,
    RETRY_WAITS,
    FileMailer,
    Unavailable,
    deliver,
    queue,
    without_addresses,
)
from haven.services import Services
from haven.turnmail.models import TurnEmail
from haven.turnmail.service import ERASED, TurnMail

MOMENT = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)


class FlakyMailer:
    """Fails the first ``failures`` sends, as a mail relay that is briefly down would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    async def send(self, message: OutboxMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("relay unavailable")
        self.sent.append(message.subject)


class SlowMailer:
    """Holds the first message it is given until ``go`` is set (``sending`` says it holds it), so
    that other sweeps run meanwhile; any other message goes at once."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()
        self.go = asyncio.Event()
        self.sent: list[int] = []

    async def send(self, message: OutboxMessage) -> None:
        if not self.sending.is_set():
            self.sending.set()
            await self.go.wait()
        self.sent.append(message.id)


class DyingMailer:
    """The process stops in the middle of a delivery (the sweep's task is cancelled)."""

    async def send(self, message: OutboxMessage) -> None:
        raise asyncio.CancelledError


def at(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that stands at ``moment``."""
    return lambda: moment


async def queued(
    database: Database, count: int = 1, subject: str = "Haven: confirm your email address"
) -> list[int]:
    async with database.transaction() as session:
        messages = [queue(session, "ada@example.org", subject, "…", language="en") for _ in range(count)]
        await session.flush()
        return [message.id for message in messages]


async def stored(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_the_sweep_tries_again_what_failed_once_its_wait_is_over_and_sends_it_once(
    db_settings: settings_module.Settings,
) -> None:
    app = create_app(db_settings)  # not started: this test runs the services' sweep itself
    mailer = FlakyMailer(failures=1)
    services = Services(db_settings, app.clock, app.personal, create_engine(db_settings), mailer=mailer)
    sweeps = 0
    deliver_once = services._deliver

    async def counted() -> None:
        nonlocal sweeps
        await deliver_once()
        sweeps += 1

    services._deliver = counted  # type: ignore[method-assign]
    try:
        await queued(services.database)
        services.start_mail_sweep(every=0.01)
        for _ in range(1000):  # the first sweep fails; a few more find the message still waiting
            if sweeps >= 5:
                break
            await asyncio.sleep(0.01)
        assert mailer.sent == [], "not tried again before its wait is over"
        (waiting,) = await stored(services.database)
        assert (waiting.attempts, waiting.sent_at) == (1, None)
        assert waiting.next_attempt_at is not None
        async with services.database.transaction() as session:  # the minute has passed
            await session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        before = sweeps
        for _ in range(1000):  # a later sweep delivers; a few more send nothing
            if mailer.sent and sweeps >= before + 5:
                break
            await asyncio.sleep(0.01)
        await services.stop()
        assert sweeps >= before + 5
        assert mailer.sent == ["Haven: confirm your email address"]
        assert await deliver(services.database, mailer) == 0
        (message,) = await stored(services.database)
        assert message.sent_at is not None
        assert message.attempts == 2
    finally:
        await services.stop()


async def test_a_sweep_under_way_holds_its_messages_and_no_database_lock(database: Database) -> None:
    ids = await queued(database, 5)
    mailer = SlowMailer()
    first = asyncio.create_task(deliver(database, mailer))
    await mailer.sending.wait()  # the first sweep has taken the messages and waits on the relay
    others = await asyncio.gather(deliver(database, mailer), deliver(database, mailer))
    assert list(others) == [0, 0], "the other sweeps ran to their end meanwhile, and sent nothing"
    mailer.go.set()
    assert await first == 5
    assert sorted(mailer.sent) == ids, "each message once"
    assert [message.attempts for message in await stored(database)] == [1] * 5


async def test_a_sweep_that_died_sending_leaves_its_messages_to_the_next_after_the_lease(
    database: Database,
) -> None:
    await queued(database, 2)
    with pytest.raises(asyncio.CancelledError):
        await deliver(database, DyingMailer(), now=at(MOMENT))
    mailer = FlakyMailer(failures=0)
    assert await deliver(database, mailer, now=at(MOMENT + LEASE / 2)) == 0, "still held"
    assert await deliver(database, mailer, now=at(MOMENT + LEASE)) == 2
    assert [message.attempts for message in await stored(database)] == [1, 1], (
        "the lost attempt is not counted"
    )


async def test_a_message_whose_every_attempt_fails_is_abandoned_after_the_last(database: Database) -> None:
    await queued(database)
    mailer = FlakyMailer(failures=1000)
    moment, waited = MOMENT, dt.timedelta(0)
    for wait in (*RETRY_WAITS, None):
        assert await deliver(database, mailer, now=at(moment)) == 0
        (message,) = await stored(database)
        if wait is None:
            break
        assert (message.failed_at, message.next_attempt_at) == (None, moment + wait)
        assert await deliver(database, mailer, now=at(moment + wait / 2)) == 0, "not before its wait"
        moment, waited = moment + wait, waited + wait
    assert (message.attempts, message.failed_at, message.next_attempt_at) == (MAX_ATTEMPTS, moment, None)
    assert message.last_error == "relay unavailable"
    assert dt.timedelta(hours=3) <= waited <= dt.timedelta(hours=5), "tried for about four hours"
    tries = mailer.failures
    assert await deliver(database, mailer, now=at(moment + dt.timedelta(days=30))) == 0
    assert mailer.failures == tries, "never tried again"


async def test_a_mailer_that_cannot_send_stops_the_sweep_and_the_rest_lose_no_attempt(
    database: Database,
) -> None:
    class Down:
        async def send(self, message: OutboxMessage) -> None:
            raise Unavailable("relay.example.ca:587: Connection refused")

    await queued(database, 3)
    assert await deliver(database, Down(), now=at(MOMENT)) == 0
    first, *rest = await stored(database)
    assert (first.attempts, first.next_attempt_at) == (1, MOMENT + RETRY_WAITS[0])
    assert [(message.attempts, message.next_attempt_at) for message in rest] == [(0, None), (0, None)]


def test_errors_are_kept_without_addresses_on_one_short_line() -> None:
    said = "550 5.1.1 <bea@example.org>:\n  Recipient address rejected: bea@example.org unknown " + "x" * 300
    kept = without_addresses(said)
    assert kept.startswith("550 5.1.1 (address): Recipient address rejected: (address) unknown x")
    assert "@" not in kept
    assert len(kept) == 200


async def test_the_metrics_count_what_the_sweeps_did(database: Database) -> None:
    def figures() -> dict[str, float]:
        return {family.name: family.samples[0].value for family in MailExporter().collect()}

    before = figures()
    await queued(database, 2)
    assert await deliver(database, FlakyMailer(failures=1), now=at(MOMENT)) == 0
    assert await deliver(database, FlakyMailer(failures=0), now=at(MOMENT + RETRY_WAITS[0])) == 2
    after = figures()
    assert {name: after[name] - before[name] for name in after} == {
        "haven_mail_sent": 2,
        "haven_mail_retried": 1,
        "haven_mail_refused": 0,
        "haven_mail_abandoned": 0,
    }
    assert after["haven_mail_sent"] == DELIVERIES.sent


async def test_a_turn_email_refused_for_good_is_erased_like_a_delivered_one(
    db_settings: settings_module.Settings,
) -> None:
    app = create_app(db_settings)
    assert app.shield is not None
    turnmail = TurnMail(db_settings, app.shield)
    services = Services(
        db_settings, app.clock, app.personal, create_engine(db_settings), mailer=FlakyMailer(failures=0)
    )
    now = time.time()
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    try:
        async with services.database.transaction() as session:
            messages = [
                queue(
                    session,
                    f"{name}@example.org",
                    "It is your turn in the queue for Haven",
                    "link",
                    language="en",
                )
                for name in ("refused", "waiting", "sent")
            ]
            await session.flush()
            refused, waiting, sent = messages
            refused.failed_at, refused.attempts, refused.last_error = moment, 1, "recipient refused: 550"
            waiting.attempts, waiting.next_attempt_at = 3, moment + dt.timedelta(minutes=8)
            sent.sent_at, sent.attempts = moment, 1
            for number, message in enumerate(messages, 1):
                session.add(
                    TurnEmail(
                        room=app.shield.room.name,
                        number=number,
                        issued_ms=int(now * 1000),
                        predicted=60,
                        place=number,
                        email=None,
                        lang="en",
                        next="/en/account/sign-up",
                        address_key=f"a{number}",
                        client_key=f"c{number}",
                        created_at=moment,
                        sent_at=moment,
                        expires_at=moment + dt.timedelta(minutes=15),
                        outbox_id=message.id,
                    )
                )
        await turnmail.erase(services, now)
        kept = {message.id: (message.recipient, message.body) for message in await stored(services.database)}
        assert kept == {
            refused.id: (ERASED, ""),
            waiting.id: ("waiting@example.org", "link"),  # still to be tried: it needs its address
            sent.id: (ERASED, ""),
        }
    finally:
        await services.stop()


def test_a_written_email_has_the_headers_a_mail_reader_expects_and_both_parts(tmp_path: Path) -> None:
    created = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.UTC)
    message = OutboxMessage(
        id=42,
        recipient="bea@example.org",
        subject="Haven\u00a0: confirmez votre adresse courriel",
        body="Bonjour,\n\nOuvrez https://haven.example.ca/fr/compte?a=1&b=2.\n\nL’équipe de Haven\n",
        language="fr",
        created_at=created,
        attempts=0,
    )
    asyncio.run(FileMailer(tmp_path, "no-reply@haven.example.ca").send(message))
    (written,) = tmp_path.glob("*.eml")
    parsed = message_from_bytes(written.read_bytes(), policy=default)
    assert parsed["From"] == "Haven <no-reply@haven.example.ca>"
    assert parsed["To"] == "bea@example.org"
    assert parsed["Subject"] == message.subject
    assert parsed["Date"].datetime == created
    assert parsed["Message-ID"] == "<outbox-42.20261203140500@haven.example.ca>"
    assert parsed["Content-Language"] == "fr"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == message.body  # lines end in CRLF on the wire
    page = html.get_content()
    assert '<html lang="fr">' in page
    assert "<title>Haven\u00a0: confirmez votre adresse courriel</title>" in page
    assert '<p style="margin:0 0 16px">Bonjour,</p>' in page
    assert ('Ouvrez <a href="https://haven.example.ca/fr/compte?a=1&amp;b=2" ') in page, (
        "the link, without the full stop after it"
    )
    assert "</a>.</p>" in page
    assert "L’équipe de Haven" in written.read_text(encoding="utf-8")  # readable as it is
