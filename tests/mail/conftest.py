"""The mail tests' outbox: a database of its own per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from haven import settings as settings_module
from haven.db import Database, create_engine


@pytest.fixture
async def database(db_settings: settings_module.Settings) -> AsyncIterator[Database]:
    database = Database(create_engine(db_settings))
    try:
        yield database
    finally:
        await database.close()
