"""Sending email: messages are queued in the outbox inside the caller's transaction, and delivered
after it commits by a mailer (a file per message by default, the log, or a mail relay over SMTP).
A delivery that fails for now is tried again after a wait; one the relay refuses for good is
recorded and never tried again; a queued message survives any crash."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from haven.db import Database, utcnow
from haven.mail.html import html_body
from haven.mail.models import OutboxMessage

logger = logging.getLogger("haven.mail")
MAX_ATTEMPTS: Final = 10
BATCH: Final = 100  # messages one sweep takes at a time
# How long a sweep holds the messages it took: another sweep (another worker) leaves them alone
# meanwhile. A sweep starts no new message after half of it, and gives the rest back; one that
# died holding some (a crash, a stop) leaves them to be taken again when it ends.
LEASE: Final = dt.timedelta(minutes=10)
# The wait after each failed attempt (the 1st to the 9th): a relay that is down for a moment is
# tried again at the next sweep, one down for longer less and less often. The 10th and last attempt
# comes about four hours after the first; a message still not sent then is abandoned.
RETRY_WAITS: Final = tuple(dt.timedelta(minutes=m) for m in (1, 2, 4, 8, 15, 30, 60, 60, 60))
ERROR_LENGTH: Final = 200  # characters of ``last_error`` (the column's size)
# Anything shaped like an address, with its angle brackets: relays quote the recipient in their
# replies ("550 5.1.1 <bea@example.org>: User unknown"), and addresses are personal data.
_ADDRESS: Final = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class Refused(Exception):
    """The relay refused this message for good (a 5xx reply to its recipient or its content): it is
    recorded and never tried again. The text is what the relay said, without addresses."""


class Deferred(Exception):
    """The relay could not take this message now (a 4xx reply): it is tried again after a wait."""


class Unavailable(Exception):
    """The mailer can send nothing now (the relay is down, slow to answer, or turns Haven away): this
    message is tried again after a wait, like a deferred one, and the sweep stops there (the
    messages after it are not tried, and lose no attempt)."""


class Mailer(Protocol):
    async def send(self, message: OutboxMessage) -> None:
        """Deliver ``message``, or raise ``Refused``, ``Deferred`` or ``Unavailable`` (an ``OSError``
        counts as ``Unavailable``)."""
        ...


def without_addresses(text: str) -> str:
    """``text`` on one line, short enough for ``last_error``, with every address taken out."""
    return " ".join(_ADDRESS.sub("(address)", text).split())[:ERROR_LENGTH]


# Headers on one line each, up to RFC 5322's 998 characters: a subject stays one line in the file.
ONE_LINE_HEADERS: Final = SMTPUTF8.clone(max_line_length=998)


def rfc5322(message: OutboxMessage, sender: str, *, eight_bit: bool = True) -> EmailMessage:
    """The message as it is sent: ``From`` (Haven, at ``sender``), ``To``, ``Date`` (when it was
    queued), a ``Message-ID`` made from the outbox id, the subject, and two versions of the body in
    the message's language (multipart/alternative): the plain text as it was queued, then its HTML
    twin. Both are UTF-8, 8-bit (readable as they are) unless ``eight_bit`` is false (a relay without
    8BITMIME), then quoted-printable."""
    email = EmailMessage(policy=ONE_LINE_HEADERS)
    email["From"] = formataddr(("Haven", sender))
    email["To"] = message.recipient
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = f"<outbox-{message.id}.{message.created_at:%Y%m%d%H%M%S}@{sender.split('@', 1)[1]}>"
    email["Subject"] = message.subject
    language = "fr" if message.language == "fr" else "en"
    encoding = "8bit" if eight_bit else "quoted-printable"
    email.set_content(message.body, cte=encoding)
    email.add_alternative(html_body(message.body, message.subject, language), subtype="html", cte=encoding)
    email["Content-Language"] = language  # after the parts: setting content clears Content-* headers
    return email


class FileMailer:
    """One RFC 5322 file per message in a folder: what a developer reads, and tests parse."""

    def __init__(self, folder: Path, sender: str = "no-reply@haven.invalid") -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, message: OutboxMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{message.created_at:%Y%m%dT%H%M%S}-{message.id:08d}.eml"
        draft = path.with_suffix(".tmp")
        draft.write_bytes(rfc5322(message, self.sender).as_bytes())
        os.replace(draft, path)


class ConsoleMailer:
    """The log, for a developer's machine: unlike the outcomes of a delivery, it shows the address
    and the body, which is the point."""

    async def send(self, message: OutboxMessage) -> None:
        logger.info("mail to %s: %s\n%s", message.recipient, message.subject, message.body)


def queue(session: AsyncSession, recipient: str, subject: str, body: str, *, language: str) -> OutboxMessage:
    """Add a message in ``language`` ("en" or "fr") to the outbox, in the caller's transaction; it
    goes out at the next sweep."""
    message = OutboxMessage(
        recipient=recipient,
        subject=subject,
        body=body,
        language="fr" if language == "fr" else "en",
        created_at=utcnow(),
        attempts=0,
    )
    session.add(message)
    return message


@dataclass
class DeliveryCounts:
    """What this process's sweeps did, for ``/metrics`` (``haven/mail/metrics.py``)."""

    sent: int = 0
    retried: int = 0  # attempts that failed for now, to be tried again
    refused: int = 0  # messages refused for good
    abandoned: int = 0  # messages whose every attempt failed


DELIVERIES: Final = DeliveryCounts()

_Kind = Literal["sent", "deferred", "refused", "unavailable"]


@dataclass(frozen=True)
class _Outcome:
    kind: _Kind
    error: str = ""


async def deliver(database: Database, mailer: Mailer, *, now: Callable[[], dt.datetime] = utcnow) -> int:
    """Send every message that is due; returns how many went. Safe to run concurrently (in several
    tasks or workers): a sweep takes its messages for ``LEASE`` before it sends any, so each is
    sent by one sweep. Each outcome is recorded as soon as it is known, in a transaction of its own
    (no database lock is held while a relay answers); a process that dies between a relay's "sent"
    and that record sends the message again after the lease: at least once, rarely twice."""
    sent = 0
    while True:
        batch = await _take(database, now())
        if not batch:
            return sent
        started = time.monotonic()
        for index, message in enumerate(batch):
            if time.monotonic() - started > LEASE.total_seconds() / 2:
                await _give_back(database, batch[index:])
                return sent
            outcome = await _attempt(mailer, message)
            await _record(database, message, outcome, now())
            if outcome.kind == "sent":
                sent += 1
            elif outcome.kind == "unavailable":
                await _give_back(database, batch[index + 1 :])
                if len(batch) > index + 1:
                    logger.warning("mail: %d more messages wait for the next sweep", len(batch) - index - 1)
                return sent
        if len(batch) < BATCH:
            return sent


async def _take(database: Database, moment: dt.datetime) -> list[OutboxMessage]:
    """The next due messages, held for ``LEASE`` (each skipped by sweeps meanwhile)."""
    async with database.transaction() as session:
        batch = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.failed_at.is_(None),
                    OutboxMessage.attempts < MAX_ATTEMPTS,
                    or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= moment),
                )
                .order_by(OutboxMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for message in batch:
            message.next_attempt_at = moment + LEASE
    return list(batch)


async def _give_back(database: Database, messages: Sequence[OutboxMessage]) -> None:
    """Messages taken and not tried: due again at once, without an attempt counted."""
    if not messages:
        return
    async with database.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([message.id for message in messages]), OutboxMessage.sent_at.is_(None)
            )
            .values(next_attempt_at=None)
        )


async def _attempt(mailer: Mailer, message: OutboxMessage) -> _Outcome:
    try:
        await mailer.send(message)
    except Refused as error:
        return _Outcome("refused", without_addresses(str(error)))
    except Deferred as error:
        return _Outcome("deferred", without_addresses(str(error)))
    except (Unavailable, OSError) as error:
        return _Outcome("unavailable", without_addresses(str(error) or type(error).__name__))
    except Exception as error:
        # Fail open for the other messages: what no mailer foresaw (a reply out of protocol, a bug)
        # costs this message an attempt, not the sweep. Its text only, never a traceback: the
        # arguments in one may carry the address.
        return _Outcome("deferred", without_addresses(f"{type(error).__name__}: {error}"))
    return _Outcome("sent")


async def _record(database: Database, message: OutboxMessage, outcome: _Outcome, moment: dt.datetime) -> None:
    attempts = message.attempts + 1
    values: dict[str, Any] = {"attempts": OutboxMessage.attempts + 1}
    if outcome.kind == "sent":
        values.update(sent_at=moment, next_attempt_at=None, last_error=None)
        DELIVERIES.sent += 1
        logger.info("mail %s sent", message.id)
    elif outcome.kind == "refused":
        values.update(failed_at=moment, next_attempt_at=None, last_error=outcome.error)
        DELIVERIES.refused += 1
        logger.error("mail %s refused, not tried again: %s", message.id, outcome.error)
    elif attempts >= MAX_ATTEMPTS:
        values.update(failed_at=moment, next_attempt_at=None, last_error=outcome.error)
        DELIVERIES.abandoned += 1
        logger.error("mail %s abandoned after %d attempts: %s", message.id, attempts, outcome.error)
    else:
        wait = RETRY_WAITS[min(attempts, len(RETRY_WAITS)) - 1]
        values.update(next_attempt_at=moment + wait, last_error=outcome.error)
        DELIVERIES.retried += 1
        logger.warning(
            "mail %s not sent (attempt %d of %d), tried again in %d min: %s",
            message.id,
            attempts,
            MAX_ATTEMPTS,
            wait.total_seconds() // 60,
            outcome.error,
        )
    async with database.transaction() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
