"""The Redis store's floors: what a failover to a replica that lacked the last writes cannot undo.

A promoted replica may be a few writes behind the primary it replaces. Here the loss is made by hand
(the room's hash rewound to an earlier reading, its last checkpoints removed), which is exactly what
the workers see after such a failover; ``tests/deploy/test_sentinel_failover.py`` runs the real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from haven.shield.store.redis import RedisStore
from tests.shield.redis_server import TEST_TIMEOUT, forget, unique_prefix

ROOM = "main"
T0 = 1_764_000_000.25
KEPT = 60.0


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    prefix = unique_prefix()
    stores = [RedisStore(redis_url, prefix=prefix, timeout=TEST_TIMEOUT) for _ in range(2)]
    try:
        yield stores
    finally:
        await forget(stores[0])
        for store in stores:
            await store.close()


async def rewind(store: RedisStore, *, issued: int, serving: int) -> None:
    """Make the room look as a replica a few writes behind would: counters and checkpoints back."""
    meta, passed = store.keys(ROOM)[:2]
    await store._client.hset(meta, mapping={"issued": issued, "serving": serving})
    await store._client.zremrangebyscore(passed, f"({serving}", "+inf")


async def test_no_number_is_issued_twice_after_the_line_lost_its_last_joins(
    workers: list[RedisStore],
) -> None:
    first, other = workers
    mine = [await first.join(ROOM, "", T0, KEPT) for _ in range(10)]
    await other.state(ROOM, T0)  # the other worker last saw the room with 10 issued
    mine += [await first.join(ROOM, "", T0, KEPT) for _ in range(5)]  # these five are lost
    await rewind(first, issued=10, serving=0)

    theirs = [await other.join(ROOM, "", T0, KEPT) for _ in range(3)]
    assert theirs == [11, 12, 13]  # the other worker knows of ten only: 11-15 are issued again...
    assert not set(theirs) & set(mine[:10])
    later = await first.join(ROOM, "", T0, KEPT)
    assert later == 16  # ...but the worker that handed out 11-15 lifts the line above them at once
    assert (await other.state(ROOM, T0)).issued == 16


async def test_a_signed_in_join_also_lifts_the_line(workers: list[RedisStore]) -> None:
    first, _ = workers
    for _ in range(4):
        await first.join(ROOM, "", T0, KEPT)
    await rewind(first, issued=1, serving=0)
    assert await first.join(ROOM, "ada", T0, KEPT) == 5


async def test_the_serving_number_never_moves_back(workers: list[RedisStore]) -> None:
    first, other = workers
    for _ in range(20):
        await first.join(ROOM, "", T0, KEPT)
    assert await first.advance(ROOM, 12, T0) == 12
    assert (await other.state(ROOM, T0)).serving == 12
    await rewind(first, issued=20, serving=5)

    state = await other.state(ROOM, T0 + 1)  # a plain reading puts the counter back where it was
    assert state.serving == 12
    assert await first.advance(ROOM, 1, T0 + 2) == 13


async def test_places_passed_again_by_the_lift_can_still_be_claimed(workers: list[RedisStore]) -> None:
    first, _ = workers
    for _ in range(10):
        await first.join(ROOM, "", T0, KEPT)
    await first.advance(ROOM, 8, T0)
    await rewind(first, issued=10, serving=3)
    await first.state(ROOM, T0 + 5)
    assert await first.claim(ROOM, 7, 7, T0 + 6, KEPT)  # its checkpoint was lost; the lift made one
    assert not await first.claim(ROOM, 9, 9, T0 + 6, KEPT)  # not reached, before or after


async def test_floors_are_per_room(workers: list[RedisStore]) -> None:
    first, _ = workers
    for _ in range(5):
        await first.join(ROOM, "", T0, KEPT)
    assert await first.join("other", "", T0, KEPT) == 1
