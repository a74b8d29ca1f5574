"""The store with a stand-in: the shared store while it answers, a line of this process's own while
it does not, and back at the first ping that finds it answering."""

from __future__ import annotations

import asyncio
import logging

import pytest

from haven.shield.store.fallback import FallbackStore
from haven.shield.store.memory import MemoryStore
from tests.shield.store_kit import Broken

T0 = 1_764_000_000.0
KEPT = 60.0


def stores() -> tuple[FallbackStore, Broken, MemoryStore]:
    shared, local = Broken(), MemoryStore()
    return FallbackStore(shared, local), shared, local  # type: ignore[arg-type]


async def test_while_the_shared_store_answers_every_call_goes_to_it() -> None:
    store, shared, local = stores()
    assert await store.join("main", "", T0, KEPT) == 1
    await store.advance("main", 1, T0)
    assert (await shared.inner.state("main", T0)).serving == 1
    assert (await local.state(store.local_name("main"), T0)).issued == 0
    assert not store.degraded
    assert store.current is store.shared
    assert store.room("main") == "main"
    assert store.name == "broken"  # named after the store it stands for


async def test_a_failing_call_is_answered_by_the_local_store_and_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, shared, local = stores()
    await store.join("main", "", T0, KEPT)  # a place in the shared line
    shared.down = True
    with caplog.at_level(logging.ERROR, logger="haven.shield"):
        number = await store.join("main", "", T0, KEPT)  # answered, not lost
        await store.join("main", "", T0, KEPT)
        await store.state("main", T0)
    assert number == 1  # the first place in this process's own line
    assert store.degraded
    assert store.current is local
    assert store.fallbacks == 1
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # logged once
    calls = shared.calls
    await store.join("main", "", T0, KEPT)
    assert shared.calls == calls  # while degraded, the shared store is not asked again
    assert (await local.state(store.local_name("main"), T0)).issued == 3


async def test_the_local_rooms_are_named_apart_from_the_shared_ones() -> None:
    store, shared, _ = stores()
    shared.down = True
    await store.ping()
    local_name = store.room("main")
    assert local_name != "main"
    assert local_name.startswith("main")
    assert store.local_name(local_name) == local_name  # a local name is not renamed again
    assert FallbackStore(MemoryStore()).local_name("main") != local_name  # each process its own


async def test_a_ticket_of_the_shared_line_is_not_live_in_the_local_one() -> None:
    store, shared, _ = stores()
    shared.down = True
    number = await store.join("main", "", T0, KEPT)  # ticket 1 of the local line
    await store.advance("main", 1, T0)
    local_name = store.room("main")
    # Ticket 1 of the shared line shares nothing with it but its number.
    assert not await store.claim("main", number, number, T0, KEPT)
    assert await store.claim(local_name, number, number, T0, KEPT)


async def test_a_ticket_asked_about_as_the_shared_store_fails_is_not_live() -> None:
    store, shared, _ = stores()
    shared.down = True
    await store.join("main", "", T0, KEPT)
    await store.advance("main", 1, T0)  # the local line has a ticket 1, reached
    shared.down = False
    await store.ping()
    shared.down = True  # and fails again while a shared ticket is asked about
    assert not await store.claim("main", 1, 1, T0, KEPT)
    assert store.degraded
    assert store.fallbacks == 2


async def test_a_ping_takes_the_shared_store_back_once_it_answers() -> None:
    store, shared, _ = stores()
    await store.join("main", "", T0, KEPT)
    shared.down = True
    await store.ping()  # never raises: the local store answers
    await store.ping()
    assert (store.degraded, store.fallbacks) == (True, 1)  # one outage, counted once
    shared.down = False
    await store.ping()
    assert (store.degraded, store.current) == (False, store.shared)
    assert store.room("main") == "main"
    await store.advance("main", 1, T0)
    assert await store.claim("main", 1, 1, T0, KEPT)  # the shared line kept its places


async def test_closing_closes_the_shared_store() -> None:
    store, shared, _ = stores()
    await store.close()
    assert shared.calls == 1


# Waiting out a failover (HAVEN_REDIS_SENTINELS): calls wait for the shared store, within a grace.


async def test_within_the_grace_a_join_waits_for_the_shared_store_and_gets_its_number() -> None:
    shared, local = Broken(), MemoryStore()
    store = FallbackStore(shared, local, grace=5.0)  # type: ignore[arg-type]
    assert await store.join("main", "", T0, KEPT) == 1
    shared.down = True

    async def promoted() -> None:
        await asyncio.sleep(0.5)  # the Sentinels promote a replica
        shared.down = False

    waiting = asyncio.ensure_future(store.join("main", "", T0, KEPT))
    await promoted()
    assert await asyncio.wait_for(waiting, 3.0) == 2  # a place in the shared line, not a local one
    assert not store.degraded
    assert store.fallbacks == 0
    assert (await local.state(store.local_name("main"), T0)).issued == 0


async def test_past_the_grace_the_waiting_calls_go_to_the_local_store() -> None:
    shared, local = Broken(), MemoryStore()
    store = FallbackStore(shared, local, grace=0.3)  # type: ignore[arg-type]
    shared.down = True
    started = asyncio.get_running_loop().time()
    numbers = await asyncio.gather(*(store.join("main", "", T0, KEPT) for _ in range(3)))
    assert 0.3 <= asyncio.get_running_loop().time() - started < 2.0
    assert sorted(numbers) == [1, 2, 3]  # the local line's
    assert store.degraded
    assert store.fallbacks == 1


async def test_within_the_grace_a_pass_is_not_held_up() -> None:
    shared, local = Broken(), MemoryStore()
    store = FallbackStore(shared, local, grace=5.0)  # type: ignore[arg-type]
    shared.down = True
    await asyncio.wait_for(store.hold_pass("main", "p1", T0 + 60), 0.5)  # skipped, not waited on
    assert not store.degraded
    shared.down = False
    await store.close()  # and the probe that was waiting for the shared store stops
