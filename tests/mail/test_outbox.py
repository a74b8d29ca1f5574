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
