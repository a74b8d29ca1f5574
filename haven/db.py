"""The database: one async SQLAlchemy engine per process, SQLite by default, PostgreSQL when configured.

SQLite runs in WAL mode with ``synchronous=FULL``: a transaction Haven acknowledges has reached the disk.

Two ways in. ``transaction()`` gives an ORM session on the async engine, for work that is rare or
many-sided (sign-up, the outbox). ``write(work)`` and ``read(work)`` run a plain function on a Core
connection, for the paths every applicant takes many times (the session read, section saves, the
submission): on SQLite the whole function runs in one worker thread on a synchronous connection, one
thread hop for the transaction where the async driver makes one per statement; on PostgreSQL it runs
on the async engine (asyncpg has no thread to hop to), with the fewest round trips the work allows.

PostgreSQL can go away under Haven: restarted, failed over, or its connections cut by PgBouncer. A
unit of work that failed because the connection dropped runs again, for up to ``RETRY_SECONDS``,
only where that is safe: a read; a write that never started (the connection failed as it opened);
and a write its caller declares idempotent (``write(work, idempotent=True)``: a section save writes
the same values again, a submission finds its profile already submitted). Any other write that
failed on a dropped connection may or may not have committed, and is reported, not repeated.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import asyncpg
from sqlalchemy import Connection, DateTime, Engine, MetaData, Row, Table, event, func, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from haven.settings import Settings

logger = logging.getLogger("haven.db")
T = TypeVar("T")
READY_TIMEOUT: Final = 2.0
RETRY_SECONDS: Final = 8.0  # how long work that lost its connection is tried again (see the docstring)
RETRY_FIRST_WAIT: Final = 0.05  # doubled after each try, up to RETRY_LONGEST_WAIT
RETRY_LONGEST_WAIT: Final = 1.0
# SQLSTATEs that mean the connection, not the work, failed: class 08 (connection exception), and the
# server shutting down or starting up (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
# connect now).
_DROPPED_SQLSTATES: Final = ("57P01", "57P02", "57P03")
# The execution option that marks a read: on SQLite it begins a deferred transaction (a snapshot of
# the last commit, no write lock), where every other transaction begins IMMEDIATE.
READ_ONLY: Final = "haven_read_only"
MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

# Named constraints, so migrations can alter and drop them on SQLite and PostgreSQL alike.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The base of every table; feature packages declare their models on it."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment in UTC, aware in Python whatever the database keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("times stored by Haven must be aware (UTC)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Database:
    """Sessions on one engine. Every unit of work is a transaction that commits or rolls back whole:
    ``async with database.transaction() as session``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time, and every Haven transaction on it takes the write lock
        # (see _sqlite_begin). Left to SQLite's busy handler, waiting transactions poll with growing
        # sleeps and the unlucky ones starve; queued here, a process's transactions go first come,
        # first served. Other processes still wait on the lock, with the busy timeout.
        self._turn: asyncio.Lock | None = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        # SQLite only, made on first use: a synchronous engine on the same file, one thread for the
        # writes (they take turns anyway) and one for the reads, so a read never waits for an fsync.
        self._sync: Engine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None

    async def write(self, work: Callable[[Connection], T], *, idempotent: bool = False) -> T:
        """``work(connection)`` in one transaction that has committed when this returns (or rolled
        back, if ``work`` raised). On SQLite it holds the write lock from its first statement.
        ``idempotent``: running ``work`` twice leaves what running it once does, so it is run again
        after a dropped connection even when the first run may have committed."""
        if self._turn is None:
            started = False

            def run(connection: Connection) -> T:
                nonlocal started
                started = True
                return work(connection)

            async def once() -> T:
                async with self.engine.begin() as connection:
                    return await connection.run_sync(run)

            return await _retried(once, lambda: idempotent or not started)
        async with self._turn:
            engine, writer, _ = self._sqlite()
            return await asyncio.get_running_loop().run_in_executor(writer, _in_transaction, engine, work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` on the last committed state, without taking the write lock; what it
        writes is not kept. One round trip for one statement (autocommit on PostgreSQL)."""
        if self._turn is None:

            async def once() -> T:
                async with self.engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    return await autocommit.run_sync(work)

            return await _retried(once, lambda: True)
        engine, _, reader = self._sqlite()
        return await asyncio.get_running_loop().run_in_executor(reader, _in_snapshot, engine, work)

    def _sqlite(self) -> tuple[Engine, ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._sync is None or self._writer is None or self._reader is None:
            url = self.engine.url.set(drivername="sqlite")
            self._sync = create_sync_engine(url, connect_args={"timeout": 15, "check_same_thread": False})
            event.listen(self._sync, "connect", _sqlite_pragmas)
            event.listen(self._sync, "begin", _sqlite_begin)
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="haven-db-write")
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="haven-db-read")
        return self._sync, self._writer, self._reader

    async def close(self) -> None:
        """Close every connection of this database (the threads of SQLite's synchronous engine too)."""
        if self._sync is not None and self._writer is not None and self._reader is not None:
            for executor in (self._writer, self._reader):
                await asyncio.to_thread(executor.shutdown)
            self._sync.dispose()
            self._sync = self._writer = self._reader = None
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self._turn is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._turn, self._sessions() as session, session.begin():
            yield session


def dropped_connection(error: BaseException) -> bool:
    """Whether ``error`` says the connection to the database failed (rather than the work): a
    connection error, or a driver error whose state, or whatever it was raised from, says so."""
    if isinstance(error, (ConnectionError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 16:  # chains can loop
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            state = getattr(current.orig, "sqlstate", None) or ""
            if current.connection_invalidated or state.startswith("08") or state in _DROPPED_SQLSTATES:
                return True
            if isinstance(current.orig, BaseException) and id(current.orig) not in seen:
                current = current.orig
                continue
        elif isinstance(current, (OSError, asyncpg.exceptions.ConnectionDoesNotExistError)):
            return True
        current = current.__cause__ or current.__context__
    return False


async def _retried(once: Callable[[], Awaitable[T]], safe: Callable[[], bool]) -> T:
    """``once()``, run again while it fails on a dropped connection and ``safe()`` says so, for up
    to ``RETRY_SECONDS``."""
    loop = asyncio.get_running_loop()
    give_up, wait = loop.time() + RETRY_SECONDS, RETRY_FIRST_WAIT
    while True:
        try:
            return await once()
        except Exception as error:
            if not (dropped_connection(error) and safe()) or loop.time() + wait > give_up:
                raise
            logger.warning(
                "database connection lost (%s); trying again in %.2f s", type(error).__name__, wait
            )
        await asyncio.sleep(wait)
        wait = min(wait * 2, RETRY_LONGEST_WAIT)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if is_sqlite(url):
        # No folder is made here: serving never creates storage; ``haven migrate`` does.
        engine = create_async_engine(url, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.database_pgbouncer:
        # PgBouncer in transaction mode hands each transaction any server connection: no statement
        # prepared on one can be counted on in the next. asyncpg keeps no statement cache, nor
        # SQLAlchemy, and the statements asyncpg must still prepare get names no other client uses.
        connect_args = {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _statement_name,
        }
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args
    )


def _statement_name() -> str:
    return f"__haven_{uuid.uuid4().hex}__"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Haven opens its own transactions (see _sqlite_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Every SQLite transaction takes the write lock when it starts. A transaction that read first
    and wrote later could otherwise fail at once with "database is locked" when another writer got
    there in between (waiting cannot resolve it); this way writers queue for the busy timeout.
    A read (``READ_ONLY``) begins deferred: it takes no lock in WAL mode."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)


def _in_snapshot(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.connect() as connection:
        try:
            return work(connection.execution_options(**{READ_ONLY: True}))
        finally:
            connection.rollback()


async def is_ready(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query within ``READY_TIMEOUT`` seconds."""
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def _alembic_config(settings: Settings) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


async def schema_status(settings: Settings) -> str:
    """ "current", "behind" (run ``haven migrate``) or "unreachable" (the database does not answer)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(settings)).get_current_head()
    if is_sqlite(settings.database_url):
        # Read with the plain sqlite3 driver: aiosqlite leaves its worker thread behind when a
        # connection fails, and it outlives the event loop of a one-off command.
        try:
            current = await asyncio.to_thread(_sqlite_revision, settings.database_url)
        except Exception:
            return "unreachable"
        return "current" if current == head else "behind"
    engine = create_engine(settings)
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except Exception:
        return "unreachable"
    finally:
        await engine.dispose()
    return "current" if current == head else "behind"


def _sqlite_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_sync_engine(
        make_url(url).set(drivername="sqlite"), connect_args={"timeout": READY_TIMEOUT}
    )
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` with Alembic (``haven migrate``)."""
    from alembic import command  # imported here: serving requests never needs Alembic

    config = _alembic_config(settings)
    if is_sqlite(settings.database_url):
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(config, revision)


def newest(
    connection: Connection, table: Table, before_id: int | None, limit: int
) -> tuple[list[Row[Any]], int]:
    """A page of an append-only log, newest first (older than ``before_id`` when given), and how
    many rows it has in all: the audit log's and the problem reports'."""
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(table.c.id < before_id)
    rows = list(connection.execute(query).all())
    total = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    return rows, total
