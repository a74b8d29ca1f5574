"""The shield on Redis: workers (here, two gates on one server) share one room; a Redis that stops
answering leaves each worker protecting itself, and says so, until it answers again."""

from __future__ import annotations

import os
from pathlib import Path

from haven.app import Haven
from haven.shield.store.redis import RedisStore
from tests.server import free_port
from tests.shield.gate_kit import browser, gated, position_in, steer
from tests.shield.redis_server import unique_prefix

SIGN_UP = "/en/account/sign-up"


async def test_two_workers_share_one_line(app: Haven, tmp_path: Path, redis_url: str) -> None:
    prefix = unique_prefix()
    stores = [RedisStore(redis_url, prefix=prefix), RedisStore(redis_url, prefix=prefix)]
    first, second = (gated(app, tmp_path / "var", store=store) for store in stores)
    try:
        await steer(first, action="pause")
        for worker in (first, second):
            await worker.shield.room.tick()  # type: ignore[union-attr]
        async with browser(first) as ann, browser(second) as bob:
            assert position_in((await ann.get(SIGN_UP)).text) == 1  # ann reaches worker one
            assert position_in((await bob.get(SIGN_UP)).text) == 2  # bob reaches worker two
            ann_at_two = browser(second)
            async with ann_at_two as same_ann:  # ann's next request lands on the other worker
                same_ann.cookies = ann.cookies
                assert position_in((await same_ann.get(SIGN_UP)).text) == 1
            await stores[0].advance(first.shield.room.name, 1, first.shield.room.now())  # type: ignore[union-attr]
            await second.shield.room.tick()  # type: ignore[union-attr]
            async with browser(second) as same_ann:
                same_ann.cookies = ann.cookies
                assert (await same_ann.get(SIGN_UP)).status_code == 200  # her turn, on either worker
        state = await steer(second, action="pause")
        assert (state["issued"], state["serving"], state["claimed"]) == (2, 1, 1)
        assert state["store"] == "redis"
    finally:
        for store in stores:
            await store.close()


async def test_without_redis_a_worker_protects_itself_and_says_so(app: Haven, tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    haven = gated(app, tmp_path / "var", store=RedisStore(nowhere, timeout=0.2))
    shield = haven.shield
    assert shield is not None
    await shield.room.tick()
    assert shield.room.degraded
    async with browser(haven) as client:
        answer = await client.get(SIGN_UP)
        assert answer.status_code == 200  # the origin is healthy: in, with a pass, not an error
        metrics = (await client.get("/metrics")).text
    worker = f'{{worker="{os.getpid()}"}}'
    assert f"haven_shield_store_degraded{worker} 1.0" in metrics
    assert f"haven_shield_store_fallbacks_total{worker} 1.0" in metrics
    # Still bounded: when this worker must queue, newcomers wait in a line of its own.
    await shield.room.local.configure(shield.room.name, mode="paused")
    await shield.room.tick()
    async with browser(haven) as newcomer:
        waiting = await newcomer.get(SIGN_UP)
    assert waiting.status_code == 503
    assert position_in(waiting.text) == 1
    await shield.stop()


async def test_a_worker_goes_back_to_the_shared_room_when_redis_answers_again(
    app: Haven, tmp_path: Path, redis_url: str
) -> None:
    store = RedisStore(redis_url, prefix=unique_prefix())
    haven = gated(app, tmp_path / "var", store=store)
    room = haven.shield.room  # type: ignore[union-attr]
    try:
        room.stores.fall_back(RuntimeError("a test says so"))  # as after a failed call
        assert room.degraded
        await room.tick()
        assert not room.degraded
        assert room.store is store
    finally:
        await store.close()
