"""The migrations build exactly the tables the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from haven.db import Base, UtcDateTime, create_engine
from haven.models import load_models
from haven.settings import Settings


def _compare_type(
    context: Any, inspected: Any, metadata: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    # Haven's UtcDateTime is stored as a timezone-aware DateTime: compare what it stores.
    if isinstance(metadata_type, UtcDateTime):
        return None if inspected_type.__class__.__name__ in ("DATETIME", "TIMESTAMP", "DateTime") else True
    return None


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": _compare_type})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_do_not_drift(db_settings: Settings) -> None:
    load_models()
    engine = create_engine(db_settings)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], "run `alembic revision --autogenerate` and review the new migration"
