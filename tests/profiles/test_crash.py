"""Crash tests: 200 people submit their profiles at once while the server is killed (kill -9) and
restarted, or while PostgreSQL itself is killed and restarted. Afterwards every submission that was
confirmed exists exactly once, and no half-written record exists.

Each submitter retries the way a person would (the same form, so the same idempotency key) until
they see their confirmation page; a number counts as confirmed only once that page has shown it.
The crashes strike at points of the crowd's progress (a fifth confirmed, two fifths, ...), not at
moments on the wall clock: each one finds submitters still in flight, however fast the machine.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from haven import settings as settings_module
from haven.db import Database, create_engine, migrate
from haven.profiles.models import Profile
from tests.databases import TEST_DATA_KEY, PrivatePostgres, execute
from tests.profiles.crowd import Submitter, prepare
from tests.server import RunningServer, free_port, kill, launch, migrate_for, stop

pytestmark = pytest.mark.server

SUBMITTERS = 200
GIVE_UP_AFTER = 300  # attempts: a submitter still without a confirmation by then fails the test
OUTAGE_FAILURES = 20  # failed attempts the crowd meets while PostgreSQL is down, before it restarts
NUMBER = re.compile(r'class="reference">(HV-[0-9A-Z-]+)<')


class Progress:
    """What the crowd has been through so far, for the chaos to wait on."""

    def __init__(self) -> None:
        self.confirmed = 0
        self.failures = 0
        self.over = False  # every submitter is done: nothing more will happen
        self._changed = asyncio.Condition()

    async def note(self, *, confirmed: bool) -> None:
        async with self._changed:
            if confirmed:
                self.confirmed += 1
            else:
                self.failures += 1
            self._changed.notify_all()

    async def end(self) -> None:
        async with self._changed:
            self.over = True
            self._changed.notify_all()

    async def until_confirmed(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.over or self.confirmed >= count)

    async def until_failed(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.over or self.failures >= count)


def server_env(var_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "HAVEN_DATABASE_URL": database_url,
        "HAVEN_SECRET_KEY": "crash-test-secret-key-0123456789abcdef",
        "HAVEN_DATA_KEY": TEST_DATA_KEY,
        "HAVEN_ARGON2_TIME_COST": "1",
        "HAVEN_ARGON2_MEMORY_KIB": "8",
        "HAVEN_MAIL_DIR": str(var_dir / "mail"),
        "HAVEN_LOG_LEVEL": "warning",
        # Two hundred people on one address (127.0.0.1) and retrying hard: lift the per-client limits,
        # which are there for one client that sends too much.
        "HAVEN_RATE_PER_ADDRESS": "1000000",
        "HAVEN_RATE_PER_VISITOR": "1000000",
        "HAVEN_JOINS_PER_ADDRESS": "1000000",
    }


async def submit_until_confirmed(
    base_url: Callable[[], str], submitter: Submitter, progress: Progress
) -> None:
    """Submit, and retry the same form after any failure, until the confirmation page shows."""
    path = f"/en/account/profiles/{submitter.profile_id}"
    async with httpx.AsyncClient(cookies=submitter.cookies, timeout=10) as client:
        while submitter.attempts < GIVE_UP_AFTER:
            submitter.attempts += 1
            try:
                response = await client.post(
                    base_url() + path + "/submit",
                    data={"csrf": submitter.csrf, "submit_key": submitter.submit_key, "declaration": "yes"},
                )
                if response.status_code == 303:
                    page = await client.get(base_url() + response.headers["location"])
                    found = NUMBER.search(page.text) if page.status_code == 200 else None
                    if found:
                        submitter.confirmed = found.group(1)
                        await progress.note(confirmed=True)
                        return
            except httpx.HTTPError:
                pass  # the server was killed under us: try again, as a person would
            await progress.note(confirmed=False)
            # A person's pause before trying again (not a wait for anything): it keeps two hundred
            # retries from spinning on a server that is down.
            await asyncio.sleep(random.uniform(0.05, 0.4))


async def run_crowd(
    submitters: list[Submitter],
    base_url: Callable[[], str],
    chaos: Callable[[Progress], Awaitable[None]],
) -> None:
    progress = Progress()

    async def crowd() -> None:
        try:
            await asyncio.gather(*(submit_until_confirmed(base_url, s, progress) for s in submitters))
        finally:
            await progress.end()

    await asyncio.gather(crowd(), chaos(progress))


async def check_records(settings: settings_module.Settings, submitters: list[Submitter]) -> None:
    unconfirmed = [s for s in submitters if s.confirmed is None]
    assert not unconfirmed, f"{len(unconfirmed)} submitters never saw a confirmation"
    engine = create_engine(settings)
    try:
        async with Database(engine).transaction() as session:
            for submitter in submitters:
                rows = (
                    await session.scalars(select(Profile).where(Profile.number == submitter.confirmed))
                ).all()
                assert len(rows) == 1, f"{submitter.confirmed} is stored {len(rows)} times"
                (profile,) = rows
                assert profile.id == submitter.profile_id
                assert profile.account_id == submitter.account_id
                assert profile.state == "submitted"
                assert profile.crs_score is not None
                assert profile.rules_version
                assert profile.submitted_at is not None
            per_account = await session.execute(
                select(Profile.account_id, func.count()).group_by(Profile.account_id)
            )
            assert all(count == 1 for _, count in per_account), "a submission made a second record"
            half_written = await session.scalar(
                select(func.count())
                .select_from(Profile)
                .where(
                    (
                        (Profile.state == "submitted")
                        & (Profile.number.is_(None) | Profile.crs_score.is_(None))
                    )
                    | ((Profile.state == "draft") & Profile.number.is_not(None))
                )
            )
            assert half_written == 0
            total = await session.scalar(
                select(func.count()).select_from(Profile).where(Profile.state == "submitted")
            )
            assert total == len(submitters)
    finally:
        await engine.dispose()


def test_confirmed_submissions_survive_the_server_being_killed(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    env = server_env(var_dir, f"sqlite:///{tmp_path}/crash.sqlite3")
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir), **env})
    migrate(settings)
    submitters = asyncio.run(prepare(settings, SUBMITTERS))
    port = free_port()
    current: list[RunningServer] = [launch(var_dir, port, **env)]
    kills = 0

    async def chaos(progress: Progress) -> None:
        nonlocal kills
        for strike in range(1, 5):  # when a fifth have their confirmation, two fifths, ...
            await progress.until_confirmed(SUBMITTERS * strike // 5)
            if progress.over:
                return
            await asyncio.to_thread(kill, current[0].process)
            kills += 1
            current[0] = await asyncio.to_thread(launch, var_dir, port, **env)

    try:
        asyncio.run(run_crowd(submitters, lambda: current[0].base_url, chaos))
    finally:
        stop(current[0].process)
    assert kills == 4
    assert sum(s.attempts for s in submitters) > SUBMITTERS, (
        "the kills interrupted nobody: the test proved nothing"
    )
    asyncio.run(check_records(settings, submitters))
    log = current[0].log.read_text()
    assert "ZX4417093" not in log  # the passport number never reaches a log
    assert "1997-02-14" not in log  # nor the date of birth


def test_confirmed_submissions_survive_postgresql_being_killed(tmp_path: Path) -> None:
    postgres = PrivatePostgres.create(free_port())
    postgres.start()
    try:
        asyncio.run(execute(postgres.admin_url, 'CREATE DATABASE "haven"'))
        url = postgres.admin_url.rsplit("/", 1)[0] + "/haven"
        var_dir = tmp_path / "var"
        env = server_env(var_dir, url)
        settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir), **env})
        migrate_for(var_dir, **env)
        submitters = asyncio.run(prepare(settings, SUBMITTERS))
        server = launch(var_dir, free_port(), **env)
        restarts = 0

        async def chaos(progress: Progress) -> None:
            nonlocal restarts
            for strike in range(1, 4):  # when a quarter have their confirmation, half, ...
                await progress.until_confirmed(SUBMITTERS * strike // 4)
                if progress.over:
                    return
                # SIGKILL to the postmaster: it recovers from its WAL on start. It stays down until
                # the crowd has run into the outage.
                failures = progress.failures
                await asyncio.to_thread(postgres.kill)
                await progress.until_failed(failures + OUTAGE_FAILURES)
                await asyncio.to_thread(postgres.start)
                restarts += 1

        try:
            asyncio.run(run_crowd(submitters, lambda: server.base_url, chaos))
        finally:
            stop(server.process)
        assert restarts == 3
        # Each start after a kill replayed the write-ahead log: these were crashes, not clean stops.
        assert postgres.log().count("automatic recovery in progress") == 3, postgres.log()
        assert sum(s.attempts for s in submitters) > SUBMITTERS, "the restarts interrupted nobody"
        asyncio.run(check_records(settings, submitters))
    finally:
        postgres.remove()
