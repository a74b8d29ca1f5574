"""What Haven deletes once it no longer needs it, one rule per kind of row: ``haven prune``, and the
same sweep in every server worker about once an hour.

Each rule is a condition on the moment of the sweep. Rows are taken in batches (``BATCH`` a
transaction, repeated until none is left): the batch chooses the keys of rows that are due, locked
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (a row another transaction holds, a draft being saved, is
left for the next sweep and never waited on), then deletes them with the condition checked again
in the DELETE's WHERE, so a row that changed after it was chosen stays. Every worker may run it at
once: each takes rows the others have not locked. On SQLite each batch is one short write
transaction, as every other write there.

Fail closed on doubt: a rule deletes only what can no longer be used. A profile with an application,
or with an invitation still open, is never deleted; an account is deleted only when nothing hangs
on it. The privacy notice (``privacy.md`` in both languages) and the README say the same rules in
words: change them together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Column, ColumnElement, Connection, Table, and_, delete, exists, func, or_, select

from haven.accounts.models import Account, EmailToken, Throttle, WebSession
from haven.accounts.service import WINDOW
from haven.console.models import AuditEntry, OperatorSession
from haven.db import Database, create_engine, utcnow
from haven.feedback.models import ProblemReport
from haven.mail.models import OutboxMessage
from haven.mail.outbox import MAX_ATTEMPTS
from haven.profiles.models import Profile
from haven.profiles.service import DRAFT_LIFETIME, POOL_LIFETIME
from haven.rounds.models import Application, Invitation
from haven.settings import Settings
from haven.turnmail.models import TurnEmail

BATCH: Final = 500  # rows deleted per transaction at most
# A delivered email is kept this long: long enough for an operator to answer "did it go?"; the
# turn emails' own sweep blanks the address of theirs within a minute of delivery anyway.
DELIVERED_KEPT: Final = dt.timedelta(days=7)
FAILED_KEPT: Final = dt.timedelta(days=30)  # an email Haven gave up on, for the operators to look into
DRAFT_UNTOUCHED: Final = DRAFT_LIFETIME  # 60 days without a save (reference §F.3)
# A profile past its 12 months is kept this much longer: its owner can still read it to start a new
# one, and a round dated a little in the past still finds what it ranked.
EXPIRED_KEPT: Final = dt.timedelta(days=30)
UNCONFIRMED_KEPT: Final = dt.timedelta(days=30)  # an account whose address was never confirmed
# The operators' audit log: who did what to the room, and from which address. Two years answers any
# review of a night's decisions; after that the entries (and the addresses in them) go.
AUDIT_KEPT: Final = dt.timedelta(days=730)
REPORTS_KEPT: Final = dt.timedelta(days=365)  # "report a problem with this page": a year to act on it
# The states of a profile that has been in the pool ("accepted" has an application: never deleted).
POOLED: Final = ("submitted", "invited", "withdrawn")

SESSIONS: Final = cast(Table, WebSession.__table__)
TOKENS: Final = cast(Table, EmailToken.__table__)
THROTTLES: Final = cast(Table, Throttle.__table__)
OUTBOX: Final = cast(Table, OutboxMessage.__table__)
TURN_EMAILS: Final = cast(Table, TurnEmail.__table__)
PROFILES: Final = cast(Table, Profile.__table__)
INVITATIONS: Final = cast(Table, Invitation.__table__)
APPLICATIONS: Final = cast(Table, Application.__table__)
ACCOUNTS: Final = cast(Table, Account.__table__)
OPERATOR_SESSIONS: Final = cast(Table, OperatorSession.__table__)
AUDIT_LOG: Final = cast(Table, AuditEntry.__table__)
PROBLEM_REPORTS: Final = cast(Table, ProblemReport.__table__)


@dataclass(frozen=True)
class Rule:
    """One kind of row Haven deletes: its table, and when a row of it is due (a condition on the
    moment of the sweep, used to choose rows and again to delete them)."""

    name: str
    table: Table
    due: Callable[[dt.datetime], ColumnElement[bool]]

    @property
    def key(self) -> Column[Any]:
        (column,) = self.table.primary_key.columns
        return column


def ended_sessions(now: dt.datetime) -> ColumnElement[bool]:
    """Sessions past their end (12 hours after sign-in). One idle for 30 minutes signs nobody in
    either, and goes by this rule within those 12 hours: ``last_seen_at`` changes every minute of
    use, and an index on it would cost every one of those writes."""
    return SESSIONS.c.expires_at <= now


def spent_tokens(now: dt.datetime) -> ColumnElement[bool]:
    """Email links used or expired: either way the link no longer works, row or no row."""
    return or_(TOKENS.c.used_at.is_not(None), TOKENS.c.expires_at <= now)


def idle_throttles(now: dt.datetime) -> ColumnElement[bool]:
    """Sign-in counts whose window has passed and that block nothing: the next failure would start
    a new count from nothing (``record_failure``), exactly as with no row. A row still in its window
    keeps its count, and a block is kept until it ends, even past its window."""
    return and_(
        THROTTLES.c.window_start < now - WINDOW,
        or_(THROTTLES.c.blocked_until.is_(None), THROTTLES.c.blocked_until <= now),
    )


def _deletable_message() -> ColumnElement[bool]:
    """An outbox row that may go at all: not the newest (SQLite, whose table has no AUTOINCREMENT,
    would give its id to the next message, and ids name the mail files and Message-IDs), and not one
    a turn email still points to (its own sweep blanks it, then lets go of it)."""
    newest = select(func.max(OUTBOX.c.id)).scalar_subquery()
    followed = exists().where(TURN_EMAILS.c.outbox_id == OUTBOX.c.id)
    return and_(OUTBOX.c.id < newest, ~followed.correlate(OUTBOX))


def delivered_mail(now: dt.datetime) -> ColumnElement[bool]:
    """Emails delivered more than ``DELIVERED_KEPT`` ago."""
    return and_(OUTBOX.c.sent_at <= now - DELIVERED_KEPT, _deletable_message())


def failed_mail(now: dt.datetime) -> ColumnElement[bool]:
    """Emails Haven gave up on (refused for good, or every attempt failed) more than ``FAILED_KEPT``
    ago. A message still being tried is never deleted."""
    cutoff = now - FAILED_KEPT
    abandoned_before_failed_at = and_(  # rows given up on before ``failed_at`` was kept: by their age
        OUTBOX.c.failed_at.is_(None),
        OUTBOX.c.attempts >= MAX_ATTEMPTS,
        OUTBOX.c.created_at <= cutoff,
    )
    return and_(
        # Implied (a message given up on was never sent): the index on ``sent_at`` finds the few unsent.
        OUTBOX.c.sent_at.is_(None),
        or_(OUTBOX.c.failed_at <= cutoff, abandoned_before_failed_at),
        _deletable_message(),
    )


def stale_drafts(now: dt.datetime) -> ColumnElement[bool]:
    """Drafts not saved for ``DRAFT_UNTOUCHED``. Such a draft has already expired (a draft can be
    submitted only within 60 days of being started): nobody can save or submit it any more."""
    cutoff = now - DRAFT_UNTOUCHED
    # ``created_at`` never comes after ``updated_at``: the same bound on it changes nothing, and lets
    # an index on (state, created_at), which a save never changes, do the narrowing.
    return and_(PROFILES.c.state == "draft", PROFILES.c.updated_at <= cutoff, PROFILES.c.created_at <= cutoff)


def expired_profiles(now: dt.datetime) -> ColumnElement[bool]:
    """Profiles that were submitted more than 12 months and ``EXPIRED_KEPT`` ago: submitted (the
    pool's sweep took them out at 12 months), withdrawn, or invited with the invitation never
    answered. Kept whatever their age: one with an application (an accepted invitation), and one
    with an invitation still open or whose deadline passed less than ``EXPIRED_KEPT`` ago. Their pool
    rows and past invitations go with them (``ON DELETE CASCADE``)."""
    cutoff = now - POOL_LIFETIME - EXPIRED_KEPT
    invitation = exists().where(
        INVITATIONS.c.profile_id == PROFILES.c.id,
        INVITATIONS.c.state == "open",
        INVITATIONS.c.deadline > now - EXPIRED_KEPT,
    )
    application = exists().where(APPLICATIONS.c.profile_id == PROFILES.c.id)
    return and_(
        PROFILES.c.state.in_(POOLED),
        PROFILES.c.submitted_at <= cutoff,
        PROFILES.c.created_at <= cutoff,  # implied, as for drafts: for an index
        ~invitation.correlate(PROFILES),
        ~application.correlate(PROFILES),
    )


def unconfirmed_accounts(now: dt.datetime) -> ColumnElement[bool]:
    """Accounts whose address was never confirmed, made more than ``UNCONFIRMED_KEPT`` ago, with no
    profile, nobody signed in and no confirmation link still open (a link sent again keeps the
    account until it expires)."""
    profile = exists().where(PROFILES.c.account_id == ACCOUNTS.c.id)
    session = exists().where(SESSIONS.c.account_id == ACCOUNTS.c.id)
    link = exists().where(
        TOKENS.c.account_id == ACCOUNTS.c.id, TOKENS.c.used_at.is_(None), TOKENS.c.expires_at > now
    )
    return and_(
        ACCOUNTS.c.email_verified_at.is_(None),
        ACCOUNTS.c.created_at <= now - UNCONFIRMED_KEPT,
        ~profile.correlate(ACCOUNTS),
        ~session.correlate(ACCOUNTS),
        ~link.correlate(ACCOUNTS),
    )


def ended_operator_sessions(now: dt.datetime) -> ColumnElement[bool]:
    """Operators' sessions past their end (8 hours after sign-in; idle ones sign nobody in sooner)."""
    return OPERATOR_SESSIONS.c.expires_at <= now


def old_audit_entries(now: dt.datetime) -> ColumnElement[bool]:
    """Entries of the operators' audit log older than ``AUDIT_KEPT``."""
    return AUDIT_LOG.c.at <= now - AUDIT_KEPT


def old_problem_reports(now: dt.datetime) -> ColumnElement[bool]:
    """Reports of problems with a page older than ``REPORTS_KEPT``."""
    return PROBLEM_REPORTS.c.created_at <= now - REPORTS_KEPT


# In this order: an account waits for its sessions, links and drafts to go first, so one sweep
# takes all of an abandoned sign-up.
RULES: Final = (
    Rule("sessions", SESSIONS, ended_sessions),
    Rule("email_tokens", TOKENS, spent_tokens),
    Rule("throttles", THROTTLES, idle_throttles),
    Rule("outbox_delivered", OUTBOX, delivered_mail),
    Rule("outbox_failed", OUTBOX, failed_mail),
    Rule("drafts", PROFILES, stale_drafts),
    Rule("expired_profiles", PROFILES, expired_profiles),
    Rule("unconfirmed_accounts", ACCOUNTS, unconfirmed_accounts),
    Rule("operator_sessions", OPERATOR_SESSIONS, ended_operator_sessions),
    Rule("audit_log", AUDIT_LOG, old_audit_entries),
    Rule("problem_reports", PROBLEM_REPORTS, old_problem_reports),
)


def choose(connection: Connection, rule: Rule, now: dt.datetime, limit: int) -> list[Any]:
    """The keys of up to ``limit`` rows due under ``rule``, locked for this transaction; rows
    another transaction holds are skipped (PostgreSQL; SQLite has one writer at a time)."""
    query = (
        select(rule.key).where(rule.due(now)).limit(limit).with_for_update(of=rule.table, skip_locked=True)
    )
    return list(connection.execute(query).scalars())


def delete_chosen(connection: Connection, rule: Rule, now: dt.datetime, keys: Sequence[Any]) -> int:
    """Delete the rows of ``keys`` that are still due; returns how many went."""
    if not keys:
        return 0
    result = connection.execute(delete(rule.table).where(rule.key.in_(keys), rule.due(now)))
    return int(result.rowcount)


def count_due(connection: Connection, rule: Rule, now: dt.datetime) -> int:
    return int(
        connection.execute(select(func.count()).select_from(rule.table).where(rule.due(now))).scalar_one()
    )


async def prune_rule(database: Database, rule: Rule, now: dt.datetime, batch: int = BATCH) -> int:
    """Delete every row due under ``rule``, ``batch`` rows a transaction; returns how many went."""

    def work(connection: Connection) -> tuple[int, int]:
        keys = choose(connection, rule, now, batch)
        return len(keys), delete_chosen(connection, rule, now, keys)

    total = 0
    while True:
        # Run again after a dropped connection, a batch deletes what is still due: nothing twice
        # (the count may then miss what the first run deleted).
        chosen, deleted = await database.write(work, idempotent=True)
        total += deleted
        if chosen < batch or deleted == 0:
            return total


async def prune(
    database: Database,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    rules: Sequence[Rule] = RULES,
) -> dict[str, int]:
    """Apply every rule at ``now``; returns how many rows each deleted (``dry_run``: how many are
    due now, deleting nothing; an account waiting only for its draft to go is counted next time)."""
    counts: dict[str, int] = {}
    for rule in rules:
        if dry_run:
            counts[rule.name] = await database.read(_counter(rule, now))
        else:
            counts[rule.name] = await prune_rule(database, rule, now, batch)
    return counts


def _counter(rule: Rule, now: dt.datetime) -> Callable[[Connection], int]:
    return lambda connection: count_due(connection, rule, now)


def prune_command(settings: Settings, *, dry_run: bool = False) -> int:
    """``haven prune``: apply every rule now and print one JSON object, the count of each rule under
    ``deleted`` (``would_delete`` with ``dry_run``)."""
    counts = asyncio.run(_prune_once(settings, dry_run))
    print(json.dumps({"dry_run": dry_run, "would_delete" if dry_run else "deleted": counts}, indent=2))
    return 0


async def _prune_once(settings: Settings, dry_run: bool) -> dict[str, int]:
    database = Database(create_engine(settings))
    try:
        return await prune(database, utcnow(), dry_run=dry_run)
    finally:
        await database.close()
