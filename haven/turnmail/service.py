"""Leaving an address, sending the email when the counter reaches the number, following its link.

Every worker runs the tick hook; a row is sent by the one worker whose conditional UPDATE (``sent_at
IS NULL``) changes it, in the transaction that queues the email and erases the address. The link is
signed (a forged one costs no database read) and spent by a second conditional UPDATE (``used_at
IS NULL``), so it lets one person in once.

Fail closed: when the database does not answer, no address is taken (the page says to keep the
waiting page open instead) and no link lets anyone in; the place in the line is not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from haven.accounts.service import email_problem
from haven.mail.models import OutboxMessage
from haven.mail.outbox import MAX_ATTEMPTS, deliver, queue
from haven.settings import Settings
from haven.shield.tokens import Pass, Ticket
from haven.turnmail.letters import turn_letter
from haven.turnmail.models import TurnEmail
from haven.turnmail.paths import link_path
from haven.web.errors import DomainError
from haven.web.i18n import Language
from haven.web.security import sign, unsign

if TYPE_CHECKING:
    from haven.services import Services
    from haven.shield.core import Shield

logger = logging.getLogger("haven.turnmail")

LINK_PURPOSE: Final = "haven_turn_link"
ERASED: Final = "(erased)"  # what a delivered turn email keeps of its recipient
# Limits, so that the form cannot mail others in bulk: an hour's requests per address (a person
# may fix a typo or come back twice) and per client address (a family or an office behind one),
# HAVEN_TURN_MAILS_PER_ADDRESS and HAVEN_TURN_MAILS_PER_CLIENT. Counted in the database: the
# same for every worker.
LIMIT_WINDOW: Final = dt.timedelta(hours=1)
BATCH: Final = 500  # emails queued per run at most; the next tick takes the rest
RECHECK_SECONDS: Final = 30.0  # a run even when the counter has not moved (late rows, the purge)
# The counter may have passed the number up to a tick or so before the email went: the claim's own
# window is the link's plus this much, and the link's expiry decides.
CLAIM_SLACK: Final = 120.0


class Counter(Protocol):
    """What the hook reads from the room's public state at each tick."""

    @property
    def serving(self) -> int: ...


# What the pages say -------------------------------------------------------------------------------


class TurnCame(DomainError):
    """The visitor's turn has already come: they can go in now."""

    status = 409
    code = "turn_came"


class AlreadySent(DomainError):
    """The email for this place has already been sent."""

    status = 409
    code = "already_sent"


class TooMany(DomainError):
    """Too many requests to email this address, or from this client, in the last hour."""

    status = 429
    retry_after = 3600
    code = "too_many"

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field  # "email": this address; "client": this connection


class BadAddress(DomainError):
    """The address typed is empty or not an email address."""

    status = 422
    code = "bad_address"

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem  # "empty" or "invalid" (as the accounts' email_problem says)


class LinkNotValid(DomainError):
    """The link is not one of ours (mistyped or altered)."""

    status = 400
    code = "link_not_valid"


class LinkExpired(DomainError):
    """The link's time to go in has passed."""

    status = 410
    code = "link_expired"

    def __init__(self, next_: str = "") -> None:
        super().__init__()
        self.next = next_


class LinkUsed(DomainError):
    """The link was used already, or the place it held was taken in another way."""

    status = 409
    code = "link_used"


@dataclass(frozen=True)
class Link:
    """A link read from its token: which row, and until when it lets in (room clock, seconds)."""

    row: int
    expires: float


@dataclass(frozen=True)
class Entry:
    """The turn of a followed link: the pass and where the person was going."""

    granted: tuple[Pass, str]
    next: str


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class TurnMail:
    """The feature in one worker: the room it reads (``shield``), the services it writes with once
    the app runs (``bind``), and the background run the tick hook starts."""

    def __init__(self, settings: Settings, shield: Shield) -> None:
        self.settings = settings
        self.shield = shield
        self.link_seconds = settings.turn_link_minutes * 60.0
        self._services: Callable[[], Services] | None = None
        self._run: asyncio.Task[None] | None = None
        self._wanted: tuple[int, float] | None = None  # (serving, now) of the last tick not run yet
        self._checked_serving = -1
        self._checked_at = 0.0
        self.sent = 0  # emails this worker queued

    # Wiring -------------------------------------------------------------------------------------

    def bind(self, services: Callable[[], Services]) -> None:
        """Where the running app's services are found (they exist only once it has started)."""
        self._services = services

    def running(self) -> Services | None:
        if self._services is None:
            return None
        try:
            return self._services()
        except RuntimeError:  # the app has not started (or has stopped)
            return None

    def now(self) -> float:
        return self.shield.room.now()

    def _key(self, kind: str, value: str) -> str:
        """A keyed hash: the limits compare these, and a copy of the table names nobody."""
        text = f"{kind}:{value}".encode()
        return hmac.new(self.settings.secret_key.encode(), text, hashlib.sha256).hexdigest()

    # Leaving an address --------------------------------------------------------------------------

    async def register(
        self, ticket: Ticket, email: str, lang: Language, next_: str, client: str, *, account: bool = False
    ) -> str:
        """Keep ``email`` for ``ticket`` until its turn; returns the address kept. A second request
        for the same ticket replaces an address not used yet (a typo mended): one email per ticket."""
        services = self.running()
        if services is None:
            raise RuntimeError("the email road needs the app's services")
        email = email.strip()
        if not account:
            problem = email_problem(email)
            if problem:
                raise BadAddress(problem)
        room = self.shield.room
        place = room.effective(ticket.number)
        if room.admits_directly() or place <= room.state.serving:
            raise TurnCame
        now = self.now()
        address_key, client_key = self._key("address", email.lower()), self._key("client", client)
        since = _moment(now) - LIMIT_WINDOW
        for attempt in range(2):
            try:
                async with services.database.transaction() as session:
                    await self._keep(
                        session, ticket, place, email, lang, next_, address_key, client_key, now, since
                    )
                return email
            except IntegrityError:  # the same ticket, at the same moment, from another worker
                if attempt:
                    raise
        return email

    async def _keep(
        self,
        session: AsyncSession,
        ticket: Ticket,
        place: int,
        email: str,
        lang: Language,
        next_: str,
        address_key: str,
        client_key: str,
        now: float,
        since: dt.datetime,
    ) -> None:
        existing = await session.scalar(
            select(TurnEmail).where(TurnEmail.room == ticket.room, TurnEmail.number == ticket.number)
        )
        if existing is not None and existing.sent_at is not None:
            raise AlreadySent
        other = existing.id if existing is not None else -1
        recent = (TurnEmail.created_at >= since, TurnEmail.id != other)
        by_address = await session.scalar(
            select(func.count()).select_from(TurnEmail).where(TurnEmail.address_key == address_key, *recent)
        )
        if (by_address or 0) >= self.settings.turn_mails_per_address:
            raise TooMany("email")
        by_client = await session.scalar(
            select(func.count()).select_from(TurnEmail).where(TurnEmail.client_key == client_key, *recent)
        )
        if (by_client or 0) >= self.settings.turn_mails_per_client:
            raise TooMany("client")
        if existing is not None:
            existing.email, existing.lang, existing.next = email, lang, next_
            existing.address_key, existing.place = address_key, place
            return
        session.add(
            TurnEmail(
                room=ticket.room,
                number=ticket.number,
                issued_ms=round(ticket.issued * 1000),
                predicted=round(ticket.predicted),
                place=place,
                email=email,
                lang=lang,
                next=next_,
                address_key=address_key,
                client_key=client_key,
                created_at=_moment(now),
            )
        )
        await session.flush()

    async def kept_for(self, ticket: Ticket) -> str | None:
        """The address kept for ``ticket`` and not used yet, if any."""
        services = self.running()
        if services is None:
            return None
        async with services.database.transaction() as session:
            found: str | None = await session.scalar(
                select(TurnEmail.email).where(
                    TurnEmail.room == ticket.room,
                    TurnEmail.number == ticket.number,
                    TurnEmail.sent_at.is_(None),
                )
            )
        return found

    # The tick: sending ---------------------------------------------------------------------------

    async def on_tick(self, state: Counter) -> None:
        """The hook the shield calls after each tick. It returns at once: the database work runs
        in a task of its own, one at a time (a tick that comes meanwhile is taken up when it ends),
        so that a slow database never delays the room."""
        now = self.now()
        moved = state.serving != self._checked_serving
        if not moved and now - self._checked_at < RECHECK_SECONDS:
            return
        services = self.running()
        if services is None:
            return
        self._wanted = (state.serving, now)
        if self._run is None or self._run.done():
            self._run = services.in_background(self._work(services))

    async def wait(self) -> None:
        """Wait until the work asked for so far is done (tests, and the app's stop)."""
        while self._run is not None and not self._run.done():
            with contextlib.suppress(Exception):
                await self._run

    async def _work(self, services: Services) -> None:
        while self._wanted is not None:
            (serving, now), self._wanted = self._wanted, None
            try:
                queued = await self.send_due(services, serving, now)
                if queued:
                    await deliver(services.database, services.mailer)
                await self.erase(services, now)
            except Exception:
                logger.exception("the turn emails could not be sent this time; the next tick tries again")
                continue
            self._checked_serving, self._checked_at = serving, now

    async def send_due(self, services: Services, serving: int, now: float) -> int:
        """Queue the email of every ticket the counter has reached (``place <= serving``), each by
        one worker only; returns how many this worker queued."""
        name = self.shield.room.name
        queued = 0
        async with services.database.transaction() as session:
            due = (
                await session.execute(
                    select(TurnEmail.id, TurnEmail.email, TurnEmail.lang)
                    .where(TurnEmail.room == name, TurnEmail.sent_at.is_(None), TurnEmail.place <= serving)
                    .order_by(TurnEmail.place)
                    .limit(BATCH)
                )
            ).all()
            for row_id, email, lang in due:
                expires = now + self.link_seconds
                claimed = await session.execute(
                    update(TurnEmail)
                    .where(TurnEmail.id == row_id, TurnEmail.sent_at.is_(None))
                    .values(sent_at=_moment(now), expires_at=_moment(expires), email=None)
                )
                if getattr(claimed, "rowcount", 0) != 1 or not email:
                    continue  # another worker has sent it
                language: Language = "fr" if lang == "fr" else "en"
                link = f"{self.settings.base_url}{link_path(language)}?token={self.token(row_id, expires)}"
                subject, body = turn_letter(language, link, self.settings.turn_link_minutes, expires)
                # The address must leave the outbox too once delivered: the message's id is kept to
                # erase it (``erase``).
                message = queue(session, email, subject, body, language=language)
                await session.flush()
                await session.execute(
                    update(TurnEmail).where(TurnEmail.id == row_id).values(outbox_id=message.id)
                )
                queued += 1
        self.sent += queued
        return queued

    async def erase(self, services: Services, now: float) -> None:
        """Erase what is no longer needed: the address and body of delivered (or abandoned)
        messages in the outbox, rows past both the limits' hour and their link, and requests whose
        ticket has long expired."""
        lifetime = dt.timedelta(seconds=self.shield.room.settings.ticket_lifetime)
        moment = _moment(now)
        async with services.database.transaction() as session:
            done = (
                await session.scalars(
                    select(OutboxMessage.id)
                    .join(TurnEmail, TurnEmail.outbox_id == OutboxMessage.id)
                    .where(
                        or_(
                            OutboxMessage.sent_at.is_not(None),
                            OutboxMessage.failed_at.is_not(None),  # refused for good, or abandoned
                            OutboxMessage.attempts >= MAX_ATTEMPTS,  # abandoned before failed_at was kept
                        )
                    )
                )
            ).all()
            if done:
                # Blanked, not deleted: the outbox's ids (and the mail files named after them)
                # must never be reused.
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(done)).values(recipient=ERASED, body="")
                )
                await session.execute(
                    update(TurnEmail).where(TurnEmail.outbox_id.in_(done)).values(outbox_id=None)
                )
            await session.execute(
                delete(TurnEmail).where(
                    TurnEmail.outbox_id.is_(None),
                    or_(
                        (TurnEmail.expires_at < moment) & (TurnEmail.created_at < moment - LIMIT_WINDOW),
                        TurnEmail.created_at < moment - lifetime,
                    ),
                )
            )

    # The link --------------------------------------------------------------------------------------

    def token(self, row: int, expires: float) -> str:
        return sign(f"{row}.{round(expires * 1000)}", self.settings.secret_key, LINK_PURPOSE)

    def read(self, token: str) -> Link:
        value = unsign(token, self.settings.secret_key, LINK_PURPOSE) if len(token) <= 200 else None
        if value is None:
            raise LinkNotValid
        row, _, expires = value.partition(".")
        try:
            return Link(int(row), int(expires) / 1000)
        except ValueError:
            raise LinkNotValid from None

    async def look(self, token: str) -> str:
        """Check a link without spending it (the page with the button): where it leads."""
        link = self.read(token)
        row = await self._row(link.row)
        if row is None or link.expires <= self.now():
            raise LinkExpired(row.next if row is not None else "")
        if row.used_at is not None:
            raise LinkUsed
        return row.next

    async def follow(self, token: str) -> Entry:
        """Spend the link and claim the turn it holds: the pass, and where the person was going."""
        link = self.read(token)
        now = self.now()
        services = self.running()
        if services is None:
            raise RuntimeError("the email road needs the app's services")
        async with services.database.transaction() as session:
            row = await session.get(TurnEmail, link.row)
            if row is None or link.expires <= now:
                raise LinkExpired(row.next if row is not None else "")
            spent = await session.execute(
                update(TurnEmail)
                .where(TurnEmail.id == link.row, TurnEmail.used_at.is_(None))
                .values(used_at=_moment(now))
            )
            if getattr(spent, "rowcount", 0) != 1:
                raise LinkUsed
            ticket = Ticket(row.room, row.number, row.issued_ms / 1000, float(row.predicted))
            next_ = row.next
        kept = self.link_seconds + CLAIM_SLACK
        granted = await self.shield.room.claim(ticket, kept=kept)
        if granted is None:  # claimed already, from the waiting page left open
            raise LinkUsed
        return Entry(granted, next_)

    async def _row(self, row_id: int) -> TurnEmail | None:
        services = self.running()
        if services is None:
            raise RuntimeError("the email road needs the app's services")
        async with services.database.transaction() as session:
            return await session.get(TurnEmail, row_id)
