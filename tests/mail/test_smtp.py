"""Email through a real SMTP relay (aiosmtpd on 127.0.0.1), on SQLite and PostgreSQL: what arrives
(headers, the text and HTML parts, the person's language), STARTTLS and TLS with a password, and
what the outbox does with each reply: sent once, tried again later, or refused for good."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from haven import settings as settings_module
from haven.accounts.letters import Letters
from haven.app import create_app
from haven.db import Database, create_engine
from haven.mail.models import OutboxMessage
from haven.mail.outbox import RETRY_WAITS, deliver, queue
from haven.mail.smtp import TIMEOUT, SmtpMailer
from haven.services import Services, mailer_for
from tests.mail.relay import (
    PASSWORD,
    USER,
    Certificates,
    Inbox,
    certificates,
    relay,
    silent_relay,
    unused_port,
)

SENDER = "no-reply@haven.example.ca"
ADDRESS = "bea@example.org"
SUBJECT = "Haven: confirm your email address"
BODY = (
    "To confirm the email address of your Haven account, open this link within 3 days:\n\n"
    "https://haven.example.ca/en/account/verify?token=abc-123&lang=en\n\n"
    "If you did not create a Haven account, you can ignore this email.\n\n"
    "The Haven team\n"
)
MOMENT = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)


async def queued(database: Database, recipient: str = ADDRESS, *, language: str = "en") -> int:
    async with database.transaction() as session:
        message = queue(session, recipient, SUBJECT, BODY, language=language)
        await session.flush()
        return message.id


async def stored(database: Database, message_id: int) -> OutboxMessage:
    async with database.transaction() as session:
        message = await session.get(OutboxMessage, message_id)
    assert message is not None
    return message


def plain_relay(port: int, timeout: float = TIMEOUT) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1", SENDER, port=port, security="none", local_hostname="haven.test", timeout=timeout
    )


def at(moment: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that stands at ``moment``."""
    return lambda: moment


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content()


def no_address_in(caplog: pytest.LogCaptureFixture, *addresses: str) -> None:
    for record in caplog.records:
        for address in addresses:
            assert address not in record.getMessage(), record.getMessage()
        assert "ignore this email" not in record.getMessage(), "no body in the log"


async def test_a_delivered_email_reads_back_with_its_headers_and_both_parts_in_english(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="haven.mail")
    inbox = Inbox()
    message_id = await queued(database)
    async with relay(inbox) as port:
        assert await deliver(database, plain_relay(port)) == 1
    (received,) = inbox.received
    assert (received.sender, received.recipients) == (SENDER, [ADDRESS])
    email = received.message
    assert email["From"] == "Haven <no-reply@haven.example.ca>"
    assert email["To"] == ADDRESS
    assert email["Subject"] == SUBJECT
    assert "Haven" in email["Subject"]
    assert re.fullmatch(rf"<outbox-{message_id}\.\d{{14}}@haven\.example\.ca>", email["Message-ID"])
    sent = await stored(database, message_id)
    assert email["Date"].datetime == sent.created_at.replace(microsecond=0)
    assert email.get_content_type() == "multipart/alternative"
    assert email["Content-Language"] == "en"
    text, html = parts(email)
    assert text == BODY, "the plain text as it was queued"
    assert '<html lang="en">' in html
    assert '<p style="margin:0 0 16px">The Haven team</p>' in html
    assert '<a href="https://haven.example.ca/en/account/verify?token=abc-123&amp;lang=en"' in html, (
        "the link, clickable"
    )
    for remote in ("<img", "<script", "src=", "url(", "<link", "@import"):
        assert remote not in html, f"nothing fetched or run: {remote}"
    assert sent.sent_at is not None
    assert (sent.attempts, sent.failed_at, sent.last_error, sent.next_attempt_at) == (1, None, None, None)
    assert f"mail {message_id} sent" in caplog.text
    no_address_in(caplog, ADDRESS)


async def test_a_french_account_gets_its_letter_in_french_in_both_parts(
    db_settings: settings_module.Settings,
) -> None:
    inbox = Inbox()
    app = create_app(db_settings)  # not started: the test sends itself
    async with relay(inbox) as port:
        mailer = plain_relay(port)
        services = Services(db_settings, app.clock, app.personal, create_engine(db_settings), mailer=mailer)
        try:
            await services.accounts.sign_up("bea@example.org", "correct horse battery staple", "fr")
            assert await deliver(services.database, mailer) == 1
        finally:
            await services.stop()
    (received,) = inbox.received
    email = received.message
    french_subject, _ = Letters(db_settings).verify("fr", "token")
    assert email["Subject"] == french_subject
    assert "Haven" in email["Subject"]
    assert email["Content-Language"] == "fr"
    text, html = parts(email)
    assert "L’équipe de Haven" in text
    assert "courriel" in text
    assert '<html lang="fr">' in html
    assert "L’équipe de Haven</p>" in html
    link = re.search(r"https?://\S+", text)
    assert link is not None
    assert f'<a href="{link.group(0)}"' in html.replace("&amp;", "&")


def encrypted(port: int, security: str, certs: Certificates, password: str) -> SmtpMailer:
    """A mailer for the test relay over ``security``, trusting the test's own authority."""
    return SmtpMailer(
        "127.0.0.1",
        SENDER,
        port=port,
        security=security,
        user=USER,
        password=password,
        local_hostname="haven.test",
        tls_context=certs.client,
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_encrypted_relay_that_wants_a_password_takes_the_message(
    database: Database, tmp_path: Path, security: str
) -> None:
    certs = certificates(tmp_path)
    inbox = Inbox()
    message_id = await queued(database)
    starttls, tls = (certs.server, None) if security == "starttls" else (None, certs.server)
    async with relay(inbox, auth=True, starttls=starttls, tls=tls) as port:
        mailer = encrypted(port, security, certs, PASSWORD)
        assert await deliver(database, mailer) == 1
    assert [received.recipients for received in inbox.received] == [[ADDRESS]]
    assert (await stored(database, message_id)).sent_at is not None


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_wrong_password_keeps_every_message_queued_and_says_why(
    database: Database, tmp_path: Path, security: str, caplog: pytest.LogCaptureFixture
) -> None:
    certs = certificates(tmp_path)
    inbox = Inbox()
    first, second = await queued(database), await queued(database, "cy@example.org")
    starttls, tls = (certs.server, None) if security == "starttls" else (None, certs.server)
    async with relay(inbox, auth=True, starttls=starttls, tls=tls) as port:
        mailer = encrypted(port, security, certs, "not the password")
        assert await deliver(database, mailer, now=at(MOMENT)) == 0
    assert inbox.received == []
    tried, waiting = await stored(database, first), await stored(database, second)
    assert (tried.attempts, tried.failed_at, tried.next_attempt_at) == (1, None, MOMENT + RETRY_WAITS[0])
    assert tried.last_error is not None
    assert "535" in tried.last_error, "the relay's answer to the sign-in"
    assert (waiting.attempts, waiting.next_attempt_at) == (0, None), "not tried: the relay is at fault"
    assert "not the password" not in caplog.text


async def test_with_settings_alone_the_relays_certificate_must_be_one_the_system_trusts(
    database: Database, tmp_path: Path
) -> None:
    certs = certificates(tmp_path)
    inbox = Inbox()
    message_id = await queued(database)
    async with relay(inbox, tls=certs.server) as port:
        settings = settings_module.load(
            {
                "HAVEN_VAR_DIR": str(tmp_path / "var"),
                "HAVEN_PUBLIC_URL": "https://haven.example.ca",
                "HAVEN_MAIL_BACKEND": "smtp",
                "HAVEN_MAIL_FROM": SENDER,
                "HAVEN_SMTP_HOST": "127.0.0.1",
                "HAVEN_SMTP_PORT": str(port),
                "HAVEN_SMTP_SECURITY": "tls",
            }
        )
        mailer = mailer_for(settings)
        assert isinstance(mailer, SmtpMailer)
        assert mailer.tls_context is None, "the system's trusted authorities"
        assert await deliver(database, mailer) == 0
    assert inbox.received == [], "a certificate from the test's own authority is not trusted"
    message = await stored(database, message_id)
    assert (message.sent_at, message.failed_at, message.attempts) == (None, None, 1)
    assert message.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in message.last_error


def test_the_port_follows_the_security_unless_it_is_set(tmp_path: Path) -> None:
    def mailer(**env: str) -> SmtpMailer:
        settings = settings_module.load(
            {
                "HAVEN_VAR_DIR": str(tmp_path),
                "HAVEN_MAIL_BACKEND": "smtp",
                "HAVEN_MAIL_FROM": SENDER,
                "HAVEN_SMTP_HOST": "smtp.example.ca",
                **env,
            }
        )
        found = mailer_for(settings)
        assert isinstance(found, SmtpMailer)
        return found

    assert (mailer().port, mailer().security) == (587, "starttls")
    assert mailer(HAVEN_SMTP_SECURITY="tls").port == 465
    assert mailer(HAVEN_SMTP_SECURITY="none").port == 25
    assert mailer(HAVEN_SMTP_SECURITY="tls", HAVEN_SMTP_PORT="2465").port == 2465
    assert mailer().local_hostname is None
    assert mailer(HAVEN_PUBLIC_URL="https://haven.example.ca").local_hostname == "haven.example.ca"


async def test_a_message_queued_while_the_relay_is_down_goes_once_it_is_back(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="haven.mail")
    inbox = Inbox()
    first, second = await queued(database), await queued(database, "cy@example.org")
    sock = unused_port()
    try:
        port = sock.getsockname()[1]
        assert await deliver(database, plain_relay(port), now=at(MOMENT)) == 0  # nobody listens
        down, waiting = await stored(database, first), await stored(database, second)
        assert (down.sent_at, down.failed_at, down.attempts) == (None, None, 1)
        assert down.next_attempt_at == MOMENT + RETRY_WAITS[0]
        assert down.last_error is not None
        assert f"127.0.0.1:{port}" in down.last_error
        assert (waiting.attempts, waiting.next_attempt_at) == (0, None), "the sweep stopped at the first"
        async with relay(inbox, sock=sock):
            later = MOMENT + RETRY_WAITS[0]
            assert await deliver(database, plain_relay(port), now=at(later)) == 2
            assert await deliver(database, plain_relay(port), now=at(later + dt.timedelta(hours=5))) == 0
    finally:
        sock.close()
    assert sorted(received.recipients[0] for received in inbox.received) == [ADDRESS, "cy@example.org"]
    assert [(await stored(database, i)).attempts for i in (first, second)] == [2, 1]
    no_address_in(caplog, ADDRESS, "cy@example.org")


@pytest.mark.parametrize(
    ("rcpt", "data", "said"),
    [
        (f"550 5.1.1 <{ADDRESS}>: Recipient address rejected: User unknown", None, "recipient"),
        (None, "554 5.7.1 Message refused as spam", "message"),
    ],
)
async def test_a_permanent_refusal_is_recorded_and_never_tried_again(
    database: Database, caplog: pytest.LogCaptureFixture, rcpt: str | None, data: str | None, said: str
) -> None:
    caplog.set_level(logging.INFO, logger="haven.mail")
    inbox = Inbox(rcpt_replies=[rcpt] if rcpt else [], data_replies=[data] if data else [])
    message_id, other = await queued(database), await queued(database, "cy@example.org")
    async with relay(inbox) as port:
        assert await deliver(database, plain_relay(port), now=at(MOMENT)) == 1, "the next one still goes"
        for hours in (1, 5, 48):
            later = MOMENT + dt.timedelta(hours=hours)
            assert await deliver(database, plain_relay(port), now=at(later)) == 0
    assert inbox.rcpts == 2, "one RCPT per message: the refused one was never tried again"
    refused = await stored(database, message_id)
    assert (refused.sent_at, refused.failed_at, refused.attempts) == (None, MOMENT, 1)
    assert refused.last_error is not None
    assert refused.last_error.startswith(f"{said} refused: 5")
    assert ADDRESS not in refused.last_error
    assert (await stored(database, other)).sent_at is not None
    assert f"mail {message_id} refused" in caplog.text
    no_address_in(caplog, ADDRESS, "cy@example.org")


async def test_a_refused_sender_is_a_setting_to_mend_and_refuses_no_message(database: Database) -> None:
    inbox = Inbox(mail_replies=[f"553 5.7.1 <{SENDER}>: Sender address rejected: not owned by user"])
    message_id = await queued(database)
    async with relay(inbox) as port:
        assert await deliver(database, plain_relay(port), now=at(MOMENT)) == 0
        waiting = await stored(database, message_id)
        assert (waiting.failed_at, waiting.attempts) == (None, 1)
        assert waiting.last_error is not None
        assert waiting.last_error.startswith("sender (HAVEN_MAIL_FROM) refused: 553")
        later = MOMENT + RETRY_WAITS[0]
        assert await deliver(database, plain_relay(port), now=at(later)) == 1  # mended
    assert len(inbox.received) == 1


async def test_a_temporary_refusal_is_tried_again_once_its_wait_is_over(database: Database) -> None:
    inbox = Inbox(rcpt_replies=[f"450 4.2.1 <{ADDRESS}>: Mailbox busy, try again later"])
    message_id = await queued(database)
    async with relay(inbox) as port:
        assert await deliver(database, plain_relay(port), now=at(MOMENT)) == 0
        deferred = await stored(database, message_id)
        assert (deferred.attempts, deferred.failed_at) == (1, None)
        assert deferred.next_attempt_at == MOMENT + RETRY_WAITS[0]
        assert deferred.last_error == "recipient refused: 450 4.2.1 (address): Mailbox busy, try again later"
        soon = MOMENT + RETRY_WAITS[0] / 2
        assert await deliver(database, plain_relay(port), now=at(soon)) == 0
        assert inbox.rcpts == 1, "not before its wait is over"
        later = MOMENT + RETRY_WAITS[0]
        assert await deliver(database, plain_relay(port), now=at(later)) == 1
    assert len(inbox.received) == 1
    sent = await stored(database, message_id)
    assert (sent.attempts, sent.last_error, sent.next_attempt_at) == (2, None, None)


async def test_a_relay_that_never_answers_costs_one_timeout_and_the_rest_wait(database: Database) -> None:
    first, second = await queued(database), await queued(database, "cy@example.org")
    async with silent_relay() as port:
        assert await deliver(database, plain_relay(port, timeout=0.2), now=at(MOMENT)) == 0
    slow, waiting = await stored(database, first), await stored(database, second)
    assert (slow.attempts, slow.next_attempt_at, slow.failed_at) == (1, MOMENT + RETRY_WAITS[0], None)
    assert slow.last_error is not None
    assert "imed out" in slow.last_error
    assert (waiting.attempts, waiting.next_attempt_at) == (0, None)


async def test_an_address_the_relay_cannot_carry_is_refused_and_the_next_message_goes(
    database: Database,
) -> None:
    inbox = Inbox()  # aiosmtpd offers no SMTPUTF8 unless asked
    unusual, usual = await queued(database, "bé@exemple.org"), await queued(database)
    async with relay(inbox) as port:
        assert await deliver(database, plain_relay(port), now=at(MOMENT)) == 1
    refused = await stored(database, unusual)
    assert (refused.failed_at, refused.attempts) == (MOMENT, 1)
    assert refused.last_error is not None
    assert refused.last_error.startswith("address not supported by the relay")
    assert [received.recipients for received in inbox.received] == [[ADDRESS]]
    assert (await stored(database, usual)).sent_at is not None
