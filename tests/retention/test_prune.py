"""The sweep as a whole, on SQLite and on PostgreSQL: counts and dry runs, batches, ``haven prune``,
the server's hourly run, and pruning while people save drafts and sign in."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text, update

from haven import services as services_module
from haven import settings as settings_module
from haven.accounts.models import WebSession
from haven.app import create_app
from haven.cli import main
from haven.db import Database
from haven.profiles.models import Profile
from haven.profiles.service import ProfileNotFound
from haven.retention import BATCH, RULES, choose, delete_chosen, prune
from haven.services import Services
from haven.web.clock import FixedClock
from tests.accounts.factories import PASSWORD
from tests.conftest import TEST_SECRET, make_settings
from tests.databases import empty
from tests.retention.conftest import NOW
from tests.retention.making import confirmed, draft, rows, save, signed_in, signed_up
from tests.visitor import started

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
DRAFTS = next(rule for rule in RULES if rule.name == "drafts")
SESSIONS = next(rule for rule in RULES if rule.name == "sessions")


async def _old_drafts(services: Services, clock: FixedClock, count: int, prefix: str) -> list[Any]:
    """``count`` drafts, each of its own account, last saved 61 days ago."""
    made = []
    for index in range(count):
        account = await confirmed(services, clock, f"{prefix}{index}@example.org", NOW - 100 * DAY)
        made.append((account.id, await draft(services, account.id, NOW - 61 * DAY)))
    return made


async def test_a_dry_run_counts_what_a_prune_then_deletes(services: Services, clock: FixedClock) -> None:
    await _old_drafts(services, clock, 2, "old")
    await confirmed(services, clock, "ana@example.org", NOW - 100 * DAY)
    for hours in (13, 14, 15):
        await signed_in(services, clock, "ana@example.org", NOW - hours * HOUR)
    await signed_up(services, clock, "late@example.org", NOW - 4 * DAY)

    expected = dict.fromkeys((rule.name for rule in RULES), 0) | {
        "sessions": 3,
        "email_tokens": 1,
        "drafts": 2,
    }
    assert await prune(services.database, NOW, dry_run=True) == expected
    assert await prune(services.database, NOW, dry_run=True) == expected  # nothing was deleted
    assert await rows(services, WebSession) == 3
    assert await prune(services.database, NOW) == expected
    assert set((await prune(services.database, NOW)).values()) == {0}


async def test_a_rule_deletes_in_batches_each_its_own_transaction(
    services: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await confirmed(services, clock, "ana@example.org", NOW - 100 * DAY)
    for minutes in range(10):
        await signed_in(
            services, clock, "ana@example.org", NOW - 13 * HOUR - minutes * dt.timedelta(minutes=1)
        )
    write = services.database.write
    batches: list[int] = []

    async def counted(work: Callable[[Connection], Any], *, idempotent: bool = False) -> Any:
        result = await write(work, idempotent=idempotent)
        batches.append(result[1])
        return result

    monkeypatch.setattr(services.database, "write", counted)
    assert (await prune(services.database, NOW, batch=3, rules=[SESSIONS]))["sessions"] == 10
    assert batches == [3, 3, 3, 1]
    assert BATCH == 500


async def test_a_row_changed_after_it_was_chosen_is_not_deleted(
    services: Services, clock: FixedClock
) -> None:
    """The DELETE checks the rule again: a draft saved between the choice and the delete (by a worker
    whose clock is behind, say) keeps its save."""
    (first, second) = await _old_drafts(services, clock, 2, "old")

    def work(connection: Connection) -> tuple[list[Any], int]:
        keys = choose(connection, DRAFTS, NOW, 10)
        connection.execute(update(Profile).where(Profile.id == first[1]).values(updated_at=NOW))
        return keys, delete_chosen(connection, DRAFTS, NOW, keys)

    keys, deleted = await services.database.write(work)
    assert sorted(keys) == sorted([first[1], second[1]])
    assert deleted == 1
    assert await rows(services, Profile, Profile.id == first[1]) == 1
    assert await rows(services, Profile, Profile.id == second[1]) == 0


async def test_pruning_while_people_save_and_sign_in_loses_nothing(
    services: Services, clock: FixedClock
) -> None:
    # Drafts due for deletion that a worker whose clock is two days behind saves meanwhile: each
    # save either lands first (the draft stays, with it) or finds the draft gone, and says so. Made
    # first, they are among the first rows the sweep comes to.
    racing = await _old_drafts(services, clock, 12, "racing")
    old = await _old_drafts(services, clock, 40, "old")
    await confirmed(services, clock, "ended@example.org", NOW - 100 * DAY)
    for minutes in range(30):
        await signed_in(
            services, clock, "ended@example.org", NOW - 13 * HOUR - minutes * dt.timedelta(minutes=1)
        )
    writers = []
    for index in range(4):
        account = await confirmed(services, clock, f"writer{index}@example.org", NOW - DAY)
        writers.append((account.id, await draft(services, account.id, NOW - HOUR)))
    for index in range(2):
        await confirmed(services, clock, f"reader{index}@example.org", NOW - DAY)
    clock.moment = NOW

    async def keep_saving(account_id: uuid.UUID, profile_id: uuid.UUID) -> None:
        for step in range(12):
            await save(services, account_id, profile_id, NOW, city=f"city {step}")

    async def keep_signing_in(email: str) -> list[str]:
        return [(await services.accounts.sign_in(email, PASSWORD, "192.0.2.20"))[1] for _ in range(6)]

    async def race(account_id: uuid.UUID, profile_id: uuid.UUID) -> bool:
        try:
            await save(services, account_id, profile_id, NOW - 2 * DAY, city="saved late")
        except ProfileNotFound:
            return False
        return True

    # Small batches, drafts first: the sweep comes to the racing drafts while their saves are under way.
    pruning = asyncio.create_task(prune(services.database, NOW, batch=5, rules=[DRAFTS, SESSIONS]))
    saving = [asyncio.create_task(keep_saving(*writer)) for writer in writers]
    signing = [asyncio.create_task(keep_signing_in(f"reader{index}@example.org")) for index in range(2)]
    racers = [asyncio.create_task(race(*pair)) for pair in racing]
    await asyncio.gather(pruning, *saving, *signing, *racers)  # any error fails the test
    counts = pruning.result()
    saved = [racer.result() for racer in racers]

    for account_id, profile_id in writers:
        kept = await services.profiles.get(account_id, profile_id)
        assert kept.answers["contact"]["city"] == "city 11"
    for session_id in (session_id for task in signing for session_id in task.result()):
        assert await services.accounts.account_for_session(session_id) is not None
    for (account_id, profile_id), landed in zip(racing, saved, strict=True):
        if landed:
            kept = await services.profiles.get(account_id, profile_id)
            assert kept.answers["contact"]["city"] == "saved late"
        else:
            assert await rows(services, Profile, Profile.id == profile_id) == 0
    assert await rows(services, Profile, Profile.id.in_([pair[1] for pair in old])) == 0
    assert counts["drafts"] == len(old) + saved.count(False)
    assert counts["sessions"] == 30


async def test_the_server_prunes_in_the_background_and_a_failure_is_only_logged(
    services: Services, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await confirmed(services, clock, "ana@example.org", NOW - 100 * DAY)
    await signed_in(services, clock, "ana@example.org", NOW - 13 * HOUR)
    clock.moment = NOW
    calls: list[dict[str, int]] = []
    third = asyncio.Event()

    async def sometimes_failing(database: Database, now: dt.datetime) -> dict[str, int]:
        if not calls:
            calls.append({})
            raise RuntimeError("the database went away")
        calls.append(await prune(database, now))
        if len(calls) >= 3:
            third.set()
        return calls[-1]

    monkeypatch.setattr(services_module, "prune", sometimes_failing)
    with caplog.at_level(logging.INFO, logger="haven.services"):
        services.start_prune_sweep(every=0.02)
        await asyncio.wait_for(third.wait(), 60)  # a guard against a sweep that never comes
    assert calls[1]["sessions"] == 1  # after the failure, the next run did its work
    assert calls[2]["sessions"] == 0
    assert await rows(services, WebSession) == 0
    messages = [record.getMessage() for record in caplog.records]
    assert "the retention sweep failed; it runs again later" in messages
    assert any(message.startswith("retention sweep deleted") for message in messages)


def test_haven_prune_prints_the_counts_and_a_dry_run_deletes_nothing(
    db_settings: settings_module.Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wall = dt.datetime.now(dt.UTC)
    clock = FixedClock(wall.date(), wall - 2 * DAY)

    async def make() -> None:
        async with started(create_app(db_settings, clock=clock)) as app:
            await confirmed(app.services, clock, "ana@example.org", wall - 2 * DAY)
            await signed_in(
                app.services, clock, "ana@example.org", wall - 2 * DAY
            )  # ended a day and a half ago
            await signed_in(app.services, clock, "ana@example.org", wall - HOUR)

    async def sessions() -> int:
        async with started(create_app(db_settings, clock=clock)) as app:
            return await rows(app.services, WebSession)

    asyncio.run(make())
    for name, value in {
        "HAVEN_VAR_DIR": str(db_settings.var_dir),
        "HAVEN_DATABASE_URL": db_settings.database_url,
        "HAVEN_SECRET_KEY": TEST_SECRET,
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["prune", "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] is True
    assert printed["would_delete"] == {rule.name: 0 for rule in RULES} | {"sessions": 1}
    assert asyncio.run(sessions()) == 2

    assert main(["prune"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"dry_run": False, "deleted": {rule.name: 0 for rule in RULES} | {"sessions": 1}}
    assert asyncio.run(sessions()) == 1


async def test_a_draft_locked_by_a_save_under_way_is_skipped_not_waited_for(
    postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: rows another transaction holds are left for the next sweep (``SKIP LOCKED``); the
    save that holds one commits, and its draft stays with it. (SQLite has one writer at a time.)"""
    await empty(postgres_url)
    settings = make_settings(
        tmp_path / "var",
        HAVEN_DATABASE_URL=postgres_url,
        HAVEN_ARGON2_TIME_COST="1",
        HAVEN_ARGON2_MEMORY_KIB="8",
        HAVEN_MAIL_DIR=str(tmp_path / "mail"),
    )
    clock = FixedClock(NOW.date(), NOW)
    async with started(create_app(settings, clock=clock)) as app:
        services = app.services
        (held, free) = await _old_drafts(services, clock, 2, "old")
        async with services.engine.connect() as other:
            transaction = await other.begin()
            await other.execute(text("SELECT id FROM profiles WHERE id = :id FOR UPDATE"), {"id": held[1]})
            counts = await asyncio.wait_for(prune(services.database, NOW), 60)  # a guard against a wait
            assert counts["drafts"] == 1
            await other.execute(update(Profile).where(Profile.id == held[1]).values(updated_at=NOW))
            await transaction.commit()
        assert await rows(services, Profile, Profile.id == held[1]) == 1
        assert await rows(services, Profile, Profile.id == free[1]) == 0
        assert (await prune(services.database, NOW))["drafts"] == 0
