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
from haven.shield.store.redis import HOLDER_BUCKETS, HOLDER_BUCKETS_PER_SWEEP, SETTLE_BATCH, RedisStore
from haven.shield.tokens import Signer
from tests.server import free_port
from tests.shield.redis_server import TEST_TIMEOUT, forget, unique_prefix

ROOM = "main"
HANG = 30.0  # seconds after which a call that neither answers nor fails is a hang
T0 = 1_764_000_000.25  # a realistic wall-clock time, with a fraction
TTL = 60.0


async def join_all(store: Store, count: int, now: float = T0) -> list[int]:
    return [await store.join(ROOM, "", now, TTL) for _ in range(count)]


# Tickets ------------------------------------------------------------------------------------------


async def test_tickets_are_numbered_one_two_three_in_order(store: Store) -> None:
    assert await join_all(store, 3) == [1, 2, 3]
    assert (await store.state(ROOM, T0, TTL)).issued == 3


async def test_concurrent_joins_get_distinct_consecutive_numbers(store: Store) -> None:
    numbers = await asyncio.gather(*(store.join(ROOM, "", T0, TTL) for _ in range(200)))
    assert sorted(numbers) == list(range(1, 201))


async def test_rooms_are_independent(store: Store) -> None:
    await join_all(store, 2)
    assert await store.join("other", "", T0, TTL) == 1
    await store.advance("other", 1)
    assert (await store.state(ROOM, T0, TTL)).serving == 0


async def test_an_account_keeps_its_number_while_its_ticket_is_live(store: Store) -> None:
    first = await store.join(ROOM, "ada", T0, TTL)
    await store.join(ROOM, "", T0, TTL)
    assert await store.join(ROOM, "ada", T0 + 50, TTL) == first
    # Joining again counts as a check-in: still live 50 s after that, 100 s after the first join.
    assert await store.join(ROOM, "ada", T0 + 100, TTL) == first
    assert await store.join(ROOM, "bob", T0 + 100, TTL) == 3


async def test_anonymous_visitors_always_get_a_new_number(store: Store) -> None:
    assert await join_all(store, 2) == [1, 2]


async def test_an_account_gets_a_new_number_after_its_ticket_lapsed(store: Store) -> None:
    assert await store.join(ROOM, "ada", T0, TTL) == 1
    assert await store.join(ROOM, "ada", T0 + TTL + 1, TTL) == 2
    assert await store.check_in(ROOM, 2, T0 + TTL + 2, TTL)


async def test_an_account_gets_a_new_number_after_a_sweep(store: Store) -> None:
    assert await store.join(ROOM, "ada", T0, TTL) == 1
    assert await store.sweep(ROOM, T0 + TTL + 1, TTL) == 1
    assert await store.join(ROOM, "ada", T0 + TTL + 1, TTL) == 2


async def test_an_account_keeps_its_claimed_number_within_the_ttl(store: Store) -> None:
    number = await store.join(ROOM, "ada", T0, TTL)
    await store.advance(ROOM, 1)
    assert await store.claim(ROOM, number, number, T0 + 10, TTL)
    assert await store.join(ROOM, "ada", T0 + 60, TTL) == number
    assert await store.join(ROOM, "ada", T0 + 71, TTL) == number + 1


# Check-ins ----------------------------------------------------------------------------------------


async def test_check_in_is_true_while_live_and_false_after_the_ttl(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    assert await store.check_in(ROOM, number, T0 + TTL, TTL)  # exactly at the limit: still live
    assert await store.check_in(ROOM, number, T0 + 2 * TTL, TTL)  # renewed by the previous one
    assert not await store.check_in(ROOM, number, T0 + 3 * TTL + 0.5, TTL)


async def test_a_ticket_never_issued_does_not_check_in(store: Store) -> None:
    await join_all(store, 1)
    assert not await store.check_in(ROOM, 2, T0, TTL)
    assert not await store.check_in(ROOM, 0, T0, TTL)


async def test_a_swept_ticket_does_not_check_in(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.sweep(ROOM, T0 + TTL + 1, TTL)
    assert not await store.check_in(ROOM, number, T0 + TTL + 1, 10 * TTL)


async def test_a_reached_ticket_stays_live_until_the_ttl_after_its_last_check_in(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.advance(ROOM, 1)
    assert await store.check_in(ROOM, number, T0 + 50, TTL)
    assert await store.claim(ROOM, number, number, T0 + 100, TTL)


# Advancing and claiming ---------------------------------------------------------------------------


async def test_advance_never_passes_the_last_ticket_issued(store: Store) -> None:
    await join_all(store, 5)
    assert await store.advance(ROOM, 2) == 2
    assert await store.advance(ROOM, 0) == 2
    assert await store.advance(ROOM, -3) == 2
    assert await store.advance(ROOM, 100) == 5
    assert (await store.state(ROOM, T0, TTL)).serving == 5


async def test_advance_in_an_empty_room_stays_at_zero(store: Store) -> None:
    assert await store.advance(ROOM, 10) == 0


async def test_claim_is_false_before_the_ticket_is_reached_and_true_after(store: Store) -> None:
    await join_all(store, 2)
    assert not await store.claim(ROOM, 2, 2, T0 + 1, TTL)
    await store.advance(ROOM, 2)
    assert await store.claim(ROOM, 2, 2, T0 + 1, TTL)
    assert (await store.state(ROOM, T0 + 1, TTL)).claimed == 1


async def test_claim_reaches_by_place_not_by_number(store: Store) -> None:
    """In an event the pre-queue is shuffled: ticket 3 may have drawn place 1."""
    await join_all(store, 3)
    await store.advance(ROOM, 1)
    assert not await store.claim(ROOM, 1, 2, T0 + 1, TTL)
    assert await store.claim(ROOM, 3, 1, T0 + 1, TTL)
    state = await store.state(ROOM, T0 + 1, TTL)
    assert (state.claimed, state.waiting) == (1, 1)  # ticket 2; ticket 3 left the queue with its pass


async def test_a_ticket_is_exchanged_for_one_pass_only(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.advance(ROOM, 1)
    assert await store.claim(ROOM, number, number, T0 + 1, TTL)
    assert not await store.claim(ROOM, number, number, T0 + 2, TTL)  # a copy of the cookie
    assert await store.check_in(ROOM, number, T0 + 1 + TTL, TTL)  # still told it is their turn
    assert (await store.state(ROOM, T0 + 2, TTL)).claimed == 1
    assert not await store.check_in(ROOM, number, T0 + 2 + TTL, TTL)


async def test_concurrent_claims_of_one_ticket_are_counted_once(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.advance(ROOM, 1)
    claims = await asyncio.gather(*(store.claim(ROOM, number, number, T0 + 1, TTL) for _ in range(20)))
    assert sorted(claims) == [False] * 19 + [True]
    assert (await store.state(ROOM, T0 + 1, TTL)).claimed == 1


async def test_a_lapsed_ticket_cannot_be_claimed(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.advance(ROOM, 1)
    assert not await store.claim(ROOM, number, number, T0 + TTL + 1, TTL)
    assert (await store.state(ROOM, T0 + TTL + 1, TTL)).claimed == 0


async def test_a_swept_claim_is_no_longer_honoured(store: Store) -> None:
    number = await store.join(ROOM, "", T0, TTL)
    await store.advance(ROOM, 1)
    await store.claim(ROOM, number, number, T0, TTL)
    assert await store.sweep(ROOM, T0 + TTL + 1, TTL) == 0  # claims are not lapsed tickets
    assert not await store.claim(ROOM, number, number, T0 + TTL + 1, 10 * TTL)


async def test_a_large_advance_leaves_every_ticket_where_it_can_be_found(store: Store) -> None:
    """On Redis, serving passes more tickets than one script moves (``SETTLE_BATCH``)."""
    total = 2 * SETTLE_BATCH + 500
    await join_all(store, total)
    assert await store.advance(ROOM, total - 100) == total - 100
    assert (await store.state(ROOM, T0 + 1, TTL)).waiting == 100
    assert await store.check_in(ROOM, 1, T0 + 1, TTL)
    assert await store.claim(ROOM, total - 100, total - 100, T0 + 1, TTL)
    assert not await store.claim(ROOM, total - 99, total - 99, T0 + 1, TTL)
    assert await store.sweep(ROOM, T0 + TTL + 0.5, TTL) == total - 2  # all but 1 (checked in) and the claim


# The clocked advance ------------------------------------------------------------------------------


async def test_the_first_clocked_advance_only_starts_the_clock(store: Store) -> None:
    await join_all(store, 50)
    assert await store.advance_clocked(ROOM, 10.0, T0) == 0
    assert await store.advance_clocked(ROOM, 10.0, T0 + 1) == 10


async def test_a_clocked_advance_carries_the_fraction(store: Store) -> None:
    await join_all(store, 50)
    await store.advance_clocked(ROOM, 2.5, T0)
    assert await store.advance_clocked(ROOM, 2.5, T0 + 1) == 2
    assert await store.advance_clocked(ROOM, 2.5, T0 + 2) == 5
    assert await store.advance_clocked(ROOM, 0.3, T0 + 3) == 5
    assert await store.advance_clocked(ROOM, 0.8, T0 + 4) == 6  # 0.8 and the 0.3 carried


async def test_a_clocked_advance_after_a_long_pause_restarts_the_clock(store: Store) -> None:
    await join_all(store, 500)
    await store.advance_clocked(ROOM, 10.0, T0)
    assert await store.advance_clocked(ROOM, 10.0, T0 + 10.5) == 0
    assert await store.advance_clocked(ROOM, 10.0, T0 + 10.5) == 0  # no time elapsed
    assert await store.advance_clocked(ROOM, 10.0, T0 + 20.5) == 100


async def test_a_clocked_advance_never_passes_the_last_ticket_issued(store: Store) -> None:
    await join_all(store, 5)
    await store.advance_clocked(ROOM, 100.0, T0)
    assert await store.advance_clocked(ROOM, 100.0, T0 + 1) == 5


# Passes and the room's state ----------------------------------------------------------------------


async def test_passes_are_counted_until_they_expire(store: Store) -> None:
    await store.hold_pass(ROOM, "p1", T0 + 10)
    await store.hold_pass(ROOM, "p2", T0 + 20)
    await store.hold_pass(ROOM, "p1", T0 + 30)  # renewed, still one pass
    assert (await store.state(ROOM, T0, TTL)).passes == 2
    assert (await store.state(ROOM, T0 + 20, TTL)).passes == 1  # expiring at ``now`` is not ahead
    assert (await store.state(ROOM, T0 + 30, TTL)).passes == 0


async def test_waiting_counts_only_live_tickets_above_serving(store: Store) -> None:
    await join_all(store, 4, T0)
    await join_all(store, 3, T0 + 30)
    await store.advance(ROOM, 2)
    await store.check_in(ROOM, 3, T0 + 30, TTL)
    state = await store.state(ROOM, T0 + 61, TTL)
    assert (state.issued, state.serving, state.waiting) == (7, 2, 4)  # 3 and 5..7
    assert (await store.state(ROOM, T0 + 91, TTL)).waiting == 0


async def test_a_new_room_is_empty_and_in_auto_mode(store: Store) -> None:
    state = await store.state(ROOM, T0, TTL)
    assert (state.issued, state.serving, state.waiting, state.passes) == (0, 0, 0, 0)
    assert (state.mode, state.rate, state.queueing, state.prequeue) == ("auto", 0.0, False, -1)


async def test_configure_keeps_the_fields_left_unset(store: Store) -> None:
    await store.configure(ROOM, mode="rate", rate=12.5, queueing=True, event_seed="s33d")
    state = await store.configure(ROOM, mode="paused")
    assert (state.mode, state.rate, state.queueing, state.event_seed) == ("paused", 12.5, True, "s33d")
    assert await store.state(ROOM, T0, TTL) == state
    state = await store.configure(ROOM, queueing=False, rate=0.1)
    assert (state.mode, state.rate, state.queueing) == ("paused", 0.1, False)


async def test_scheduling_an_event_resets_the_prequeue(store: Store) -> None:
    await join_all(store, 3)
    await store.configure(ROOM, mode="event", event_start=T0 + 3600.125)
    assert await store.start_event(ROOM) == 3
    assert (await store.configure(ROOM, event_seed="x")).prequeue == 3
    state = await store.configure(ROOM, event_start=T0 + 7200)
    assert (state.prequeue, state.event_start, state.mode) == (-1, T0 + 7200, "event")


async def test_start_event_fixes_the_prequeue_once(store: Store) -> None:
    await join_all(store, 5)

    async def join_then_start() -> int:
        await store.join(ROOM, "", T0, TTL)
        return await store.start_event(ROOM)

    fixed = await asyncio.gather(*(join_then_start() for _ in range(20)))
    assert len(set(fixed)) == 1
    assert 6 <= fixed[0] <= 25
    await join_all(store, 1)
    assert await store.start_event(ROOM) == fixed[0]
    assert (await store.state(ROOM, T0, TTL)).prequeue == fixed[0]


# Sweeping -----------------------------------------------------------------------------------------


async def test_sweep_counts_lapsed_tickets_and_drops_expired_passes(store: Store) -> None:
    await join_all(store, 3, T0)
    await join_all(store, 2, T0 + 30)
    await store.advance(ROOM, 1)  # a reached ticket lapses like any other
    await store.hold_pass(ROOM, "old", T0 + 10)
    await store.hold_pass(ROOM, "new", T0 + 100)
    assert await store.sweep(ROOM, T0 + TTL + 1, TTL) == 3
    assert await store.sweep(ROOM, T0 + TTL + 1, TTL) == 0
    assert await store.sweep(ROOM, T0 + TTL + 31, TTL) == 2
    state = await store.state(ROOM, T0 + TTL + 31, TTL)
    assert (state.lapsed, state.waiting, state.passes, state.issued) == (5, 0, 1, 5)


async def test_sweep_keeps_live_tickets(store: Store) -> None:
    await join_all(store, 3)
    await store.check_in(ROOM, 2, T0 + 50, TTL)
    assert await store.sweep(ROOM, T0 + 100, TTL) == 2
    assert await store.check_in(ROOM, 2, T0 + 100, TTL)
    assert (await store.state(ROOM, T0 + 100, TTL)).waiting == 1


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
        w.join(ROOM, f"account-{k}-{i}" if i % 3 else "", T0, TTL)
        for i in range(50)
        for k, w in enumerate(workers)
    ]
    assert sorted(await asyncio.gather(*joins)) == list(range(1, 201))
    advances = [w.advance(ROOM, 3) for _ in range(10) for w in workers]
    assert sorted(await asyncio.gather(*advances)) == list(range(3, 121, 3))
    for worker in workers:
        state = await worker.state(ROOM, T0, TTL)
        assert (state.issued, state.serving, state.waiting) == (200, 120, 80)


async def test_workers_sharing_a_room_count_each_claim_once(workers: list[RedisStore]) -> None:
    await workers[0].join(ROOM, "", T0, TTL)
    await workers[1].advance(ROOM, 1)
    claims = await asyncio.gather(*(w.claim(ROOM, 1, 1, T0, TTL) for w in workers for _ in range(5)))
    assert claims.count(True) == 1  # one pass for one ticket, whichever workers are asked
    assert (await workers[2].state(ROOM, T0, TTL)).claimed == 1


async def test_workers_sharing_a_room_agree_on_the_prequeue(workers: list[RedisStore]) -> None:
    async def join_then_start(worker: RedisStore) -> int:
        await worker.join(ROOM, "", T0, TTL)
        return await worker.start_event(ROOM)

    assert len(set(await asyncio.gather(*(join_then_start(w) for w in workers for _ in range(10))))) == 1


async def test_a_worker_dying_in_the_middle_of_an_advance_leaves_a_usable_room(
    workers: list[RedisStore],
) -> None:
    """Only the first batch of an advance ran (the worker died): others carry on from ``moved``."""
    await workers[0].join_many(ROOM, [""] * 30, T0, TTL)
    dying = workers[0]
    await dying._advance(dying.keys(ROOM), ["20", "5"])
    other = workers[1]
    assert await other.check_in(ROOM, 12, T0 + 1, TTL)  # passed by serving, not moved yet
    assert await other.claim(ROOM, 15, 15, T0 + 1, TTL)
    assert await other.advance(ROOM, 0) == 20
    assert (await other.state(ROOM, T0 + 1, TTL)).waiting == 10
    assert await other.claim(ROOM, 12, 12, T0 + 2, TTL)


async def test_sweeps_forget_accounts_whose_ticket_is_gone(workers: list[RedisStore]) -> None:
    store = workers[0]
    for name in ("ada", "bob", "cy"):
        await store.join(ROOM, name, T0, TTL)
    await store.check_in(ROOM, 2, T0 + 50, TTL)
    for _ in range(HOLDER_BUCKETS // HOLDER_BUCKETS_PER_SWEEP):  # one round of the buckets
        await store.sweep(ROOM, T0 + TTL + 1, TTL)
    client = store._client
    assert await client.hgetall(store.holder_bucket(ROOM, "bob")) == {"bob": "2"}
    for name in ("ada", "cy"):
        assert not await client.exists(store.holder_bucket(ROOM, name))


async def test_join_many_issues_consecutive_numbers(workers: list[RedisStore]) -> None:
    assert await workers[0].join_many(ROOM, ["", "ada", "ada", ""], T0, TTL) == [1, 2, 2, 3]


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
        ("join", lambda: store.join(ROOM, "ada", T0, TTL)),
        ("join_many", lambda: store.join_many(ROOM, ["", ""], T0, TTL)),
        ("check_in", lambda: store.check_in(ROOM, 1, T0, TTL)),
        ("claim", lambda: store.claim(ROOM, 1, 1, T0, TTL)),
        ("hold_pass", lambda: store.hold_pass(ROOM, "p", T0)),
        ("advance", lambda: store.advance(ROOM, 1)),
        ("advance_clocked", lambda: store.advance_clocked(ROOM, 1.0, T0)),
        ("state", lambda: store.state(ROOM, T0, TTL)),
        ("configure", lambda: store.configure(ROOM, mode="paused")),
        ("start_event", lambda: store.start_event(ROOM)),
        ("sweep", lambda: store.sweep(ROOM, T0, TTL)),
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
