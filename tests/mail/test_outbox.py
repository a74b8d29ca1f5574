"""The outbox, on SQLite and on PostgreSQL: queued in the transaction that needs it, delivered once,
and retried by the sweep after a failure without waiting for another message."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from haven import settings as settings_module
from haven.app import create_app
from haven.db import create_engine
from haven.mail.models import OutboxMessage
from haven.mail.outbox import deliver, queue


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
    services = create_app(db_settings).services  # not started: this test starts what it needs
    mailer = FlakyMailer(failures=1)
    services.mailer = mailer
    engine = create_engine(db_settings)
    services.start(engine)
    assert services.database is not None
    try:
        async with services.database.transaction() as session:
            queue(session, "ada@example.org", "Confirm your email address", "…")
        services.start_mail_sweep(every=0.05)
        for _ in range(200):
            if mailer.sent:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # a few more sweeps: nothing goes twice
        await services.stop()
        assert mailer.sent == ["Confirm your email address"]
        assert await deliver(services.database, mailer) == 0
        async with services.database.transaction() as session:
            message = await session.scalar(select(OutboxMessage))
        assert message is not None
        assert message.sent_at is not None
        assert message.attempts == 2
    finally:
        await services.stop()
        await engine.dispose()
