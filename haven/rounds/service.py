"""Running rounds of invitations, and what the people in the pool do with theirs.

A round is one transaction: it re-scores the pool entries whose facts may have changed by the round's
day, reads the highest-ranked eligible entries off the ranking index (``LIMIT`` its size), records the
round with its cut-off and tie-breaking time, issues the invitations, takes the invited out of the
pool and queues their emails in the outbox. Either all of that commits or none of it does. A round
id that exists already issues nothing: the round as it was is the answer (running the same command
twice is safe). Rounds take turns (an advisory lock on PostgreSQL; SQLite has one writer).

An invited person has 60 days to accept (an application for permanent residence starts: a checklist
of documents) or decline (the profile goes back in the pool with its original submission time).
Profiles leave the pool 12 months after submission; a month before, the person is told by email.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Connection, Row, Table, bindparam, delete, func, insert, select, text, update

from haven.accounts.models import Account
from haven.db import Database
from haven.mail.models import OutboxMessage
from haven.profiles.models import Profile
from haven.profiles.paths import SLUGS, profile_path
from haven.rounds import entries
from haven.rounds.models import Application, Invitation, Round
from haven.rules import categories, crs
from haven.rules.rounds import INVITATION_DAYS, Kind, RoundSpec
from haven.settings import Settings
from haven.web.clock import OTTAWA
from haven.web.errors import DomainError
from haven.web.i18n import N_, Language, long_date, translations

PROFILES: Final = cast(Table, Profile.__table__)
ACCOUNTS: Final = cast(Table, Account.__table__)
ROUNDS: Final = cast(Table, Round.__table__)
INVITATIONS: Final = cast(Table, Invitation.__table__)
APPLICATIONS: Final = cast(Table, Application.__table__)
OUTBOX: Final = cast(Table, OutboxMessage.__table__)
E, C = entries.ENTRIES, entries.CATEGORIES
INVITATION_PERIOD: Final = dt.timedelta(days=INVITATION_DAYS)
NOTICE_BEFORE: Final = dt.timedelta(days=30)  # "your profile expires in a month"
REFRESH_BATCH: Final = 500
ROUND_LOCK: Final = 7_302_017  # PostgreSQL advisory lock key: one round at a time


def round_day(at: dt.datetime) -> dt.date:
    """The day whose rules a round runs under: its date in Ottawa."""
    return at.astimezone(OTTAWA).date()


def rules_version(day: dt.date) -> str:
    dated = categories.table_on(day)
    return f"{crs.CRS.on(day).version}+{dated.version if dated else categories.NONE_YET}"


def default_id(round_spec: RoundSpec) -> str:
    """A round's id when the operator gives none: its time and kind, so the same command run twice
    names the same round (and the second run issues nothing)."""
    return f"{round_spec.at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{round_spec.key}"


def utc_text(moment: dt.datetime | None) -> str | None:
    """A moment as IRCC publishes a tie-breaking rule: UTC, to the second."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class RoundConflict(DomainError):
    """A round with this id exists, with other parameters."""

    status = 409
    code = "round_conflict"


class InvitationNotOpen(DomainError):
    """There is no open invitation for this profile (answered already, or past its deadline)."""

    status = 409
    code = "invitation_not_open"


@dataclass(frozen=True)
class RoundRecord:
    id: str
    kind: str
    program: str | None
    category: str | None
    size: int
    at: dt.datetime
    rules_version: str
    invited: int
    cutoff: int | None
    tie_break: dt.datetime | None

    @property
    def key(self) -> str:
        return self.program or self.category or "general"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "program": self.program,
            "category": self.category,
            "size": self.size,
            "at": utc_text(self.at),
            "invited": self.invited,
            "cutoff": self.cutoff,
            "tie_break": utc_text(self.tie_break),
            "rules_version": self.rules_version,
        }


@dataclass(frozen=True)
class Chosen:
    profile_id: uuid.UUID
    account_id: uuid.UUID
    number: str
    score: int
    submitted_at: dt.datetime
    email: str
    language: str


@dataclass(frozen=True)
class DrawResult:
    round: RoundRecord
    existing: bool  # the round had been run before: nothing more was issued
    chosen: tuple[Chosen, ...]  # who was (or, in a dry run, would be) invited, in rank order
    refreshed: int  # pool entries re-scored for the round's day
    dry_run: bool


@dataclass(frozen=True)
class InvitationView:
    round: RoundRecord
    score: int
    rank: int
    invited_at: dt.datetime
    deadline: dt.datetime
    state: str  # open, accepted, declined, expired (an open one past its deadline)


def _record(row: Row[Any]) -> RoundRecord:
    return RoundRecord(
        id=row.id,
        kind=row.kind,
        program=row.program,
        category=row.category,
        size=row.size,
        at=row.at,
        rules_version=row.rules_version,
        invited=row.invited,
        cutoff=row.cutoff,
        tie_break=row.tie_break,
    )


def ranking(round_spec: RoundSpec, *, lock: bool = True) -> Any:
    """The round's pool in rank order, at most its size, with each person's address and language;
    ``lock``: the entries locked for the round's transaction (PostgreSQL)."""
    at = round_spec.at
    if round_spec.kind is Kind.CATEGORY:
        query = (
            select(
                C.c.profile_id,
                E.c.account_id,
                C.c.number,
                C.c.score,
                C.c.submitted_at,
                ACCOUNTS.c.email,
                ACCOUNTS.c.language,
            )
            .select_from(
                C.join(E, E.c.profile_id == C.c.profile_id).join(ACCOUNTS, ACCOUNTS.c.id == E.c.account_id)
            )
            .where(
                C.c.category == round_spec.category,
                C.c.expires_at > at,
                C.c.submitted_at <= at,
            )
            .order_by(C.c.score.desc(), C.c.submitted_at, C.c.number)
        )
    else:
        query = (
            select(
                E.c.profile_id,
                E.c.account_id,
                E.c.number,
                E.c.score,
                E.c.submitted_at,
                ACCOUNTS.c.email,
                ACCOUNTS.c.language,
            )
            .select_from(E.join(ACCOUNTS, ACCOUNTS.c.id == E.c.account_id))
            .where(E.c.expires_at > at, E.c.submitted_at <= at, E.c.eligible)
            .order_by(E.c.score.desc(), E.c.submitted_at, E.c.number)
        )
        if round_spec.kind is Kind.PROGRAM:
            assert round_spec.program is not None
            query = query.where(E.c[round_spec.program.value])
    query = query.limit(round_spec.size)
    return query.with_for_update(of=E) if lock else query


def _stale(connection: Connection, day: dt.date, limit: int, *, skip_locked: bool) -> list[Row[Any]]:
    """Pool entries whose facts may differ on ``day``, with their profile's answers, locked with
    their profiles (an edit of the same profile waits, then finds the new entry). ``skip_locked``:
    leave the entries another worker's sweep is scoring to it."""
    query = (
        select(E.c.profile_id, E.c.account_id, E.c.number, E.c.submitted_at, PROFILES.c.answers)
        .select_from(E.join(PROFILES, PROFILES.c.id == E.c.profile_id))
        .with_for_update(of=(E, PROFILES), skip_locked=skip_locked)
    )
    found: list[Row[Any]] = list(connection.execute(query.where(E.c.valid_until <= day).limit(limit)))
    if len(found) < limit:  # a round dated before the day an entry was scored (rare)
        found += connection.execute(query.where(E.c.scored_on > day).limit(limit - len(found)))
    return found


def _refresh(connection: Connection, day: dt.date, limit: int, *, skip_locked: bool = False) -> int:
    stale = _stale(connection, day, limit, skip_locked=skip_locked)
    for row in stale:
        entries.put(
            connection, row.profile_id, row.account_id, row.number, row.submitted_at, row.answers, day
        )
    return len(stale)


def _language(code: str) -> Language:
    return "fr" if code == "fr" else "en"


class Letters:
    """The emails of rounds and of the pool's lifecycle, in the person's language."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url

    def _profile_link(self, lang: Language, profile_id: uuid.UUID) -> str:
        return self.base + profile_path(lang, profile_id, SLUGS["confirmation"][lang])

    def invitation(
        self, lang: Language, profile_id: uuid.UUID, score: int, at: dt.datetime, deadline: dt.datetime
    ) -> tuple[str, str]:
        _ = translations(lang).gettext
        body = _(
            N_(
                "Your Express Entry profile in Haven was invited to apply for permanent residence in the "
                "round of %(date)s, with a CRS score of %(score)s.\n\n"
                "You have until %(deadline)s (Ottawa time) to accept or decline the invitation. To see it "
                "and answer, sign in to your Haven account:\n\n%(link)s"
            )
        ) % {
            "date": local_text(at, lang),
            "score": score,
            "deadline": local_text(deadline, lang, with_time=True),
            "link": self._profile_link(lang, profile_id),
        }
        return _(N_("Haven: you are invited to apply for permanent residence")), _signed(body, lang)

    def submitted(
        self, lang: Language, profile_id: uuid.UUID, number: str, score: int, at: dt.datetime
    ) -> tuple[str, str]:
        """The confirmation of a submission: what was submitted, and that it stays in Haven."""
        _ = translations(lang).gettext
        body = _(
            N_(
                "Your Express Entry profile %(number)s was submitted in Haven on %(date)s, with a CRS "
                "score of %(score)s. It is in Haven’s pool for 12 months, for the rounds of invitations "
                "held in Haven.\n\n"
                "Haven does not send your profile to Immigration, Refugees and Citizenship Canada "
                "(IRCC). To apply for real, use IRCC’s official systems on canada.ca.\n\n"
                "To see or change your profile, sign in to your Haven account:\n\n%(link)s"
            )
        ) % {
            "number": number,
            "date": local_text(at, lang),
            "score": score,
            "link": self._profile_link(lang, profile_id),
        }
        return _(N_("Haven: your Express Entry profile is submitted")), _signed(body, lang)

    def expiry_notice(
        self, lang: Language, profile_id: uuid.UUID, expires_at: dt.datetime
    ) -> tuple[str, str]:
        _ = translations(lang).gettext
        body = _(
            N_(
                "Your Express Entry profile in Haven leaves the pool on %(date)s, 12 months after you "
                "submitted it. After that day it can no longer be invited.\n\n"
                "To stay in the pool, submit a new profile after that day. Your profile:\n\n%(link)s"
            )
        ) % {"date": local_text(expires_at, lang), "link": self._profile_link(lang, profile_id)}
        return _(N_("Haven: your Express Entry profile expires in a month")), _signed(body, lang)


def local_text(moment: dt.datetime, lang: Language, *, with_time: bool = False) -> str:
    """A moment's date (and time) in Ottawa, written the one way each language writes it here:
    December 3, 2026, 14:05; 3 décembre 2026 à 14 h 05."""
    local = moment.astimezone(OTTAWA)
    day = long_date(local.date(), lang)
    if not with_time:
        return day
    return f"{day}, {local:%H:%M}" if lang == "en" else f"{day} à {local:%H} h {local:%M}"


def _signed(body: str, lang: Language) -> str:
    return body + "\n\n" + translations(lang).gettext(N_("The Haven team")) + "\n"


class Rounds:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.letters = Letters(settings.base_url)

    async def refresh(self, day: dt.date, *, skip_locked: bool = False) -> int:
        """Re-score every pool entry whose facts may differ on ``day``, in batches that each commit
        (it only brings stored facts up to date: safe to stop and run again). The server does it
        in its pool sweep, every few minutes, so that a round finds next to nothing left to do;
        ``skip_locked``: as each worker's sweep does, leaving to another the entries it holds."""
        total = 0
        while True:
            done = await self.database.write(
                lambda connection: _refresh(connection, day, REFRESH_BATCH, skip_locked=skip_locked),
                idempotent=True,
            )
            total += done
            if done < REFRESH_BATCH:
                return total

    async def draw(
        self, round_spec: RoundSpec, round_id: str | None = None, *, now: dt.datetime, dry_run: bool = False
    ) -> DrawResult:
        """Run a round (or, ``dry_run``, show who it would invite and issue nothing)."""
        day = round_day(round_spec.at)
        wanted = round_id or default_id(round_spec)
        refreshed = await self.refresh(day)
        version = rules_version(day)

        def record(invited: Sequence[Chosen]) -> RoundRecord:
            last = invited[-1] if invited else None
            return RoundRecord(
                id=wanted,
                kind=round_spec.kind.value,
                program=round_spec.program.value if round_spec.program else None,
                category=round_spec.category,
                size=round_spec.size,
                at=round_spec.at,
                rules_version=version,
                invited=len(invited),
                cutoff=last.score if last else None,
                tie_break=last.submitted_at if last else None,
            )

        def choose(connection: Connection, lock: bool = True) -> tuple[Chosen, ...]:
            rows = connection.execute(ranking(round_spec, lock=lock))
            return tuple(Chosen(**row._asdict()) for row in rows)

        if dry_run:
            existing = await self.database.read(lambda connection: self._existing(connection, wanted))
            if existing is not None:
                return DrawResult(existing, True, (), refreshed, True)
            chosen = await self.database.read(lambda connection: choose(connection, lock=False))
            return DrawResult(record(chosen), False, chosen, refreshed, True)

        def work(connection: Connection) -> DrawResult:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROUND_LOCK})
            existing = self._existing(connection, wanted)
            if existing is not None:
                same = (existing.kind, existing.program, existing.category, existing.size, existing.at) == (
                    round_spec.kind.value,
                    round_spec.program.value if round_spec.program else None,
                    round_spec.category,
                    round_spec.size,
                    round_spec.at,
                )
                if not same:
                    raise RoundConflict
                return DrawResult(existing, True, (), 0, False)
            late = _refresh(connection, day, 1_000_000)  # anything that went stale since
            chosen = choose(connection)
            done = record(chosen)
            connection.execute(
                insert(ROUNDS),
                [{**done.__dict__, "created_at": now}],
            )
            if chosen:
                self._invite(connection, done, chosen, now)
            return DrawResult(done, False, chosen, refreshed + late, False)

        # Run again after a dropped connection, it finds the round recorded: nothing more.
        return await self.database.write(work, idempotent=True)

    def _existing(self, connection: Connection, round_id: str) -> RoundRecord | None:
        row = connection.execute(select(ROUNDS).where(ROUNDS.c.id == round_id)).first()
        return _record(row) if row is not None else None

    def _invite(
        self, connection: Connection, done: RoundRecord, chosen: Sequence[Chosen], now: dt.datetime
    ) -> None:
        deadline = done.at + INVITATION_PERIOD
        connection.execute(
            insert(INVITATIONS),
            [
                {
                    "round_id": done.id,
                    "profile_id": person.profile_id,
                    "account_id": person.account_id,
                    "score": person.score,
                    "rank": rank,
                    "invited_at": done.at,
                    "deadline": deadline,
                    "state": "open",
                }
                for rank, person in enumerate(chosen, 1)
            ],
        )
        ids = [{"b_id": person.profile_id} for person in chosen]
        connection.execute(
            update(PROFILES)
            .where(PROFILES.c.id == bindparam("b_id"))
            .values(state="invited", invited_at=done.at, updated_at=now),
            ids,
        )
        connection.execute(delete(C).where(C.c.profile_id == bindparam("b_id")), ids)
        connection.execute(delete(E).where(E.c.profile_id == bindparam("b_id")), ids)
        messages = []
        for person in chosen:
            lang = _language(person.language)
            subject, body = self.letters.invitation(lang, person.profile_id, person.score, done.at, deadline)
            messages.append(
                {
                    "recipient": person.email,
                    "subject": subject,
                    "body": body,
                    "language": lang,
                    "created_at": now,
                    "attempts": 0,
                }
            )
        connection.execute(insert(OUTBOX), messages)

    async def all(self) -> list[RoundRecord]:
        """Every round, the latest first."""

        def work(connection: Connection) -> list[RoundRecord]:
            rows = connection.execute(select(ROUNDS).order_by(ROUNDS.c.at.desc(), ROUNDS.c.id.desc()))
            return [_record(row) for row in rows]

        return await self.database.read(work)

    async def version(self) -> tuple[int, dt.datetime | None]:
        """How many rounds there are and when the last was recorded: what the public page follows."""

        def work(connection: Connection) -> tuple[int, dt.datetime | None]:
            row = connection.execute(select(func.count(), func.max(ROUNDS.c.created_at))).one()
            return int(row[0]), row[1]

        return await self.database.read(work)

    async def invitation(
        self, account_id: uuid.UUID, profile_id: uuid.UUID, now: dt.datetime
    ) -> InvitationView | None:
        """The profile's latest invitation, if it has one."""

        def work(connection: Connection) -> InvitationView | None:
            row = connection.execute(
                select(INVITATIONS, ROUNDS)
                .select_from(INVITATIONS.join(ROUNDS, ROUNDS.c.id == INVITATIONS.c.round_id))
                .where(INVITATIONS.c.profile_id == profile_id, INVITATIONS.c.account_id == account_id)
                .order_by(INVITATIONS.c.invited_at.desc())
                .limit(1)
            ).first()
            return None if row is None else _invitation_view(row, now)

        return await self.database.read(work)

    async def accept(self, account_id: uuid.UUID, profile_id: uuid.UUID, now: dt.datetime) -> uuid.UUID:
        """Accept the open invitation: the profile's application for permanent residence starts.
        Accepting again answers with the same application."""

        def work(connection: Connection) -> uuid.UUID:
            found = self._open(connection, account_id, profile_id, now, answered=("accepted",))
            if found is None:
                application = connection.execute(
                    select(APPLICATIONS.c.id).where(
                        APPLICATIONS.c.profile_id == profile_id, APPLICATIONS.c.account_id == account_id
                    )
                ).scalar()
                if application is None:
                    raise InvitationNotOpen
                return cast(uuid.UUID, application)
            application_id = uuid.uuid4()
            connection.execute(
                update(INVITATIONS)
                .where(INVITATIONS.c.round_id == found.round_id, INVITATIONS.c.profile_id == profile_id)
                .values(state="accepted", answered_at=now)
            )
            connection.execute(
                update(PROFILES).where(PROFILES.c.id == profile_id).values(state="accepted", updated_at=now)
            )
            connection.execute(
                insert(APPLICATIONS),
                [
                    {
                        "id": application_id,
                        "account_id": account_id,
                        "profile_id": profile_id,
                        "round_id": found.round_id,
                        "ready": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            return application_id

        return await self.database.write(work, idempotent=True)

    async def decline(self, account_id: uuid.UUID, profile_id: uuid.UUID, now: dt.datetime) -> None:
        """Decline the open invitation: the profile goes back in the pool, with the submission time it
        had, for the rest of its 12 months. Declining again changes nothing."""

        def work(connection: Connection) -> None:
            found = self._open(connection, account_id, profile_id, now, answered=("declined",))
            if found is None:
                return
            connection.execute(
                update(INVITATIONS)
                .where(INVITATIONS.c.round_id == found.round_id, INVITATIONS.c.profile_id == profile_id)
                .values(state="declined", answered_at=now)
            )
            profile = connection.execute(select(PROFILES).where(PROFILES.c.id == profile_id)).one()
            connection.execute(
                update(PROFILES)
                .where(PROFILES.c.id == profile_id)
                .values(state="submitted", invited_at=None, updated_at=now)
            )
            entries.put(
                connection,
                profile_id,
                account_id,
                profile.number,
                profile.submitted_at,
                profile.answers,
                now.astimezone(OTTAWA).date(),
            )

        await self.database.write(work, idempotent=True)

    def _open(
        self,
        connection: Connection,
        account_id: uuid.UUID,
        profile_id: uuid.UUID,
        now: dt.datetime,
        *,
        answered: tuple[str, ...],
    ) -> Row[Any] | None:
        """The open invitation of the profile, locked; None when it was already answered the way
        ``answered`` says (a second click). Anything else refuses."""
        row = connection.execute(
            select(INVITATIONS)
            .where(INVITATIONS.c.profile_id == profile_id, INVITATIONS.c.account_id == account_id)
            .order_by(INVITATIONS.c.invited_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if row is None:
            raise InvitationNotOpen
        if row.state in answered:
            return None
        if row.state != "open" or now >= row.deadline:
            raise InvitationNotOpen
        return row

    async def application(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> Row[Any] | None:
        def work(connection: Connection) -> Row[Any] | None:
            return connection.execute(
                select(APPLICATIONS).where(
                    APPLICATIONS.c.profile_id == profile_id, APPLICATIONS.c.account_id == account_id
                )
            ).first()

        return await self.database.read(work)

    async def mark_ready(
        self, account_id: uuid.UUID, profile_id: uuid.UUID, ready: dict[str, bool], now: dt.datetime
    ) -> None:
        """Keep which documents of the checklist the person has ready."""

        def work(connection: Connection) -> None:
            connection.execute(
                update(APPLICATIONS)
                .where(APPLICATIONS.c.profile_id == profile_id, APPLICATIONS.c.account_id == account_id)
                .values(ready=ready, updated_at=now)
            )

        await self.database.write(work, idempotent=True)

    async def sweep(self, now: dt.datetime) -> tuple[int, int]:
        """Take expired profiles out of the pool and tell, once, everyone whose profile expires within
        a month. Returns (entries removed, notices queued). Safe to run anywhere, any number of times:
        each step is one short transaction."""

        def expire(connection: Connection) -> int:
            gone = [
                {"b_id": row.profile_id}
                for row in connection.execute(
                    select(E.c.profile_id).where(E.c.expires_at <= now).limit(REFRESH_BATCH)
                )
            ]
            if gone:
                connection.execute(delete(C).where(C.c.profile_id == bindparam("b_id")), gone)
                connection.execute(delete(E).where(E.c.profile_id == bindparam("b_id")), gone)
            return len(gone)

        def notify(connection: Connection) -> int:
            rows = list(
                connection.execute(
                    select(PROFILES.c.id, PROFILES.c.submitted_at, ACCOUNTS.c.email, ACCOUNTS.c.language)
                    .select_from(PROFILES.join(ACCOUNTS, ACCOUNTS.c.id == PROFILES.c.account_id))
                    .where(
                        PROFILES.c.state == "submitted",
                        PROFILES.c.expiry_notice_at.is_(None),
                        PROFILES.c.submitted_at <= now - entries.POOL_LIFETIME + NOTICE_BEFORE,
                        PROFILES.c.submitted_at > now - entries.POOL_LIFETIME,
                    )
                    .limit(REFRESH_BATCH)
                    .with_for_update(of=PROFILES, skip_locked=True)  # each worker sweeps; one sends
                )
            )
            for row in rows:
                lang = _language(row.language)
                subject, body = self.letters.expiry_notice(
                    lang, row.id, row.submitted_at + entries.POOL_LIFETIME
                )
                connection.execute(
                    insert(OUTBOX),
                    [
                        {
                            "recipient": row.email,
                            "subject": subject,
                            "body": body,
                            "language": lang,
                            "created_at": now,
                            "attempts": 0,
                        }
                    ],
                )
                connection.execute(
                    update(PROFILES).where(PROFILES.c.id == row.id).values(expiry_notice_at=now)
                )
            return len(rows)

        removed = notices = 0
        while (done := await self.database.write(expire, idempotent=True)) > 0:
            removed += done
        while (done := await self.database.write(notify, idempotent=True)) > 0:
            notices += done
        return removed, notices


def _invitation_view(row: Row[Any], now: dt.datetime) -> InvitationView:
    state = row.state
    if state == "open" and now >= row.deadline:
        state = "expired"
    return InvitationView(
        round=_record(row),
        score=row.score,
        rank=row.rank,
        invited_at=row.invited_at,
        deadline=row.deadline,
        state=state,
    )
