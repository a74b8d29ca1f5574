"""A crowd of applicants, each with a confirmed address, a signed-in session and a complete draft,
ready to submit: for the crash tests and the submission benchmark.

The first applicant's draft is filled in through the profile service; the rest are copies of it
written in large transactions, so that thousands are ready in seconds."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from haven import settings as settings_module
from haven.accounts.models import Account, WebSession
from haven.accounts.service import Passwords
from haven.db import Database, create_engine, utcnow
from haven.profiles.models import Profile
from haven.profiles.sections import BY_KEY, job_reading
from haven.profiles.service import Profiles
from haven.shield.tokens import Pass, Signer
from haven.surge.persona import ANSWERS, JOB
from haven.web.clock import Clock, SystemClock
from haven.web.cookies import CSRF_COOKIE, HOLDER_COOKIE, PASS_COOKIE, SESSION_COOKIE
from haven.web.security import new_token, sign, token_hash

PASSWORD = "correct horse battery"
BATCH = 500


@dataclass
class Submitter:
    account_id: uuid.UUID
    email: str
    profile_id: uuid.UUID
    cookies: dict[str, str]
    csrf: str
    submit_key: str
    confirmed: str | None = None
    attempts: int = 0

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


async def fill_through_the_service(profiles: Profiles, account_id: uuid.UUID, clock: Clock) -> Profile:
    """The persona's complete draft, read and saved as the pages would on the clock's day."""
    today, now = clock.today(), clock.now()
    profile = await profiles.start(account_id, new_token(), now=now)
    for key, answers in ANSWERS.items():
        reading = BY_KEY[key].read(answers, {}, lambda text: text, today)
        assert not reading.errors, (key, reading.errors)
        kept = dict(reading.answers)
        passport = kept.pop("passport_number", None)
        await profiles.save(
            account_id, profile.id, key, kept, complete=True, now=now, passport_number=passport
        )
    job = job_reading(JOB, lambda text: text, today)
    await profiles.save(account_id, profile.id, "work", {"jobs": [job.answers]}, complete=True, now=now)
    return await profiles.get(account_id, profile.id)


async def prepare(
    settings: settings_module.Settings, count: int, prefix: str = "submitter"
) -> list[Submitter]:
    """``count`` applicants ready to submit, on the database of ``settings`` (already migrated)."""
    engine = create_engine(settings)
    database = Database(engine)
    profiles = Profiles(database, settings)
    password_hash = Passwords.from_settings(settings).hasher.hash(PASSWORD)
    submitters: list[Submitter] = []
    passes = Signer([settings.secret_key])
    template: Profile | None = None
    try:
        for start in range(0, count, BATCH):
            now = utcnow()
            async with database.transaction() as session:
                rows: list[Account | WebSession | Profile] = []
                for number in range(start, min(count, start + BATCH)):
                    session_id, csrf, account_id = new_token(), new_token(), uuid.uuid4()
                    submitter = Submitter(
                        account_id=account_id,
                        email=f"{prefix}{number}@example.org",
                        profile_id=uuid.uuid4(),
                        cookies={
                            SESSION_COOKIE: sign(session_id, settings.secret_key, SESSION_COOKIE),
                            CSRF_COOKIE: sign(csrf, settings.secret_key, CSRF_COOKIE),
                            # Signed in, as the sign-in page leaves a browser: the holder too.
                            HOLDER_COOKIE: sign(str(account_id), settings.secret_key, HOLDER_COOKIE),
                            # They filled in their profiles on the site, so the waiting room let
                            # them in: they hold a pass, as such an applicant would.
                            PASS_COOKIE: passes.pass_(
                                Pass(settings.room, new_token()[:12], time.time(), time.time() + 3 * 3600)
                            ),
                        },
                        csrf=csrf,
                        submit_key=new_token(),
                    )
                    submitters.append(submitter)
                    rows.append(
                        Account(
                            id=submitter.account_id,
                            email=submitter.email,
                            password_hash=password_hash,
                            language="en",
                            created_at=now,
                            email_verified_at=now,
                            password_changed_at=now,
                        )
                    )
                    rows.append(
                        WebSession(
                            id_hash=token_hash(session_id),
                            account_id=submitter.account_id,
                            created_at=now,
                            last_seen_at=now,
                            expires_at=now + dt.timedelta(hours=12),
                        )
                    )
                session.add_all([row for row in rows if isinstance(row, Account)])
                await session.flush()
                session.add_all([row for row in rows if isinstance(row, WebSession)])
                if template is not None:
                    session.add_all(
                        _copy(template, s.account_id, s.profile_id, now) for s in submitters[start:]
                    )
            if template is None:  # the first applicant fills in their draft for real
                first = submitters[0]
                # The servers these applicants meet run on the system clock.
                template = await fill_through_the_service(profiles, first.account_id, SystemClock())
                first.profile_id = template.id
                async with database.transaction() as session:
                    session.add_all(
                        _copy(template, s.account_id, s.profile_id, now) for s in submitters[start + 1 :]
                    )
    finally:
        await engine.dispose()
    return submitters


def _copy(template: Profile, account_id: uuid.UUID, profile_id: uuid.UUID, now: dt.datetime) -> Profile:
    return Profile(
        id=profile_id,
        account_id=account_id,
        state="draft",
        answers=template.answers,
        passport_number=template.passport_number,
        create_key=new_token(),
        created_at=now,
        updated_at=now,
    )
