"""Writing a profile's place in the pool, inside the caller's transaction: put on submission, on an
edit of a submitted profile and on a declined invitation; removed on invitation, withdrawal and
expiry. The facts come from ``haven.rounds.pool``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, delete, insert, update

from haven.profiles.models import Profile
from haven.rounds import pool
from haven.rounds.models import PoolCategory, PoolEntry

ENTRIES: Final = cast(Table, PoolEntry.__table__)
CATEGORIES: Final = cast(Table, PoolCategory.__table__)
PROFILES: Final = cast(Table, Profile.__table__)
POOL_LIFETIME: Final = dt.timedelta(days=365)  # reference §F.3


def row(
    profile_id: uuid.UUID,
    account_id: uuid.UUID,
    number: str,
    submitted_at: dt.datetime,
    facts: pool.Facts,
    day: dt.date,
    valid_until: dt.date,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The pool entry and category rows of one profile, as values to insert."""
    expires_at = submitted_at + POOL_LIFETIME
    entry = {
        "profile_id": profile_id,
        "account_id": account_id,
        "number": number,
        "score": facts.score,
        "submitted_at": submitted_at,
        "expires_at": expires_at,
        "eligible": facts.eligible,
        "fsw": "fsw" in facts.programs,
        "cec": "cec" in facts.programs,
        "fst": "fst" in facts.programs,
        "pnp": "pnp" in facts.programs,
        "rules_version": facts.rules_version,
        "scored_on": day,
        "valid_until": valid_until,
    }
    categories = [
        {
            "profile_id": profile_id,
            "category": key,
            "number": number,
            "score": facts.score,
            "submitted_at": submitted_at,
            "expires_at": expires_at,
        }
        for key in sorted(facts.categories)
    ]
    return entry, categories


def put(
    connection: Connection,
    profile_id: uuid.UUID,
    account_id: uuid.UUID,
    number: str,
    submitted_at: dt.datetime,
    answers: Mapping[str, Any],
    day: dt.date,
) -> pool.Facts:
    """Put (or put again) this submitted profile in the pool, with its facts on ``day``; the profile
    shows the score it is ranked on."""
    facts = pool.facts(answers, day)
    entry, categories = row(
        profile_id, account_id, number, submitted_at, facts, day, pool.valid_until(answers, day, facts)
    )
    remove(connection, profile_id)
    connection.execute(insert(ENTRIES), [entry])
    if categories:
        connection.execute(insert(CATEGORIES), categories)
    connection.execute(
        update(PROFILES)
        .where(PROFILES.c.id == profile_id)
        .values(crs_score=facts.score, rules_version=facts.crs_version)
    )
    return facts


def remove(connection: Connection, profile_id: uuid.UUID) -> None:
    connection.execute(delete(CATEGORIES).where(CATEGORIES.c.profile_id == profile_id))
    connection.execute(delete(ENTRIES).where(ENTRIES.c.profile_id == profile_id))
