"""A round is one transaction: ``kill -9`` of ``haven rounds draw`` in the middle of a large round leaves
the whole round or none of it, on SQLite and on PostgreSQL, and running it again finishes it.

The kill comes while the round's transaction is writing: on PostgreSQL when the server shows the
command's connection writing the invitations or the profiles; on SQLite when the write-ahead log has
grown by the round's first pages (written before the commit, and ignored after a crash)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Connection, func, select

from bench.rounds import seed_pool
from haven import settings as settings_module
from haven.db import Database, create_engine, is_sqlite
from haven.mail.models import OutboxMessage
from haven.profiles.models import Profile
from haven.rounds.models import Invitation, PoolEntry, Round
from tests.conftest import TEST_SECRET, make_settings

POOL = 30_000
SIZE = 20_000
AT = "2026-12-03T15:00:00+00:00"
DAY = dt.date(2026, 12, 3)


def _counts(connection: Connection) -> dict[str, int]:
    def count(model: type, *where: Any) -> int:
        return int(connection.execute(select(func.count()).select_from(model).where(*where)).scalar() or 0)

    return {
        "rounds": count(Round),
        "invitations": count(Invitation),
        "invited_profiles": count(Profile, Profile.state == "invited"),
        "pool": count(PoolEntry),
        "outbox": count(OutboxMessage),
        "recorded_invited": int(
            connection.execute(select(func.coalesce(func.sum(Round.invited), 0))).scalar() or 0
        ),
    }


async def _read(settings: settings_module.Settings, seed: bool = False) -> dict[str, int]:
    database = Database(create_engine(settings))
    try:
        if seed:
            rng = random.Random(3)
            await database.write(lambda connection: seed_pool(connection, POOL, DAY, rng=rng))
        return await database.read(_counts)
    finally:
        await database.close()


def _start(settings: settings_module.Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HAVEN_VAR_DIR": str(settings.var_dir),
        "HAVEN_SECRET_KEY": TEST_SECRET,
        "HAVEN_DATABASE_URL": settings.database_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "haven", "rounds", "draw", "--size", str(SIZE), "--at", AT, "--id", "big"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )


async def _writing_on_postgresql(url: str) -> bool:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        queries = await connection.fetch(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return any(
        row["query"]
        .lstrip()
        .upper()
        .startswith(("INSERT INTO INVITATIONS", "UPDATE PROFILES", "DELETE FROM POOL"))
        for row in queries
    )


def _wal_size(settings: settings_module.Settings) -> int:
    database = Path(settings.database_url.split("///", 1)[1] + "-wal")
    return database.stat().st_size if database.exists() else 0


def _kill_while_writing(settings: settings_module.Settings) -> bool:
    """Start the round and kill it once its transaction is writing; False if it finished first."""
    before = _wal_size(settings) if is_sqlite(settings.database_url) else 0
    process = _start(settings)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if is_sqlite(settings.database_url):
                writing = _wal_size(settings) > before + 4 * 1024 * 1024
            else:
                writing = asyncio.run(_writing_on_postgresql(settings.database_url))
            if writing:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                return True
            time.sleep(0.02)
        raise AssertionError("the round never started writing")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _whole_or_none(counts: dict[str, int], outbox_before: int) -> str:
    if counts["rounds"] == 0:
        assert counts == {
            "rounds": 0,
            "invitations": 0,
            "invited_profiles": 0,
            "pool": POOL,
            "outbox": outbox_before,
            "recorded_invited": 0,
        }, counts
        return "none"
    assert counts == {
        "rounds": 1,
        "invitations": SIZE,
        "invited_profiles": SIZE,
        "pool": POOL - SIZE,
        "outbox": outbox_before + SIZE,
        "recorded_invited": SIZE,
    }, counts
    return "whole"


def test_a_round_killed_in_the_middle_leaves_all_of_it_or_none(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", HAVEN_DATABASE_URL=database_url)
    start = asyncio.run(_read(settings, seed=True))
    assert start["pool"] == POOL
    outcomes = []
    for _attempt in range(3):
        killed = _kill_while_writing(settings)
        if is_sqlite(database_url):
            time.sleep(0.2)
        else:
            time.sleep(1)  # PostgreSQL ends the killed command's backend (and its transaction)
        outcome = _whole_or_none(asyncio.run(_read(settings)), start["outbox"])
        outcomes.append((killed, outcome))
        if outcome == "whole":
            break
    assert (True, "none") in outcomes, f"no kill landed inside the round's transaction: {outcomes}"
    # Run again, the round finishes, whole.
    finish = _start(settings)
    _out, errors = finish.communicate(timeout=120)
    assert finish.returncode == 0, errors.decode()
    assert _whole_or_none(asyncio.run(_read(settings)), start["outbox"]) == "whole"
