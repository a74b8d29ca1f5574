"""The durability check after a surge: it finds every confirmed submission exactly once, and it
catches a planted missing record, a duplicate, and a submission stored under someone else."""

from __future__ import annotations

import uuid

from haven import settings as settings_module
from haven.accounts.models import Account
from haven.db import Database, create_engine, utcnow
from haven.profiles.models import Profile
from haven.surge.durability import check


async def store(database: Database, email: str, number: str | None, state: str = "submitted") -> None:
    now = utcnow()
    async with database.transaction() as session:
        account = Account(
            id=uuid.uuid4(),
            email=email,
            password_hash="x",
            language="en",
            created_at=now,
            password_changed_at=now,
        )
        session.add(account)
        await session.flush()
        session.add(
            Profile(
                account_id=account.id,
                state=state,
                number=number,
                answers={},
                create_key=uuid.uuid4().hex,
                created_at=now,
                updated_at=now,
            )
        )


async def test_the_durability_check_finds_what_was_confirmed_and_catches_what_was_not(
    db_settings: settings_module.Settings,
) -> None:
    engine = create_engine(db_settings)
    database = Database(engine)
    try:
        await store(database, "ada@example.org", "HV-AAAA-0001")
        await store(database, "bo@example.org", "HV-AAAA-0002")
        await store(database, "cy@example.org", "HV-AAAA-0003", state="draft")
        await store(database, "di@example.org", None, state="draft")

        good = await check(
            database, [("HV-AAAA-0001", "ada@example.org"), ("HV-AAAA-0002", "bo@example.org")]
        )
        assert good["ok"] is True
        assert (good["confirmed"], good["stored_once"]) == (2, 2)

        planted = await check(
            database,
            [
                ("HV-AAAA-0001", "ada@example.org"),
                ("HV-ZZZZ-9999", "eve@example.org"),  # confirmed, never stored: lost
            ],
        )
        assert planted["ok"] is False
        assert planted["missing"] == ["HV-ZZZZ-9999"]

        twice = await check(database, [("HV-AAAA-0001", "ada@example.org")] * 2)
        assert twice["ok"] is False
        assert twice["confirmed_twice"] == ["HV-AAAA-0001"]

        wrong = await check(
            database, [("HV-AAAA-0002", "ada@example.org"), ("HV-AAAA-0003", "cy@example.org")]
        )
        assert wrong["ok"] is False
        assert wrong["wrong_owner_or_state"] == ["HV-AAAA-0002", "HV-AAAA-0003"]
    finally:
        await engine.dispose()
