"""Haven's database layer through a real PgBouncer in transaction mode, and through a restart of
the real PostgreSQL behind it (``bench/cluster`` builds both on a host of their own).

PgBouncer gets a pool of two server connections for a dozen clients, so that consecutive
transactions of one client land on different server connections: a prepared statement kept from
one transaction to the next would be found missing, or made twice.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bench.cluster import engines
from haven import settings as settings_module
from haven.db import Database, create_engine
from tests.databases import TEST_DATA_KEY
from tests.deploy.kit import hosts


class Pooled:
    def __init__(self, postgres: engines.Postgres, bouncer: engines.PgBouncer) -> None:
        self.postgres = postgres
        self.bouncer = bouncer


@pytest.fixture(scope="module")
def pooled() -> Iterator[Pooled]:
    with hosts("hvp", "198.18.6.0/24") as (network, work):
        host = network.add_host("pg")
        postgres = engines.start_postgres(host, work / "pg")
        engines.create_database(postgres, "haven")
        engines.psql(postgres, "CREATE TABLE notes (id uuid PRIMARY KEY, body text NOT NULL)", "haven")
        bouncer = engines.start_pgbouncer(host, work / "pgbouncer", postgres.address, default_pool_size=2)
        yield Pooled(postgres, bouncer)


def settings_for(pooled: Pooled, *, pgbouncer: bool) -> settings_module.Settings:
    return settings_module.load(
        {
            "HAVEN_DATABASE_URL": pooled.bouncer.url("haven"),
            "HAVEN_DATABASE_PGBOUNCER": "true" if pgbouncer else "false",
            "HAVEN_VAR_DIR": tempfile.mkdtemp(prefix="haven-pgbouncer-var-"),
            "HAVEN_SECRET_KEY": "x" * 40,
            "HAVEN_DATA_KEY": TEST_DATA_KEY,
        }
    )


@pytest.fixture
async def database(pooled: Pooled) -> AsyncIterator[Database]:
    database = Database(create_engine(settings_for(pooled, pgbouncer=True)))
    try:
        yield database
    finally:
        await database.close()


def insert(note: uuid.UUID, body: str) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        connection.execute(
            text("INSERT INTO notes (id, body) VALUES (:id, :body) ON CONFLICT (id) DO NOTHING"),
            {"id": note, "body": body},
        )

    return work


async def count(database: Database, note: uuid.UUID) -> int:
    def work(connection: Connection) -> int:
        return int(
            connection.execute(text("SELECT count(*) FROM notes WHERE id = :id"), {"id": note}).scalar_one()
        )

    return await database.read(work)


async def test_many_clients_share_few_server_connections_without_prepared_statement_errors(
    database: Database,
) -> None:
    notes = [uuid.uuid4() for _ in range(120)]

    async def one(note: uuid.UUID) -> int:
        await database.write(insert(note, "same query text, many connections"))
        return await count(database, note)

    counts = await asyncio.gather(*(one(note) for note in notes))
    assert counts == [1] * len(notes)


async def test_without_the_setting_the_same_work_fails_through_pgbouncer(pooled: Pooled) -> None:
    # What HAVEN_DATABASE_PGBOUNCER is for: asyncpg's statement cache, through transaction pooling.
    database = Database(create_engine(settings_for(pooled, pgbouncer=False)))
    try:
        notes = [uuid.uuid4() for _ in range(120)]

        async def one(note: uuid.UUID) -> int:
            await database.write(insert(note, "x"))
            return await count(database, note)

        results = await asyncio.gather(*(one(note) for note in notes), return_exceptions=True)
    finally:
        await database.close()
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures, "asyncpg's prepared statements worked through transaction pooling: the setting is moot"
    assert all(isinstance(f, DBAPIError) for f in failures)


async def test_idempotent_writes_go_on_through_a_postgres_restart_and_are_stored_once(
    pooled: Pooled, database: Database
) -> None:
    acknowledged: list[uuid.UUID] = []
    failed: list[BaseException] = []
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            note = uuid.uuid4()
            try:
                await database.write(insert(note, "through the restart"), idempotent=True)
            except Exception as error:  # a write given up on is reported, not counted as acknowledged
                failed.append(error)
            else:
                acknowledged.append(note)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    await asyncio.sleep(0.5)
    took = await asyncio.to_thread(engines.restart_postgres, pooled.postgres)
    restarted = len(acknowledged)
    for _ in range(100):  # the writes go on after the restart (within 10 s)
        if len(acknowledged) >= restarted + 20:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*writers)

    assert took < 10
    assert len(acknowledged) >= restarted + 20
    assert failed == []  # every write that lost its connection was run again, within RETRY_SECONDS
    # Most runs, the transactions in flight when PostgreSQL went down lost their connection and ran
    # again (the log says "database connection lost"); in some, none was in flight at that instant.
    # Either way no write failed: the retry itself is pinned by tests/db/test_retry.py.
    counts = await asyncio.gather(*(count(database, note) for note in acknowledged))
    assert set(counts) == {1}
