"""The outbox, on SQLite and on PostgreSQL: queued in the transaction that needs it, delivered once,
and retried by the sweep after a failure without waiting for another message."""

from __future__ import annotations

import asyncio
import datetime as dt
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import select

from haven import settings as settings_module
from haven.app import create_app
from haven.db import create_engine
from haven.mail.models import OutboxMessage
from haven.mail.outbox import FileMailer, deliver, queue
from haven.services import Services


class FlakyMailer:
    """Fails the first ``failures`` sends, as a mail relay that is briefly down would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def send(self, message: OutboxMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("relay unavailable")
        self.sent.append(message.subject)


async def test_the_sweep_retries_what_failed_and_sends_each_message_once(
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
        async with services.database.transaction() as session:
            queue(session, "ada@example.org", "Confirm your email address", "…")
        services.start_mail_sweep(every=0.01)
        for _ in range(1000):  # the first sweep fails, a later one delivers; a few more send nothing
            if mailer.sent and sweeps >= 5:
                break
            await asyncio.sleep(0.01)
        await services.stop()
        assert sweeps >= 5
        assert mailer.sent == ["Confirm your email address"]
        assert await deliver(services.database, mailer) == 0
        async with services.database.transaction() as session:
            message = await session.scalar(select(OutboxMessage))
        assert message is not None
        assert message.sent_at is not None
        assert message.attempts == 2
    finally:
        await services.stop()


def test_a_written_email_has_the_headers_a_mail_reader_expects(tmp_path: Path) -> None:
    created = dt.datetime(2026, 12, 3, 14, 5, tzinfo=dt.UTC)
    message = OutboxMessage(
        id=42,
        recipient="bea@example.org",
        subject="Haven\u00a0: confirmez votre adresse courriel",
        body="Bonjour,\n\nL’équipe de Haven\n",
        created_at=created,
        attempts=0,
    )
    FileMailer(tmp_path, "no-reply@haven.example.ca").send(message)
    (written,) = tmp_path.glob("*.eml")
    parsed = message_from_bytes(written.read_bytes(), policy=default)
    assert parsed["From"] == "Haven <no-reply@haven.example.ca>"
    assert parsed["To"] == "bea@example.org"
    assert parsed["Subject"] == message.subject
    assert parsed["Date"].datetime == created
    assert parsed["Message-ID"] == "<outbox-42.20261203140500@haven.example.ca>"
    body = parsed.get_body()
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == message.body  # lines end in CRLF on the wire
    assert "L’équipe de Haven" in written.read_text(encoding="utf-8")  # readable as it is
