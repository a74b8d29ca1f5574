"""Express Entry profiles: start a draft, save its sections, submit it once, list them.

Every read and write names the account: a profile id alone opens nothing, so one person's profile can
never reach another's page. A submission is acknowledged only after its transaction commits, and it
is idempotent twice over: the form's key makes a repeated "start" or "submit" return the same profile,
and a draft that is already submitted answers with the number it was given.

Time comes in as an argument (``now``, ``today``), from the app's one clock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Connection, Row, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from haven.accounts.models import Account
from haven.db import Database
from haven.mail.models import OutboxMessage
from haven.profiles import scoring
from haven.profiles.models import Profile
from haven.rounds import entries
from haven.rounds.service import Letters
from haven.settings import Settings
from haven.web.clock import OTTAWA
from haven.web.errors import DomainError
from haven.web.i18n import Language
from haven.web.security import Sealer

DRAFT_LIFETIME: Final = dt.timedelta(days=60)  # reference §F.3
POOL_LIFETIME: Final = entries.POOL_LIFETIME
INVITATION_LIFETIME: Final = dt.timedelta(days=60)
# The states in which a profile is someone's one profile: a new one cannot be started beside it.
ACTIVE: Final = ("draft", "submitted", "invited", "accepted")
NUMBER_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
NUMBER_TRIES: Final = 5  # 31^12 numbers: a second try is already a one-in-10^15 event

# The statements of the paths every applicant takes many times, in Core: built once, each a single
# round trip. The account is in every WHERE: a profile id alone opens nothing.
_TABLE: Final = cast(Table, Profile.__table__)
_ACCOUNTS: Final = cast(Table, Account.__table__)
_OUTBOX: Final = cast(Table, OutboxMessage.__table__)
_OWNED: Final = select(_TABLE).where(
    _TABLE.c.id == bindparam("profile_id"), _TABLE.c.account_id == bindparam("account_id")
)
_OWNED_LOCKED: Final = _OWNED.with_for_update()  # PostgreSQL; SQLite's BEGIN IMMEDIATE locks already
_ALL: Final = select(_TABLE).order_by(_TABLE.c.created_at.desc())
_DRAFT: Final = (_TABLE.c.id == bindparam("profile_id")) & (_TABLE.c.state == "draft")
_IN_STATE: Final = (_TABLE.c.id == bindparam("profile_id")) & (_TABLE.c.state == bindparam("b_state"))


class ProfileNotFound(DomainError):
    """No such profile for this account."""

    status = 404
    code = "profile_not_found"


class ProfileNotEditable(DomainError):
    """This profile can no longer be changed here (invited, withdrawn or expired)."""

    status = 409
    code = "profile_not_editable"


class ProfileIncomplete(DomainError):
    """Some sections are not complete yet."""

    status = 422
    code = "profile_incomplete"

    def __init__(self, sections: list[str]) -> None:
        super().__init__()
        self.sections = sections


class SubmissionRefused(DomainError):
    """This profile cannot be submitted as it is: the check page says why."""

    status = 422
    code = "submission_refused"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__()
        # "declaration" (not declared true), "unconfirmed_email" (the account's address was never
        # confirmed), "stale_results" (language results that no longer count on the day).
        self.reasons = reasons


class ActiveProfileExists(DomainError):
    """You already have a profile: continue it, or wait until it expires."""

    status = 409
    code = "active_profile_exists"


def new_number() -> str:
    """A profile number people can read out on the phone: HV-XXXX-XXXX-XXXX."""
    body = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(12))
    return f"HV-{body[:4]}-{body[4:8]}-{body[8:]}"


@dataclass(frozen=True)
class Status:
    state: str  # draft, submitted, expired, invited, accepted, withdrawn
    until: dt.datetime | None  # when a draft, a submitted profile or an invitation expires


def status(profile: Profile, now: dt.datetime) -> Status:
    if profile.state == "draft":
        until = profile.created_at + DRAFT_LIFETIME
        return Status("expired" if now >= until else "draft", until)
    if profile.state == "submitted":
        assert profile.submitted_at is not None
        until = profile.submitted_at + POOL_LIFETIME
        return Status("expired" if now >= until else "submitted", until)
    if profile.state == "invited":
        assert profile.invited_at is not None
        until = profile.invited_at + INVITATION_LIFETIME
        return Status("expired" if now >= until else "invited", until)
    return Status(profile.state, None)


def editable(profile: Profile, now: dt.datetime) -> bool:
    """A draft, or a submitted profile in the pool: its answers can still be changed."""
    return status(profile, now).state in ("draft", "submitted")


class Profiles:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.sealer = Sealer(settings.data_key)
        self.letters = Letters(settings.base_url)

    async def start(self, account_id: uuid.UUID, create_key: str, *, now: dt.datetime) -> Profile:
        """A new draft, or the one this same form already made (a double click makes one)."""
        try:
            async with self.database.transaction() as session:
                existing = await session.scalar(
                    select(Profile).where(Profile.account_id == account_id, Profile.create_key == create_key)
                )
                if existing is not None:
                    return existing
                # The account's row is locked first (PostgreSQL), so two "start" forms sent at
                # once with different keys cannot both find no active profile.
                await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())
                for profile in await self._all(session, account_id):
                    if status(profile, now).state in ACTIVE:
                        raise ActiveProfileExists
                profile = Profile(
                    id=uuid.uuid4(),
                    account_id=account_id,
                    state="draft",
                    answers={},
                    create_key=create_key,
                    created_at=now,
                    updated_at=now,
                )
                session.add(profile)
            return profile
        except IntegrityError:  # the same key raced in from a second request: theirs won
            async with self.database.transaction() as session:
                existing = await session.scalar(
                    select(Profile).where(Profile.account_id == account_id, Profile.create_key == create_key)
                )
                if existing is None:
                    raise
                return existing

    async def _all(self, session: AsyncSession, account_id: uuid.UUID) -> list[Profile]:
        found = await session.scalars(
            select(Profile).where(Profile.account_id == account_id).order_by(Profile.created_at.desc())
        )
        return list(found)

    async def all_for(self, account_id: uuid.UUID) -> list[Profile]:
        def work(connection: Connection) -> list[Profile]:
            query = _ALL.where(_TABLE.c.account_id == account_id)
            return [_profile(row) for row in connection.execute(query)]

        return await self.database.read(work)

    async def get(self, account_id: uuid.UUID, profile_id: uuid.UUID) -> Profile:
        def work(connection: Connection) -> Profile:
            return _profile(_owned(connection, account_id, profile_id))

        return await self.database.read(work)

    def passport_number(self, profile: Profile) -> str | None:
        return self.sealer.open(profile.passport_number) if profile.passport_number else None

    async def save(
        self,
        account_id: uuid.UUID,
        profile_id: uuid.UUID,
        section: str,
        answers: dict[str, Any],
        complete: bool,
        *,
        now: dt.datetime,
        passport_number: str | None = None,
    ) -> Profile:
        """Keep a section's answers as typed, and whether they are complete. The passport number
        is kept apart, encrypted.

        A submitted profile can be changed too (reference §F.3): it keeps its submission time, and
        its place in the pool is worked out again in the same transaction. Its work history counts
        as complete at every change (each job is checked as it is saved). Should a change call for
        a section not answered yet (a partner, after a change of marital status), the profile
        leaves the pool until that section is complete."""
        sealed = self.sealer.seal(passport_number) if passport_number else None

        def work(connection: Connection) -> Profile:
            row = _owned(connection, account_id, profile_id, lock=True)
            if not editable(_profile(row), now):
                raise ProfileNotEditable
            submitted = row.state == "submitted"
            data = dict(row.answers)
            data[section] = answers
            done = set(data.get("_complete", []))
            (done.add if complete or (submitted and section == "work") else done.discard)(section)
            data["_complete"] = sorted(done)
            values: dict[str, Any] = {"answers": data, "updated_at": now}
            if passport_number is not None:
                values["passport_number"] = sealed
            if submitted:
                day = now.astimezone(OTTAWA).date()
                if scoring.missing_sections(data):
                    entries.remove(connection, profile_id)
                else:
                    facts = entries.put(
                        connection, profile_id, account_id, row.number, row.submitted_at, data, day
                    )
                    values.update(crs_score=facts.score, rules_version=facts.crs_version)
            connection.execute(
                update(_TABLE).where(_IN_STATE).values(values),
                {"profile_id": profile_id, "b_state": row.state},
            )
            return _profile(row, **values)

        # Run again after a dropped connection, it writes the same answers again.
        return await self.database.write(work, idempotent=True)

    async def submit(
        self,
        account_id: uuid.UUID,
        profile_id: uuid.UUID,
        submit_key: str,
        *,
        declared: bool,
        email_confirmed: bool,
        today: dt.date,
        now: dt.datetime,
    ) -> Profile:
        """Submit the draft with its CRS score on ``today``; a profile already submitted answers
        with its number, once. Every check is made on the locked row, in the transaction that
        submits it. The number is drawn at random and the unique index keeps it unique: a number
        already taken (never seen yet) rolls the transaction back, and it runs again."""

        def work(connection: Connection) -> Profile:
            row = _owned(connection, account_id, profile_id, lock=True)
            if row.state != "draft":
                return _profile(row)  # a double click, a retry, a re-POST: the same profile, one record
            checks = (
                ("declaration", declared),
                ("unconfirmed_email", email_confirmed),
                ("stale_results", not scoring.stale_results(row.answers, today)),
            )
            reasons = [reason for reason, passed in checks if not passed]
            if reasons:
                raise SubmissionRefused(reasons)
            missing = scoring.missing_sections(row.answers)
            if missing:
                raise ProfileIncomplete(missing)
            crs_score, rules_version = scoring.score(row.answers, today)
            if status(_profile(row), now).state == "expired":
                raise ProfileNotEditable
            number = new_number()
            values = {
                "state": "submitted",
                "submit_key": submit_key,
                "submitted_at": now,
                "crs_score": crs_score,
                "rules_version": rules_version,
                "number": number,
                "updated_at": now,
            }
            connection.execute(update(_TABLE).where(_DRAFT).values(values), {"profile_id": profile_id})
            # Into the pool, in the same transaction: a submitted profile is always in it.
            entries.put(connection, profile_id, account_id, number, now, row.answers, today)
            # And its confirmation into the outbox, with it: sent after the commit, never without it.
            person = connection.execute(
                select(_ACCOUNTS.c.email, _ACCOUNTS.c.language).where(_ACCOUNTS.c.id == account_id)
            ).one()
            lang: Language = "fr" if person.language == "fr" else "en"
            subject, body = self.letters.submitted(lang, profile_id, number, crs_score, now)
            connection.execute(
                insert(_OUTBOX).values(
                    recipient=person.email,
                    subject=subject,
                    body=body,
                    language=lang,
                    created_at=now,
                    attempts=0,
                )
            )
            return _profile(row, **values)

        for attempt in range(NUMBER_TRIES):
            try:
                # Run again after a dropped connection, it finds the profile submitted: one record.
                return await self.database.write(work, idempotent=True)
            except IntegrityError:
                if attempt == NUMBER_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def withdraw(self, account_id: uuid.UUID, profile_id: uuid.UUID, *, now: dt.datetime) -> Profile:
        """Take a submitted profile out of the pool for good (reference §F.3): a new one can then be
        started, and it will have a submission time of its own. Withdrawing again changes nothing."""

        def work(connection: Connection) -> Profile:
            row = _owned(connection, account_id, profile_id, lock=True)
            if row.state == "withdrawn":
                return _profile(row)
            if status(_profile(row), now).state != "submitted":
                raise ProfileNotEditable
            values = {"state": "withdrawn", "updated_at": now}
            connection.execute(
                update(_TABLE).where(_IN_STATE).values(values),
                {"profile_id": profile_id, "b_state": row.state},
            )
            entries.remove(connection, profile_id)
            return _profile(row, **values)

        return await self.database.write(work, idempotent=True)


def _owned(
    connection: Connection, account_id: uuid.UUID, profile_id: uuid.UUID, *, lock: bool = False
) -> Row[Any]:
    query = _OWNED_LOCKED if lock else _OWNED
    row = connection.execute(query, {"profile_id": profile_id, "account_id": account_id}).first()
    if row is None:
        raise ProfileNotFound
    return row


def _profile(row: Row[Any], **changed: Any) -> Profile:
    """The profile of ``row`` (with ``changed`` applied), detached: read, never written back."""
    return Profile(**{**row._asdict(), **changed})
