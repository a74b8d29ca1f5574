"""Accounts: sign up, verify the email address, sign in and out, reset a forgotten password.

Nothing here tells a stranger whether an address has an account: sign-up and "forgot password" answer
the same either way and say the rest by email. Failed sign-ins are throttled per account and per
address, never locked: a wait grows with the failures and ends by itself, so nobody can lock another
person out, and a correct password after the wait works.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import uuid
from typing import Final, Protocol, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from haven.accounts.models import Account, EmailToken, Throttle, WebSession
from haven.db import Database
from haven.mail.outbox import queue
from haven.settings import Settings
from haven.web.clock import Clock
from haven.web.errors import DomainError
from haven.web.security import new_token, token_hash

EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD: Final = 10
MAX_PASSWORD: Final = 200
SESSION_IDLE: Final = dt.timedelta(minutes=30)
SESSION_MAX: Final = dt.timedelta(hours=12)
VERIFY_FOR: Final = dt.timedelta(days=3)
RESET_FOR: Final = dt.timedelta(hours=1)
# A confirmation link also signs in, if it is followed within this time of being sent, in the browser
# that signed up (see ``Accounts.verify_email``); later or elsewhere it only confirms the address.
SIGN_IN_FOR: Final = dt.timedelta(hours=1)
SEEN_EVERY: Final = dt.timedelta(minutes=1)  # a session's last-seen time is written at most this often
# Sign-in throttles: failures counted over a window; past the allowance, each failure doubles the
# wait (from the base, up to the cap). A success clears the account's count.
WINDOW: Final = dt.timedelta(minutes=15)
ACCOUNT_ALLOWANCE: Final = 5
ADDRESS_ALLOWANCE: Final = 30
BASE_WAIT: Final = dt.timedelta(seconds=15)
MAX_WAIT: Final = dt.timedelta(minutes=15)


class SignInFailed(DomainError):
    """The email address or password is not right."""

    status = 401
    code = "sign_in_failed"


class TooManyAttempts(DomainError):
    """Too many sign-in attempts: wait before trying again."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, seconds: int) -> None:
        super().__init__()
        self.retry_after = max(1, seconds)


class LinkNotValid(DomainError):
    """The link has expired or has already been used."""

    status = 400
    code = "link_not_valid"


class Passwords:
    """argon2id, run in a thread: a hash costs tens of milliseconds of CPU the event loop must not wait on.

    A sign-in for an address with no account verifies against a decoy hash, so it costs one verify,
    as a known address does: the answer takes as long either way. ``prepare`` makes the decoy once,
    in a thread, and start-up awaits it before serving.
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self._decoy: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_kib,
                parallelism=1,
            )
        )

    async def prepare(self) -> None:
        """Hash the decoy (a random secret nobody knows), off the event loop; once is enough."""
        if self._decoy is None:
            self._decoy = await asyncio.to_thread(self.hasher.hash, new_token())

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than today's (it is replaced at the
        next sign-in, when the password is at hand)."""
        try:
            return bool(self.hasher.check_needs_rehash(stored))
        except (InvalidHashError, ValueError):
            return True

    async def verify(self, stored: str | None, password: str) -> bool:
        target = stored or self._decoy
        if target is None:
            # Fail closed: hashing the decoy here, on the loop, is the stall and the timing
            # difference the decoy is there to prevent.
            raise RuntimeError("Passwords.prepare() was not awaited before a sign-in")
        try:
            ok = await asyncio.to_thread(self.hasher.verify, target, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(ok) and stored is not None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    if not email:
        return "empty"
    if len(email) > 254 or not EMAIL.fullmatch(email):
        return "invalid"
    return None


def password_problem(password: str) -> str | None:
    if not password:
        return "empty"
    if len(password) < MIN_PASSWORD:
        return "short"
    if len(password) > MAX_PASSWORD:
        return "long"
    return None


def _binding(token: str, browser: str) -> str:
    """What ties a confirmation link to the browser that asked for it: a hash of the link's random
    part with that browser's CSRF token, which never leaves the browser and its cookie."""
    return token_hash(f"{token}:{browser}")[:32]


def _same_browser(token: str, browser: str | None) -> bool:
    head, _, binding = token.partition(".")
    return bool(browser and binding) and hmac.compare_digest(binding, _binding(head, browser or ""))


async def _issue_token(
    session: AsyncSession,
    account: Account,
    purpose: str,
    now: dt.datetime,
    lifetime: dt.timedelta,
    browser: str | None = None,
) -> str:
    token = new_token()
    if browser:
        token = f"{token}.{_binding(token, browser)}"
    session.add(
        EmailToken(
            token_hash=token_hash(token),
            account_id=account.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


class Accounts:
    """The accounts on one database; every moment they record or compare comes from ``clock``."""

    def __init__(self, database: Database, passwords: Passwords, letters: MailWriter, clock: Clock) -> None:
        self.database = database
        self.passwords = passwords
        self.letters = letters
        self.clock = clock

    async def sign_up(self, email: str, password: str, lang: str, *, browser: str | None = None) -> None:
        """A new account, and the email that confirms its address; ``browser`` (the CSRF token of the
        browser signing up) lets the link sign in there (see ``verify_email``)."""
        email = normalise_email(email)
        password_hash = await self.passwords.hash(password)  # before the transaction: no lock held
        async with self.database.transaction() as session:
            existing = await session.scalar(select(Account).where(Account.email == email))
            if existing is not None:
                subject, body = self.letters.already_registered(existing.language)
                queue(session, email, subject, body, language=existing.language)
                return
            now = self.clock.now()
            account = Account(
                id=uuid.uuid4(),
                email=email,
                password_hash=password_hash,
                language=lang,
                created_at=now,
                password_changed_at=now,
            )
            session.add(account)
            await session.flush()
            token = await _issue_token(session, account, "verify", now, VERIFY_FOR, browser)
            subject, body = self.letters.verify(lang, token)
            queue(session, email, subject, body, language=lang)

    async def resend_verification(self, account_id: uuid.UUID, *, browser: str | None = None) -> None:
        async with self.database.transaction() as session:
            account = await session.get(Account, account_id)
            if account is None or account.email_verified_at is not None:
                return
            now = self.clock.now()
            token = await _issue_token(session, account, "verify", now, VERIFY_FOR, browser)
            subject, body = self.letters.verify(account.language, token)
            queue(session, account.email, subject, body, language=account.language)

    async def verify_email(
        self, token: str, *, browser: str | None = None, replacing: str | None = None
    ) -> tuple[Account, str | None]:
        """Confirm the address of the link's account; the link is used up. It signs in too (the
        new session's id comes back, else None) when it is followed within ``SIGN_IN_FOR`` of being
        sent, in the browser that asked for it (``browser``, its CSRF token): that person has just
        typed the password, and the link proves they read the mailbox, which could reset it anyway.
        In another browser the link only confirms: someone who signed up with another person's
        address, a password of their choosing, never gets that person signed in to their account.
        ``replacing``, the session id the browser held before, ends when a new one starts."""
        async with self.database.transaction() as session:
            record = await self._usable_token(session, token, "verify")
            account = await session.get(Account, record.account_id)
            assert account is not None  # tokens go with their account (ON DELETE CASCADE)
            now = self.clock.now()
            record.used_at = now
            if account.email_verified_at is None:
                account.email_verified_at = now
            if not _same_browser(token, browser) or now - record.created_at > SIGN_IN_FOR:
                return account, None
            if replacing is not None:
                await session.execute(delete(WebSession).where(WebSession.id_hash == token_hash(replacing)))
            return account, await self._new_session(session, account.id)

    async def sign_in(
        self, email: str, password: str, address: str, *, replacing: str | None = None
    ) -> tuple[Account, str]:
        """The account and a new session id (a new one at every sign-in: no session fixation).
        ``replacing``, the session id the browser held before, ends with the sign-in."""
        email = normalise_email(email)
        keys = (f"account:{email}", f"address:{address}")
        async with self.database.transaction() as session:
            await self._check_throttles(session, keys)
            account = await session.scalar(select(Account).where(Account.email == email))
        ok = await self.passwords.verify(account.password_hash if account else None, password)
        if not ok or account is None:
            async with self.database.transaction() as session:
                await self._record_failure(session, keys[0], ACCOUNT_ALLOWANCE)
                await self._record_failure(session, keys[1], ADDRESS_ALLOWANCE)
            raise SignInFailed  # after the commit: the failure must be counted
        # Made with older argon2 parameters: hashed again now, while the password is at hand.
        stored = account.password_hash
        fresh = await self.passwords.hash(password) if self.passwords.needs_rehash(stored) else None
        async with self.database.transaction() as session:
            await session.execute(delete(Throttle).where(Throttle.key == keys[0]))
            if fresh is not None:  # unless the password changed meanwhile (a reset): that one stands
                await session.execute(
                    update(Account)
                    .where(Account.id == account.id, Account.password_hash == stored)
                    .values(password_hash=fresh)
                )
                account.password_hash = fresh
            if replacing is not None:
                await session.execute(delete(WebSession).where(WebSession.id_hash == token_hash(replacing)))
            session_id = await self._new_session(session, account.id)
        return account, session_id

    async def _check_throttles(self, session: AsyncSession, keys: tuple[str, ...]) -> None:
        await check_throttles(session, self.clock.now(), keys)

    async def _record_failure(self, session: AsyncSession, key: str, allowance: int) -> None:
        await record_failure(session, self.clock.now(), key, allowance)

    async def _new_session(self, session: AsyncSession, account_id: uuid.UUID) -> str:
        session_id = new_token()
        now = self.clock.now()
        session.add(
            WebSession(
                id_hash=token_hash(session_id),
                account_id=account_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_MAX,
            )
        )
        return session_id

    async def account_for_session(self, session_id: str) -> Account | None:
        """The signed-in account, or None for an unknown, idle or expired session. One read (no
        write lock); a write only when the session has ended, or to note it was seen (once a minute
        at most)."""
        now, id_hash = self.clock.now(), token_hash(session_id)
        row = await self.database.read(
            lambda connection: connection.execute(_SESSION_READ, {"id_hash": id_hash}).first()
        )
        if row is None:
            return None
        if row.expires_at <= now or now - row.last_seen_at > SESSION_IDLE:
            await self.database.write(lambda connection: _end_session(connection, id_hash))
            return None
        if now - row.last_seen_at > SEEN_EVERY:
            await self.database.write(lambda connection: _seen(connection, id_hash, now))
        return Account(**{name: getattr(row, name) for name in _ACCOUNT_COLUMNS})

    async def sign_out(self, session_id: str) -> None:
        async with self.database.transaction() as session:
            await session.execute(delete(WebSession).where(WebSession.id_hash == token_hash(session_id)))

    async def request_reset(self, email: str, lang: str) -> None:
        async with self.database.transaction() as session:
            account = await session.scalar(select(Account).where(Account.email == normalise_email(email)))
            if account is None:
                return  # the page says the same either way
            token = await _issue_token(session, account, "reset", self.clock.now(), RESET_FOR)
            subject, body = self.letters.reset(account.language, token)
            queue(session, account.email, subject, body, language=account.language)

    async def check_reset_token(self, token: str) -> None:
        async with self.database.transaction() as session:
            await self._usable_token(session, token, "reset")

    async def reset_password(self, token: str, password: str) -> None:
        password_hash = await self.passwords.hash(password)
        async with self.database.transaction() as session:
            record = await self._usable_token(session, token, "reset")
            account = await session.get(Account, record.account_id)
            assert account is not None
            now = self.clock.now()
            record.used_at = now
            account.password_hash = password_hash
            account.password_changed_at = now
            # Whoever knew the old password is signed out everywhere; the link proved the address.
            account.email_verified_at = account.email_verified_at or now
            await session.execute(delete(WebSession).where(WebSession.account_id == account.id))
            await session.execute(delete(Throttle).where(Throttle.key == f"account:{account.email}"))

    async def _usable_token(self, session: AsyncSession, token: str, purpose: str) -> EmailToken:
        record = await session.get(EmailToken, token_hash(token), with_for_update=True)
        if (
            record is None
            or record.purpose != purpose
            or record.used_at is not None
            or record.expires_at <= self.clock.now()
        ):
            raise LinkNotValid
        return record


_ACCOUNTS: Final = cast(Table, Account.__table__)
_SESSIONS: Final = cast(Table, WebSession.__table__)
_ACCOUNT_COLUMNS: Final = tuple(column.key for column in _ACCOUNTS.c)
_SESSION_READ: Final = (
    select(_SESSIONS.c.expires_at, _SESSIONS.c.last_seen_at, *_ACCOUNTS.c)
    .join_from(_SESSIONS, _ACCOUNTS, _ACCOUNTS.c.id == _SESSIONS.c.account_id)
    .where(_SESSIONS.c.id_hash == bindparam("id_hash"))
)


def _end_session(connection: Connection, id_hash: str) -> None:
    connection.execute(delete(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash))


def _seen(connection: Connection, id_hash: str, now: dt.datetime) -> None:
    connection.execute(
        update(_SESSIONS)
        .where(_SESSIONS.c.id_hash == id_hash, _SESSIONS.c.last_seen_at < now)
        .values(last_seen_at=now)
    )


async def check_throttles(session: AsyncSession, now: dt.datetime, keys: tuple[str, ...]) -> None:
    """Refuse (``TooManyAttempts``) while any of ``keys`` is blocked: the sign-in limits, shared by
    applicants' and operators' sign-ins."""
    rows = (await session.scalars(select(Throttle).where(Throttle.key.in_(keys)))).all()
    waits = [row.blocked_until - now for row in rows if row.blocked_until and row.blocked_until > now]
    if waits:
        raise TooManyAttempts(int(max(waits).total_seconds()) + 1)


async def record_failure(session: AsyncSession, now: dt.datetime, key: str, allowance: int) -> None:
    """Count a failed attempt for ``key`` in its window; past ``allowance``, block it for a time
    that doubles with each further failure (at most ``MAX_WAIT``)."""
    row = await session.get(Throttle, key, with_for_update=True)
    if row is None or now - row.window_start > WINDOW:
        if row is None:
            row = Throttle(key=key, failures=0, window_start=now)
            session.add(row)
        row.failures, row.window_start, row.blocked_until = 0, now, None
    row.failures += 1
    if row.failures > allowance:
        wait = min(MAX_WAIT, BASE_WAIT * 2 ** (row.failures - allowance - 1))
        row.blocked_until = now + wait


class MailWriter(Protocol):
    """Writes account emails (subject, body) in the account's language; the web layer knows the
    words and the site's address."""

    def verify(self, lang: str, token: str) -> tuple[str, str]: ...

    def already_registered(self, lang: str) -> tuple[str, str]: ...

    def reset(self, lang: str, token: str) -> tuple[str, str]: ...
