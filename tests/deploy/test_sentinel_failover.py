"""The Redis store through a real Sentinel failover: a primary and a replica on two hosts, three
Sentinels, the primary killed (``kill -9``) while joins keep coming.

What a failover must not break: no ticket number is issued twice, the serving number never moves
back, and the store follows the promoted replica by itself (``HAVEN_REDIS_SENTINELS``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from bench.cluster import engines
from haven.shield.store import StoreUnavailable
from haven.shield.store.redis import RedisStore
from tests.deploy.kit import hosts

ROOM = "main"
KEPT = 600.0


@dataclass
class Redises:
    primary: engines.Redis
    replica: engines.Redis
    sentinels: list[engines.Sentinel]

    @property
    def addresses(self) -> list[str]:
        return [f"{s.address}:{s.port}" for s in self.sentinels]


@pytest.fixture
def redises() -> Iterator[Redises]:
    with hosts("hvs", "198.18.8.0/24") as (network, work):
        first, second, third = (network.add_host(name) for name in ("r1", "r2", "s3"))
        primary = engines.start_redis(first, work / "r1")
        replica = engines.start_redis(second, work / "r2", replica_of=primary.endpoint)
        sentinels = [
            engines.start_sentinel(host, work / f"s-{host.name}", master=primary.endpoint, down_after_ms=1000)
            for host in (first, second, third)
        ]
        engines.wait_for_sentinels(sentinels, replicas=1)
        yield Redises(primary, replica, sentinels)


async def until_answers(call: Callable[[], Awaitable[object]], limit: float = 20.0) -> float:
    """Seconds until ``call()`` (a coroutine function) stops raising ``StoreUnavailable``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            await call()
            return time.monotonic() - started
        except StoreUnavailable:
            await asyncio.sleep(0.1)
    raise AssertionError(f"the store did not answer within {limit} s of the failover")


async def test_the_store_follows_the_promoted_replica_and_the_line_stays_whole(redises: Redises) -> None:
    workers = [RedisStore("", sentinels=redises.addresses, master="haven", timeout=1.0) for _ in range(2)]
    numbers: list[int] = []
    try:
        now = time.time()
        for i in range(40):
            numbers.append(await workers[i % 2].join(ROOM, f"account-{i}" if i % 4 == 0 else "", now, KEPT))
        assert await workers[0].advance(ROOM, 25, now) == 25
        before = await workers[1].state(ROOM, now)

        redises.primary.proc.kill()  # the primary dies with its last writes
        took = await until_answers(lambda: workers[0].state(ROOM, time.time()))
        assert took < 1.0 + 8  # down-after, the vote and the promotion

        after = await workers[1].state(ROOM, time.time())
        assert after.serving >= before.serving == 25  # never back
        assert after.issued >= max(numbers)
        more = [await workers[i % 2].join(ROOM, "", time.time(), KEPT) for i in range(20)]
        assert not set(more) & set(numbers)  # no number handed out twice
        assert len(set(more)) == 20
        assert min(more) > max(numbers)
        holder = await workers[0].join(ROOM, "account-0", time.time(), KEPT)
        assert holder == numbers[0]  # an account kept its place through the failover
        promoted = engines.sentinel_master(redises.sentinels[2])
        assert promoted == redises.replica.endpoint
    finally:
        for worker in workers:
            await worker.close()
