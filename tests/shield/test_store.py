"""The waiting room's store: the same semantics on the in-memory store and on Redis.

Every test taking ``store`` runs twice (see conftest.py). Times are passed explicitly, never slept.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from haven.shield.room import Room, RoomSettings
from haven.shield.store import Store, StoreUnavailable
from haven.shield.store.redis import HOLDER_BUCKETS, HOLDER_BUCKETS_PER_SWEEP, SWEEP_BATCH, RedisStore
from haven.shield.tokens import Signer
from tests.server import free_port
from tests.shield.redis_server import TEST_TIMEOUT, forget, unique_prefix

ROOM = "main"
HANG = 30.0  # seconds after which a call that neither answers nor fails is a hang
T0 = 1_764_000_000.25  # a realistic wall-clock time, with a fraction
KEPT = 60.0  # a passed place may be claimed this long
HISTORY = 120.0  # the store remembers passes this long


async def join_all(store: Store, count: int, now: float = T0) -> list[int]:
    return [await store.join(ROOM, "", now, KEPT) for _ in range(count)]


# Tickets ------------------------------------------------------------------------------------------


async def test_tickets_are_numbered_one_two_three_in_order(store: Store) -> None:
    assert await join_all(store, 3) == [1, 2, 3]
    assert (await store.state(ROOM, T0)).issued == 3


async def test_concurrent_joins_get_distinct_consecutive_numbers(store: Store) -> None:
    numbers = await asyncio.gather(*(store.join(ROOM, "", T0, KEPT) for _ in range(200)))
    assert sorted(numbers) == list(range(1, 201))


async def test_rooms_are_independent(store: Store) -> None:
    await join_all(store, 2)
    assert await store.join("other", "", T0, KEPT) == 1
    await store.advance("other", 1, T0)
    assert (await store.state(ROOM, T0)).serving == 0


async def test_an_account_keeps_its_number_while_it_waits(store: Store) -> None:
    first = await store.join(ROOM, "ada", T0, KEPT)
    await join_all(store, 5)
    assert await store.join(ROOM, "ada", T0 + 3600, KEPT) == first  # nobody checks in: still there
    assert (await store.state(ROOM, T0)).issued == 6


async def test_anonymous_visitors_always_get_a_new_number(store: Store) -> None:
    assert await join_all(store, 2) == [1, 2]


async def test_an_account_keeps_its_number_within_the_window_after_it_was_passed(store: Store) -> None:
    first = await store.join(ROOM, "ada", T0, KEPT)
    await store.advance(ROOM, 1, T0 + 10)
    assert await store.join(ROOM, "ada", T0 + 10 + KEPT, KEPT) == first
    assert await store.claim(ROOM, first, first, T0 + 20, KEPT)
    assert await store.join(ROOM, "ada", T0 + 30, KEPT) == first  # claimed: one place per account


async def test_an_account_gets_a_new_number_once_its_window_has_passed(store: Store) -> None:
    first = await store.join(ROOM, "ada", T0, KEPT)
    await store.advance(ROOM, 1, T0 + 10)
    assert await store.join(ROOM, "ada", T0 + 10 + KEPT + 1, KEPT) == first + 1


async def test_an_account_gets_a_new_number_after_a_sweep_forgot_its_place(store: Store) -> None:
    await store.join(ROOM, "ada", T0, KEPT)
    await store.advance(ROOM, 1, T0)
    await store.sweep(ROOM, T0 + HISTORY + 1, HISTORY)
    assert await store.join(ROOM, "ada", T0 + HISTORY + 1, 10 * HISTORY) == 2


# Advancing and claiming ---------------------------------------------------------------------------


async def test_advance_never_passes_the_last_ticket_issued(store: Store) -> None:
    await join_all(store, 3)
    assert await store.advance(ROOM, 2, T0) == 2
    assert await store.advance(ROOM, 5, T0) == 3
    assert (await store.state(ROOM, T0)).waiting == 0


async def test_advance_in_an_empty_room_stays_at_zero(store: Store) -> None:
    assert await store.advance(ROOM, 10, T0) == 0


async def test_the_store_knows_when_each_place_was_passed(store: Store) -> None:
    await join_all(store, 10)
    await store.advance(ROOM, 3, T0 + 1)
    await store.advance(ROOM, 4, T0 + 2)
    assert [await store.passed_at(ROOM, n) for n in (1, 3, 4, 7, 8)] == [T0 + 1, T0 + 1, T0 + 2, T0 + 2, None]


async def test_claim_is_false_before_the_place_is_reached_and_true_after(store: Store) -> None:
    await join_all(store, 2)
    assert not await store.claim(ROOM, 2, 2, T0, KEPT)
    await store.advance(ROOM, 2, T0)
    assert await store.claim(ROOM, 2, 2, T0, KEPT)
    assert (await store.state(ROOM, T0)).claimed == 1


async def test_claim_reaches_by_place_not_by_number(store: Store) -> None:
    """In an event's pre-queue, ticket 3 may stand at place 1: it is reached when place 1 is."""
    await join_all(store, 3)
    await store.advance(ROOM, 1, T0)
    assert not await store.claim(ROOM, 1, 3, T0, KEPT)
    assert await store.claim(ROOM, 3, 1, T0, KEPT)


async def test_a_place_is_exchanged_for_one_pass_only(store: Store) -> None:
    await join_all(store, 1)
    await store.advance(ROOM, 1, T0)
    assert await store.claim(ROOM, 1, 1, T0, KEPT)
    assert not await store.claim(ROOM, 1, 1, T0 + 1, KEPT)
    assert (await store.state(ROOM, T0)).claimed == 1


async def test_concurrent_claims_of_one_place_are_counted_once(store: Store) -> None:
    await join_all(store, 1)
    await store.advance(ROOM, 1, T0)
    claims = await asyncio.gather(*(store.claim(ROOM, 1, 1, T0, KEPT) for _ in range(20)))
    assert claims.count(True) == 1


async def test_a_place_never_checked_in_may_still_be_claimed_when_reached(store: Store) -> None:
    """No heartbeats: a page closed for an hour keeps its place."""
    await join_all(store, 3)
    await store.advance(ROOM, 3, T0 + 3600)
    assert await store.claim(ROOM, 3, 3, T0 + 3600 + KEPT, KEPT)


async def test_a_place_passed_too_long_ago_cannot_be_claimed(store: Store) -> None:
    await join_all(store, 2)
    await store.advance(ROOM, 2, T0)
    assert not await store.claim(ROOM, 1, 1, T0 + KEPT + 1, KEPT)
    assert await store.claim(ROOM, 2, 2, T0 + KEPT + 1, 2 * KEPT)  # a longer window (a turn link)


async def test_a_place_forgotten_by_the_sweep_cannot_be_claimed(store: Store) -> None:
    await join_all(store, 1)
    await store.advance(ROOM, 1, T0)
    await store.sweep(ROOM, T0 + HISTORY + 1, HISTORY)
    assert await store.passed_at(ROOM, 1) is None
    assert not await store.claim(ROOM, 1, 1, T0 + HISTORY + 1, 10 * HISTORY)
    assert (await store.state(ROOM, T0)).expired == 1


async def test_the_sweep_counts_places_never_claimed_as_lapsed(store: Store) -> None:
    await join_all(store, 10)
    await store.advance(ROOM, 4, T0)
    await store.advance(ROOM, 4, T0 + 50)
    for place in (2, 3, 6):
        assert await store.claim(ROOM, place, place, T0 + 55, KEPT)
    assert await store.sweep(ROOM, T0 + 40 + HISTORY, HISTORY) == 2  # 1 and 4 of the first four
    assert await store.sweep(ROOM, T0 + 60 + HISTORY, HISTORY) == 3  # 5, 7 and 8
    state = await store.state(ROOM, T0 + 60 + HISTORY)
    assert (state.expired, state.lapsed, state.claimed, state.waiting) == (8, 5, 3, 2)


async def test_the_sweep_keeps_recent_checkpoints(store: Store) -> None:
    await join_all(store, 3)
    await store.advance(ROOM, 1, T0)
    await store.advance(ROOM, 1, T0 + 100)
    assert await store.sweep(ROOM, T0 + HISTORY + 1, HISTORY) == 1
    assert await store.passed_at(ROOM, 2) == T0 + 100
    assert await store.claim(ROOM, 2, 2, T0 + HISTORY + 1, HISTORY)


async def test_a_sweep_of_many_checkpoints_forgets_them_all(store: Store) -> None:
    await join_all(store, 3 * SWEEP_BATCH)
    for second in range(3 * SWEEP_BATCH):
        await store.advance(ROOM, 1, T0 + second)
    assert await store.sweep(ROOM, T0 + 3 * SWEEP_BATCH + HISTORY, HISTORY) == 3 * SWEEP_BATCH
    assert (await store.state(ROOM, T0)).expired == 3 * SWEEP_BATCH


# The clocked advance ------------------------------------------------------------------------------


async def test_the_first_clocked_advance_only_starts_the_clock(store: Store) -> None:
    await join_all(store, 10)
    assert await store.advance_clocked(ROOM, 2.0, T0) == 0


async def test_a_clocked_advance_carries_the_fraction(store: Store) -> None:
    await join_all(store, 10)
    await store.advance_clocked(ROOM, 1.5, T0)
    assert await store.advance_clocked(ROOM, 1.5, T0 + 1) == 1
    assert await store.advance_clocked(ROOM, 1.5, T0 + 2) == 3
    assert await store.passed_at(ROOM, 3) == T0 + 2


async def test_a_clocked_advance_after_a_long_pause_restarts_the_clock(store: Store) -> None:
    await join_all(store, 10)
    await store.advance_clocked(ROOM, 1.0, T0)
    assert await store.advance_clocked(ROOM, 1.0, T0 + 60) == 0
    assert await store.advance_clocked(ROOM, 1.0, T0 + 62) == 2


async def test_a_clocked_advance_never_passes_the_last_ticket_issued(store: Store) -> None:
    await join_all(store, 3)
    await store.advance_clocked(ROOM, 100.0, T0)
    assert await store.advance_clocked(ROOM, 100.0, T0 + 1) == 3


# Passes, state and settings -----------------------------------------------------------------------


async def test_passes_are_counted_until_they_expire(store: Store) -> None:
    await store.hold_pass(ROOM, "a", T0 + 10)
    await store.hold_pass(ROOM, "b", T0 + 20)
    assert (await store.state(ROOM, T0 + 15)).passes == 1
    await store.hold_pass(ROOM, "a", T0 + 30)  # renewed
    assert (await store.state(ROOM, T0 + 25)).passes == 1
    await store.sweep(ROOM, T0 + 25, HISTORY)
    assert (await store.state(ROOM, T0)).passes == 1


async def test_waiting_is_the_people_in_line_whether_or_not_they_still_look(store: Store) -> None:
    await join_all(store, 5)
    await store.advance(ROOM, 2, T0)
    assert (await store.state(ROOM, T0 + 3600)).waiting == 3


async def test_a_new_room_is_empty_and_in_auto_mode(store: Store) -> None:
    state = await store.state(ROOM, T0)
    assert (state.issued, state.serving, state.waiting, state.passes, state.claimed) == (0, 0, 0, 0, 0)
    assert (state.mode, state.queueing, state.prequeue, state.expired, state.lapsed) == (
        "auto",
        False,
        -1,
        0,
        0,
    )


async def test_configure_keeps_the_fields_left_unset(store: Store) -> None:
    await store.configure(ROOM, mode="rate", rate=2.5)
    state = await store.configure(ROOM, queueing=True)
    assert (state.mode, state.rate, state.queueing) == ("rate", 2.5, True)


async def test_scheduling_an_event_resets_the_prequeue(store: Store) -> None:
    await join_all(store, 2)
    await store.configure(ROOM, mode="event", event_start=T0, event_seed="seed")
    await store.start_event(ROOM)
    state = await store.configure(ROOM, event_start=T0 + 100)
    assert state.prequeue == -1


async def test_start_event_fixes_the_prequeue_once(store: Store) -> None:
    await join_all(store, 3)
    await store.advance(ROOM, 1, T0)
    await store.configure(ROOM, mode="event", event_start=T0, event_seed="seed")
    assert await store.start_event(ROOM) == 3
    await join_all(store, 2)
    assert await store.start_event(ROOM) == 3
    state = await store.state(ROOM, T0)
    assert (state.prequeue, state.event_base) == (3, 1)


# Redis only: many workers, one room ---------------------------------------------------------------


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    """Four clients on one prefix, as four workers on different hosts would be."""
    prefix = unique_prefix()
    stores = [RedisStore(redis_url, prefix=prefix, timeout=TEST_TIMEOUT) for _ in range(4)]
    try:
        yield stores
    finally:
        await forget(stores[0])
        for worker in stores:
            await worker.close()


async def test_workers_sharing_a_room_never_lose_a_join_or_an_advance(workers: list[RedisStore]) -> None:
    joins = [
        w.join(ROOM, f"account-{k}-{i}" if i % 3 else "", T0, KEPT)
        for i in range(50)
        for k, w in enumerate(workers)
    ]
    assert sorted(await asyncio.gather(*joins)) == list(range(1, 201))
    advances = [w.advance(ROOM, 3, T0) for _ in range(10) for w in workers]
    assert sorted(await asyncio.gather(*advances)) == list(range(3, 121, 3))
    for worker in workers:
        state = await worker.state(ROOM, T0)
        assert (state.issued, state.serving, state.waiting) == (200, 120, 80)


async def test_anonymous_joins_together_share_one_round_trip(workers: list[RedisStore]) -> None:
    store = workers[0]
    assert await store.join(ROOM, "", T0, KEPT) == 1  # the script is loaded into Redis's cache
    before = await _script_calls(store)
    numbers = await asyncio.gather(*(store.join(ROOM, "", T0, KEPT) for _ in range(100)))
    assert numbers == list(range(2, 102))  # in the order they asked
    assert await _script_calls(store) - before == 1  # one script call for the hundred


async def _script_calls(store: RedisStore) -> int:
    """Scripts this Redis has run (the commands a script runs count as commands of their own)."""
    stats = await store._client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0)) + int(
        stats.get("cmdstat_eval", {}).get("calls", 0)
    )


async def test_workers_sharing_a_room_count_each_claim_once(workers: list[RedisStore]) -> None:
    await workers[0].join(ROOM, "", T0, KEPT)
    await workers[1].advance(ROOM, 1, T0)
    claims = await asyncio.gather(*(w.claim(ROOM, 1, 1, T0, KEPT) for w in workers for _ in range(5)))
    assert claims.count(True) == 1  # one pass for one ticket, whichever workers are asked
    assert (await workers[2].state(ROOM, T0)).claimed == 1


async def test_workers_sharing_a_room_agree_on_the_prequeue(workers: list[RedisStore]) -> None:
    async def join_then_start(worker: RedisStore) -> int:
        await worker.join(ROOM, "", T0, KEPT)
        return await worker.start_event(ROOM)

    assert len(set(await asyncio.gather(*(join_then_start(w) for w in workers for _ in range(10))))) == 1


async def test_sweeps_forget_accounts_whose_place_expired(workers: list[RedisStore]) -> None:
    store = workers[0]
    for name in ("ada", "bob", "cy"):
        await store.join(ROOM, name, T0, KEPT)
    await store.advance(ROOM, 1, T0)
    await store.advance(ROOM, 1, T0 + 100)
    for _ in range(HOLDER_BUCKETS // HOLDER_BUCKETS_PER_SWEEP):  # one round of the buckets
        await store.sweep(ROOM, T0 + HISTORY + 1, HISTORY)
    client = store._client
    assert not await client.exists(store.holder_bucket(ROOM, "ada"))  # place 1 expired
    assert await client.hgetall(store.holder_bucket(ROOM, "bob")) == {"bob": "2"}  # passed lately
    assert await client.hgetall(store.holder_bucket(ROOM, "cy")) == {"cy": "3"}  # still waiting


async def test_join_many_issues_consecutive_numbers(workers: list[RedisStore]) -> None:
    assert await workers[0].join_many(ROOM, ["", "ada", "ada", ""], T0, KEPT) == [1, 2, 2, 3]


async def test_a_person_waiting_costs_redis_nothing(workers: list[RedisStore]) -> None:
    store = workers[0]
    await store.join_many(ROOM, [""] * 5000, T0, KEPT)
    keys = [key async for key in store._client.scan_iter(match=f"{store.prefix}*")]
    assert keys == [store.keys(ROOM)[0]]  # only the counters: no key, no entry per person


# Redis only: an unreachable store fails fast ------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers, like a hung Redis."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


class Calm:
    """An origin with room to spare, as the room reads it."""

    def pressure(self) -> float:
        return 0.0

    def utilization(self) -> float:
        return 0.0


def every_method(store: RedisStore) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    return [
        ("join", lambda: store.join(ROOM, "ada", T0, KEPT)),
        ("join anonymous", lambda: store.join(ROOM, "", T0, KEPT)),
        ("join_many", lambda: store.join_many(ROOM, ["", ""], T0, KEPT)),
        ("claim", lambda: store.claim(ROOM, 1, 1, T0, KEPT)),
        ("hold_pass", lambda: store.hold_pass(ROOM, "p", T0)),
        ("advance", lambda: store.advance(ROOM, 1, T0)),
        ("advance_clocked", lambda: store.advance_clocked(ROOM, 1.0, T0)),
        ("passed_at", lambda: store.passed_at(ROOM, 1)),
        ("state", lambda: store.state(ROOM, T0)),
        ("configure", lambda: store.configure(ROOM, mode="paused")),
        ("start_event", lambda: store.start_event(ROOM)),
        ("sweep", lambda: store.sweep(ROOM, T0, HISTORY)),
        ("ping", store.ping),
    ]


async def fails(call: Callable[[], Awaitable[object]]) -> None:
    """``call`` raises ``StoreUnavailable`` (and not anything else). The outer bound only guards
    against a hang, far beyond any socket timeout: how fast it fails is measured in bench/."""
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(call(), timeout=HANG)


@pytest.mark.parametrize("server", ["refusing", "silent"])
async def test_an_unreachable_redis_raises_store_unavailable_from_every_method(
    server: str, request: pytest.FixtureRequest
) -> None:
    port = free_port() if server == "refusing" else request.getfixturevalue("silent_port")
    store = RedisStore(f"redis://127.0.0.1:{port}/0", prefix=unique_prefix())
    try:
        # All at once: each waits for its own timeout, and the test takes one timeout, not twelve.
        await asyncio.gather(*(fails(call) for _, call in every_method(store)))
    finally:
        await store.close()


@pytest.mark.parametrize("server", ["refusing", "silent"])
async def test_a_room_on_an_unreachable_redis_falls_back_and_keeps_answering(
    server: str, request: pytest.FixtureRequest
) -> None:
    port = free_port() if server == "refusing" else request.getfixturevalue("silent_port")
    shared = RedisStore(f"redis://127.0.0.1:{port}/0", prefix=unique_prefix())
    room = Room(shared, Signer(["s" * 40]), Calm(), RoomSettings(), now=lambda: T0)
    try:
        await asyncio.wait_for(room.tick(), timeout=HANG)
        assert room.degraded
        assert room.fallbacks == 1
        ticket, _ = await asyncio.wait_for(room.join(""), timeout=HANG)
        assert ticket.room == room.name != "main"  # a place in this worker's own line
        assert not (await room.place(ticket)).lapsed
    finally:
        await shared.close()
