"""Which failures run a unit of work again (``haven.db``): only a dropped connection, only where safe.
The same against a real PostgreSQL restart behind PgBouncer: ``tests/deploy/test_pgbouncer.py``."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from haven import db


class _Orig(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def dbapi(kind: type[DBAPIError], sqlstate: str | None, *, invalidated: bool = False) -> DBAPIError:
    return kind("SELECT 1", {}, _Orig(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "dropped"),
    [
        (dbapi(OperationalError, None, invalidated=True), True),
        (dbapi(OperationalError, "08006"), True),  # connection failure
        (dbapi(OperationalError, "57P01"), True),  # admin shutdown: PostgreSQL restarting
        (dbapi(OperationalError, "57P03"), True),  # cannot connect now: still starting
        (ConnectionRefusedError(), True),
        (dbapi(IntegrityError, "23505"), False),  # a unique violation is the work's own failure
        (dbapi(OperationalError, "40001"), False),
        (ValueError("not the database"), False),
    ],
)
def test_only_a_dropped_connection_counts_as_one(error: BaseException, dropped: bool) -> None:
    assert db.dropped_connection(error) is dropped


async def test_work_that_lost_its_connection_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "RETRY_FIRST_WAIT", 0.001)
    tries: list[int] = []

    async def once() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise dbapi(OperationalError, "57P01")
        return "done"

    assert await db._retried(once, lambda: True) == "done"
    assert len(tries) == 3


async def test_work_that_may_have_committed_is_not_run_again_unless_safe() -> None:
    tries: list[int] = []

    async def once() -> str:
        tries.append(1)
        raise dbapi(OperationalError, "08006")

    with pytest.raises(OperationalError):
        await db._retried(once, lambda: False)
    assert len(tries) == 1


async def test_other_failures_are_never_run_again() -> None:
    tries: list[int] = []

    async def once() -> str:
        tries.append(1)
        raise dbapi(IntegrityError, "23505")

    with pytest.raises(IntegrityError):
        await db._retried(once, lambda: True)
    assert len(tries) == 1


async def test_retries_stop_after_retry_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "RETRY_SECONDS", 0.05)
    monkeypatch.setattr(db, "RETRY_FIRST_WAIT", 0.01)
    tries: list[int] = []

    async def once() -> str:
        tries.append(1)
        raise dbapi(OperationalError, "57P01")

    with pytest.raises(OperationalError):
        await db._retried(once, lambda: True)
    assert 2 <= len(tries) <= 6
