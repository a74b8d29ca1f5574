"""Fixtures for the shield: every store test runs on the in-memory store and on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from haven.shield.store import Store
from haven.shield.store.memory import MemoryStore
from haven.shield.store.redis import RedisStore
from tests.shield.redis_server import TEST_TIMEOUT, forget, redis_server, unique_prefix


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh store; on Redis, a prefix of its own instead of a flush, so tests may share a server."""
    if request.param == "memory":
        yield MemoryStore()
        return
    url: str = request.getfixturevalue("redis_url")
    redis_store = RedisStore(url, prefix=unique_prefix(), timeout=TEST_TIMEOUT)
    try:
        yield redis_store
    finally:
        await forget(redis_store)
        await redis_store.close()
