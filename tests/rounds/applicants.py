"""People in the pool for the rounds tests: an account with a confirmed address and the persona's
profile, changed where a test needs it, filled in and submitted through the profile service at a
chosen moment."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from bench.rounds import persona_answers
from haven.accounts.models import Account
from haven.profiles.models import Profile
from haven.services import Services
from haven.web.clock import OTTAWA
from haven.web.security import new_token


async def applicant(
    services: Services,
    email: str,
    at: dt.datetime,
    *,
    dob: str = "1996-11-30",
    language: str = "en",
    submit: bool = True,
    **changes: dict[str, Any],
) -> Profile:
    """The persona born on ``dob`` (429 points on 2026-11-27 for 1996-11-30), with ``changes`` to
    her sections, submitted at ``at`` (or left a complete draft)."""
    answers = persona_answers(dob)
    for section, values in changes.items():
        answers[section] = {**answers.get(section, {}), **values}
    account_id = uuid.uuid4()
    async with services.database.transaction() as session:
        session.add(
            Account(
                id=account_id,
                email=email,
                password_hash="-",
                language=language,
                created_at=at,
                email_verified_at=at,
                password_changed_at=at,
            )
        )
    profiles = services.profiles
    profile = await profiles.start(account_id, new_token(), now=at)
    for section in [*answers]:
        if section.startswith("_"):
            continue
        await profiles.save(account_id, profile.id, section, answers[section], complete=True, now=at)
    if not submit:
        return await profiles.get(account_id, profile.id)
    return await profiles.submit(
        account_id,
        profile.id,
        new_token(),
        declared=True,
        email_confirmed=True,
        today=at.astimezone(OTTAWA).date(),
        now=at,
    )
