"""After a surge: every submission that got a confirmation is stored, exactly once, as submitted,
under the account that submitted it. An acknowledged submission that is missing is the one failure
Haven must never have."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from haven.accounts.models import Account
from haven.db import Database
from haven.profiles.models import Profile

SUBMITTED_STATES = ("submitted", "invited")  # an invitation comes after a submission


async def check(database: Database, confirmations: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``confirmations``: (profile number, email) as the confirmation pages showed them."""
    numbers = sorted({number for number, _ in confirmations})
    rows: list[tuple[str | None, str, str]] = []
    async with database.transaction() as session:
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            result = await session.execute(
                select(Profile.number, Profile.state, Account.email)
                .join(Account, Account.id == Profile.account_id)
                .where(Profile.number.in_(chunk))
            )
            rows.extend((number, state, email) for number, state, email in result.all())
    stored = Counter(number for number, _, _ in rows)
    owner = {number: email for number, _, email in rows}
    state = {number: profile_state for number, profile_state, _ in rows}
    missing = [number for number in numbers if stored[number] == 0]
    duplicated = [number for number in numbers if stored[number] > 1]
    confirmed_twice = [number for number, count in Counter(n for n, _ in confirmations).items() if count > 1]
    wrong = [
        number
        for number, email in confirmations
        if stored[number] == 1 and (owner[number] != email.lower() or state[number] not in SUBMITTED_STATES)
    ]
    return {
        "confirmed": len(confirmations),
        "stored_once": sum(1 for number in numbers if stored[number] == 1),
        "missing": missing,
        "duplicated": duplicated,
        "confirmed_twice": confirmed_twice,
        "wrong_owner_or_state": wrong,
        "ok": not (missing or duplicated or confirmed_twice or wrong),
    }
