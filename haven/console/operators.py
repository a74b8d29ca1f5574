"""Operators: accounts of their own (made with ``haven operator add``), a password (argon2id, the
same hasher as applicants') and a time-based one-time code (TOTP, RFC 6238) to sign in, sessions
that no applicant cookie can open, and the audit log of what they did.

A sign-in needs the name, the password and a current code, checked together so that a failure
never says which was wrong; each code is accepted once. Failures count against the name and the
address as applicants' do (``haven.accounts.service``: blocked for a time that doubles).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final, cast

import pyotp
from sqlalchemy import Row, Table, delete, select, update

from haven.accounts.service import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    Passwords,
    SignInFailed,
    check_throttles,
    record_failure,
)
from haven.console.models import AuditEntry, Operator, OperatorSession
from haven.db import Database, newest
from haven.web.clock import Clock
from haven.web.security import Sealer, new_token, token_hash

SESSION_IDLE: Final = dt.timedelta(minutes=30)
SESSION_MAX: Final = dt.timedelta(hours=8)  # a shift
SEEN_EVERY: Final = dt.timedelta(minutes=1)
NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
NAME_ALLOWANCE: Final = 5  # failures in the window before a name is blocked
ADDRESS_ALLOWANCE: Final = 20
ISSUER: Final = "Haven"
TOTP_STEP: Final = 30  # seconds
# A code from the step before or after the current one is accepted too: a phone's clock a little off.
TOTP_DRIFT: Final = 1
# Operators' password hashes at once, per worker: sign-ins bypass the waiting room (operators must
# get in at the busiest moment), so a flood of wrong passwords must not take the worker's cores.
HASH_SLOTS: Final = 2


class OperatorError(ValueError):
    """A value ``haven operator`` refuses, with the reason."""


class ConsoleBusy(Exception):
    """Too many operator sign-ins at once on this worker: answered 503, try again in a moment."""


@dataclass(frozen=True)
class SignedIn:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class NewOperator:
    name: str
    secret: str  # base32, for an authenticator app; shown once

    @property
    def uri(self) -> str:
        """The ``otpauth://`` address an authenticator app reads (as a QR code, or typed)."""
        return pyotp.TOTP(self.secret).provisioning_uri(name=self.name, issuer_name=ISSUER)


def name_problem(name: str) -> str | None:
    if not NAME.fullmatch(name):
        return (
            "a name is 2 to 64 lowercase letters, digits, dots, dashes or underscores, "
            "first a letter or digit"
        )
    return None


def current_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP


def code_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The step whose code ``code`` is (within the drift allowed), or None."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = current_step(now)
    for candidate in range(step - TOTP_DRIFT, step + TOTP_DRIFT + 1):
        if totp.verify(code, for_time=candidate * TOTP_STEP, valid_window=0):
            return candidate
    return None


def as_json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class Operators:
    """Operators' accounts, sessions and audit log, on one database."""

    def __init__(self, database: Database, passwords: Passwords, sealer: Sealer, clock: Clock) -> None:
        self.database = database
        self.passwords = passwords
        self.sealer = sealer
        self.clock = clock
        self._hashing = asyncio.Semaphore(HASH_SLOTS)
        self._waiting = 0

    # Accounts (the command line) --------------------------------------------------------------------

    async def add(self, name: str, password: str) -> NewOperator:
        """A new operator with a new TOTP secret (returned, to be shown once)."""
        name = name.strip().lower()
        problem = name_problem(name)
        if problem:
            raise OperatorError(problem)
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise OperatorError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        secret = pyotp.random_base32()
        hashed = await self.passwords.hash(password)
        async with self.database.transaction() as session:
            if await session.scalar(select(Operator.id).where(Operator.name == name)) is not None:
                raise OperatorError(f"there is already an operator named {name}")
            session.add(
                Operator(
                    name=name,
                    password_hash=hashed,
                    totp_secret=self.sealer.seal(secret),
                    totp_step=0,
                    created_at=self.clock.now(),
                )
            )
            self._audit(session, name, "operator-added", None, {"name": name}, "command line")
        return NewOperator(name, secret)

    async def disable(self, name: str) -> None:
        """No more sign-ins for ``name``, and its sessions end now."""
        name = name.strip().lower()
        async with self.database.transaction() as session:
            operator = await session.scalar(select(Operator).where(Operator.name == name).with_for_update())
            if operator is None:
                raise OperatorError(f"there is no operator named {name}")
            if operator.disabled_at is None:
                operator.disabled_at = self.clock.now()
            await session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator.id))
            self._audit(
                session, name, "operator-disabled", {"enabled": True}, {"enabled": False}, "command line"
            )

    async def listing(self) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
        query = select(Operator.name, Operator.created_at, Operator.disabled_at).order_by(Operator.name)
        rows = await self.database.read(lambda connection: connection.execute(query).all())
        return [(row.name, row.created_at, row.disabled_at) for row in rows]

    # Signing in -------------------------------------------------------------------------------------

    async def sign_in(self, name: str, password: str, code: str, address: str) -> tuple[SignedIn, str]:
        """The operator and a new session id; ``SignInFailed`` (not saying which part was wrong),
        ``TooManyAttempts`` while blocked, ``ConsoleBusy`` when this worker hashes enough already."""
        name = name.strip().lower()[:64]
        keys = (f"operator:{name}", f"operator-address:{address}")
        now = self.clock.now()
        async with self.database.transaction() as session:
            await check_throttles(session, now, keys)
            operator = await session.scalar(select(Operator).where(Operator.name == name))
        if self._waiting >= HASH_SLOTS * 4:
            raise ConsoleBusy
        self._waiting += 1
        try:
            async with self._hashing:
                ok = await self.passwords.verify(operator.password_hash if operator else None, password)
        finally:
            self._waiting -= 1
        step = None
        if ok and operator is not None and operator.disabled_at is None:
            step = code_step(self.sealer.open(operator.totp_secret), code, now)
        async with self.database.transaction() as session:
            accepted = 0
            if step is not None and operator is not None:
                # Accepted once: the step moves forward in the same statement that checks it.
                result = await session.execute(
                    update(Operator)
                    .where(
                        Operator.id == operator.id, Operator.totp_step < step, Operator.disabled_at.is_(None)
                    )
                    .values(totp_step=step)
                )
                accepted = result.rowcount or 0  # type: ignore[attr-defined]  # a CursorResult
            if not accepted or operator is None:
                await record_failure(session, now, keys[0], NAME_ALLOWANCE)
                await record_failure(session, now, keys[1], ADDRESS_ALLOWANCE)
                self._audit(session, name, "sign-in-failed", None, None, address)
                failed = True
            else:
                session_id = new_token()
                session.add(
                    OperatorSession(
                        id_hash=token_hash(session_id),
                        operator_id=operator.id,
                        created_at=now,
                        last_seen_at=now,
                        expires_at=now + SESSION_MAX,
                    )
                )
                self._audit(session, operator.name, "signed-in", None, None, address)
                failed = False
        if failed or operator is None:
            raise SignInFailed  # after the commit: the failure is counted
        return SignedIn(operator.id, operator.name), session_id

    async def operator_for_session(self, session_id: str) -> SignedIn | None:
        """The signed-in operator, or None for an unknown, idle, expired or disabled one's session.
        One read (no write lock, as an applicant's session); a write only when the session has
        ended, or to note it was seen (once a minute at most)."""
        now, id_hash = self.clock.now(), token_hash(session_id)
        query = (
            select(
                Operator.id,
                Operator.name,
                Operator.disabled_at,
                OperatorSession.expires_at,
                OperatorSession.last_seen_at,
            )
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where(OperatorSession.id_hash == id_hash)
        )
        row = await self.database.read(lambda connection: connection.execute(query).first())
        if row is None:
            return None
        ours = OperatorSession.id_hash == id_hash
        if row.disabled_at is not None or row.expires_at <= now or now - row.last_seen_at > SESSION_IDLE:
            await self.database.write(
                lambda connection: connection.execute(delete(OperatorSession).where(ours))
            )
            return None
        if now - row.last_seen_at > SEEN_EVERY:
            seen = (
                update(OperatorSession)
                .where(ours, OperatorSession.last_seen_at < now)
                .values(last_seen_at=now)
            )
            await self.database.write(lambda connection: connection.execute(seen))
        return SignedIn(row.id, row.name)

    async def sign_out(self, session_id: str, operator: SignedIn, address: str) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                delete(OperatorSession).where(OperatorSession.id_hash == token_hash(session_id))
            )
            self._audit(session, operator.name, "signed-out", None, None, address)

    # The audit log ----------------------------------------------------------------------------------

    def _audit(self, session: Any, operator: str, action: str, before: Any, after: Any, address: str) -> None:
        session.add(
            AuditEntry(
                at=self.clock.now(),
                operator=operator[:64],
                action=action,
                before=as_json(before),
                after=as_json(after),
                address=address[:64],
            )
        )

    async def record(self, operator: SignedIn, action: str, before: Any, after: Any, address: str) -> None:
        """Write one entry of the audit log in a transaction of its own."""
        async with self.database.transaction() as session:
            self._audit(session, operator.name, action, before, after, address)

    async def audit_hook(
        self, who: str, action: str, before: dict[str, Any], after: dict[str, Any], address: str
    ) -> None:
        """The room's JSON API's record of a change (``haven.shield.admin.Audit``): by the bearer of
        the operators' token, who has no name of their own."""
        async with self.database.transaction() as session:
            self._audit(session, f"({who})", action, before, after, address)

    async def entries(self, *, before_id: int | None = None, limit: int = 50) -> tuple[list[Row[Any]], int]:
        """The newest entries first (older than ``before_id`` when given), and how many there are."""
        return await self.database.read(lambda connection: newest(connection, AUDIT, before_id, limit))


AUDIT: Final = cast(Table, AuditEntry.__table__)
