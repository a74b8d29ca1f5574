"""Sending email: messages are queued in the outbox inside the caller's transaction, and delivered
after it commits by a mailer (a file per message by default, or the log). A delivery that fails is
retried later; a queued message survives any crash."""

from __future__ import annotations

import logging
import os
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.db import Database, utcnow
from haven.mail.models import OutboxMessage

logger = logging.getLogger("haven.mail")
MAX_ATTEMPTS = 10


class Mailer(Protocol):
    def send(self, message: OutboxMessage) -> None: ...


# Headers on one line each, up to RFC 5322's 998 characters: a subject stays one line in the file.
ONE_LINE_HEADERS: Final = SMTPUTF8.clone(max_line_length=998)


def rfc5322(message: OutboxMessage, sender: str) -> EmailMessage:
    """The message as it is sent: ``From`` (Haven, at ``sender``), ``To``, ``Date`` (when it was
    queued), a ``Message-ID`` made from the outbox id, the subject, and the plain-text body in
    UTF-8 (8-bit: readable as it is)."""
    email = EmailMessage(policy=ONE_LINE_HEADERS)
    email["From"] = formataddr(("Haven", sender))
    email["To"] = message.recipient
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@{sender.split('@', 1)[1]}>"
    email["Subject"] = message.subject
    email.set_content(message.body, cte="8bit")
    return email


class FileMailer:
    """One RFC 5322 file per message in a folder: what a developer reads, and tests parse."""

    def __init__(self, folder: Path, sender: str = "no-reply@haven.invalid") -> None:
        self.folder = folder
        self.sender = sender

    def send(self, message: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{message.created_at:%Y%m%dT%H%M%S}-{message.id:08d}.eml"
        draft = path.with_suffix(".tmp")
        draft.write_bytes(rfc5322(message, self.sender).as_bytes())
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
