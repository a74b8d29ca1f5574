"""Per-client limits: counted per worker alone, or across the cluster through Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from haven import settings as settings_module
from haven.shield import ratelimits
from haven.shield.ratelimits import ClientLimits
from haven.shield.store.redis import connect
from tests.shield.redis_server import TEST_TIMEOUT


def limit_settings(per_address: int) -> settings_module.Settings:
    return settings_module.Settings(secret_key="x" * 40, rate_per_address=per_address)


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def shared(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[ClientLimits]]:
    """Three workers' limits on one Redis, under a key prefix no other test uses."""
    monkeypatch.setattr(ratelimits, "KEY_PREFIX", f"haven-test:{secrets.token_hex(6)}:limits:")
    clients: list[redis.asyncio.Redis] = [connect(redis_url, timeout=TEST_TIMEOUT) for _ in range(3)]
    workers = [ClientLimits(limit_settings(10), client) for client in clients]
    try:
        yield workers
    finally:
        for worker in workers:
            await worker.close()


async def test_one_worker_refuses_the_request_over_the_limit_and_counts_windows_apart() -> None:
    clock = Clock()
    limits = ClientLimits(limit_settings(3), now=clock)
    assert [await limits.allow_address("198.18.0.9") for _ in range(4)] == [True, True, True, False]
    assert await limits.allow_address("198.18.0.10")  # another client, its own count
    clock.now += ratelimits.WINDOW_SECONDS
    assert await limits.allow_address("198.18.0.9")  # a new window


async def test_buckets_are_counted_apart() -> None:
    limits = ClientLimits(limit_settings(2))
    assert [await limits.allow_address("a") for _ in range(3)] == [True, True, False]
    assert await limits.allow_join("a")
    assert await limits.allow_status("a")  # the waiting page's polls have twice the room


async def test_workers_sharing_redis_hold_a_client_to_the_limit_together(shared: list[ClientLimits]) -> None:
    allowed = 0
    for turn in range(30):  # a load balancer spreading one client's requests over three workers
        worker = shared[turn % 3]
        allowed += await worker.allow_address("198.18.0.9")
        if turn % 3 == 2:
            for each in shared:
                await each.sync()
    # The limit, not three times it: past it by at most what the two other workers let through
    # between two syncs (one request each here).
    assert 10 <= allowed <= 12
    assert not await shared[0].allow_address("198.18.0.9")
    assert await shared[0].allow_address("198.18.0.10")


async def test_without_syncing_each_worker_counts_alone(shared: list[ClientLimits]) -> None:
    # Between syncs a worker knows only its own counts: the limit can be overshot by what the
    # others let through meanwhile (the module docstring bounds it by one sync).
    allowed = [sum([await worker.allow_address("x") for _ in range(12)]) for worker in shared]
    assert allowed == [10, 10, 10]
    for worker in shared:
        await worker.sync()
    assert not any([await worker.allow_address("x") for worker in shared])


async def test_a_worker_goes_on_counting_locally_when_redis_does_not_answer() -> None:
    unreachable = connect("redis://198.18.255.254:6379/0", timeout=0.2)  # no such host
    limits = ClientLimits(limit_settings(5), unreachable)
    try:
        assert [await limits.allow_address("a") for _ in range(3)] == [True] * 3
        await limits.sync()  # fails; the three counted are kept
        assert [await limits.allow_address("a") for _ in range(3)] == [True, True, False]
    finally:
        await limits.close()
