"""Sending email: messages are queued in the outbox inside the caller's transaction, and delivered
after it commits by a mailer (a file per message by default, or the log). A delivery that fails is
retried later; a queued message survives any crash."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.db import Database, utcnow
from haven.mail.models import OutboxMessage

logger = logging.getLogger("haven.mail")
MAX_ATTEMPTS = 10


class Mailer(Protocol):
    def send(self, message: OutboxMessage) -> None: ...


class FileMailer:
    """One RFC 5322 file per message in a folder: what a developer reads, and tests parse."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{message.created_at:%Y%m%dT%H%M%S}-{message.id:08d}.eml"
        draft = path.with_suffix(".tmp")
        draft.write_text(
            f"To: {message.recipient}\nSubject: {message.subject}\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{message.body}"
        )
        os.replace(draft, path)


class ConsoleMailer:
    def send(self, message: OutboxMessage) -> None:
        logger.info("mail to %s: %s\n%s", message.recipient, message.subject, message.body)


def queue(session: AsyncSession, recipient: str, subject: str, body: str) -> OutboxMessage:
    """Add a message to the outbox, in the caller's transaction; it goes out at the next sweep."""
    message = OutboxMessage(recipient=recipient, subject=subject, body=body, created_at=utcnow(), attempts=0)
    session.add(message)
    return message


async def deliver(database: Database, mailer: Mailer) -> int:
    """Send every message not sent yet; returns how many went. Safe to run concurrently: a message
    is marked sent in the same transaction that sends it, so it goes at most once per success."""
    sent = 0
    async with database.transaction() as session:
        pending = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
                .order_by(OutboxMessage.id)
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for message in pending:
            message.attempts += 1
            try:
                mailer.send(message)
            except OSError:
                logger.exception("could not deliver message %s", message.id)
                continue
            message.sent_at = utcnow()
            sent += 1
    return sent
