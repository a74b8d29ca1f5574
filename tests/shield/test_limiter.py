"""The admission limiter: priority partitions, the CoDel queue, the lag backstop, and a simulated
server whose latency rises past its capacity, which the adaptive limit must find and follow."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from haven.shield.limiter import LAG_SAMPLES, SUBMIT_QUEUE, Limiter, Permit, Priority, Shed, watch_loop_lag


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fixed(clock: FakeClock, limit: float) -> Limiter:
    """A limiter whose limit cannot move, so the tests below see only admission and queueing."""
    return Limiter(now=clock, initial_limit=limit, min_limit=limit, max_limit=limit)


async def hold(limiter: Limiter, priority: Priority, count: int) -> list[Permit]:
    return [await limiter.acquire(priority) for _ in range(count)]


async def waiter(limiter: Limiter, priority: Priority) -> asyncio.Task[Permit]:
    task = asyncio.create_task(limiter.acquire(priority))
    await asyncio.sleep(0)  # let it reach the queue
    return task


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


# Partitions -------------------------------------------------------------------------------------


async def test_sheddable_stops_at_half_the_limit_normal_waits_at_ninety_percent_critical_fills_it() -> None:
    limiter = fixed(FakeClock(), 10)
    await hold(limiter, Priority.ANONYMOUS, 5)
    with pytest.raises(Shed) as refused:
        await limiter.acquire(Priority.ANONYMOUS)
    assert refused.value.reason == "limit"
    assert refused.value.retry_after >= 1
    assert limiter.queued == 0  # anonymous work never waits

    await hold(limiter, Priority.IN, 4)
    normal = await waiter(limiter, Priority.IN)
    assert not normal.done()
    assert limiter.queued == 1

    await hold(limiter, Priority.SUBMIT, 1)
    assert limiter.in_flight == 10
    critical = await waiter(limiter, Priority.SUBMIT)
    assert not critical.done()
    assert limiter.queued == 2
    assert limiter.sheds["limit"] == 1
    critical.cancel()
    normal.cancel()
    await settle()


async def test_an_idle_worker_admits_a_request_costlier_than_the_whole_limit() -> None:
    limiter = fixed(FakeClock(), 10)
    hashing = await limiter.acquire(Priority.SUBMIT, cost=100)
    assert limiter.in_flight == 100
    page = await waiter(limiter, Priority.IN)
    assert not page.done()
    hashing.release()
    await settle()
    assert page.done()
    page.result().release()
    assert limiter.in_flight == 0


# The queue --------------------------------------------------------------------------------------


async def test_waiters_are_served_by_priority_then_in_arrival_order() -> None:
    limiter = fixed(FakeClock(), 10)
    holders = await hold(limiter, Priority.SUBMIT, 10)
    first, second = await waiter(limiter, Priority.IN), await waiter(limiter, Priority.IN)
    urgent = await waiter(limiter, Priority.SUBMIT)
    served: list[asyncio.Task[Permit]] = []
    for permit in holders[:4]:
        permit.release()
        await settle()
        served.extend(task for task in (first, second, urgent) if task.done() and task not in served)
    assert served == [urgent, first, second]
    assert limiter.queued == 0


async def test_a_queue_standing_past_the_interval_serves_the_newest_and_times_out_the_oldest() -> None:
    clock = FakeClock()
    limiter = fixed(clock, 10)
    holders = await hold(limiter, Priority.IN, 9)
    oldest = await waiter(limiter, Priority.IN)
    clock.now = 0.06
    middle, newest = await waiter(limiter, Priority.IN), await waiter(limiter, Priority.IN)
    clock.now = 0.11  # the queue has stood 110 ms: LIFO, and the oldest has waited past the interval
    holders[0].release()
    await settle()
    with pytest.raises(Shed) as dropped:
        oldest.result()
    assert dropped.value.reason == "codel"
    assert newest.done()
    assert not middle.done()
    middle.cancel()
    await settle()


async def test_once_the_queue_stands_codel_sheds_waiters_older_than_twice_the_target() -> None:
    clock = FakeClock()
    limiter = fixed(clock, 10)
    holders = await hold(limiter, Priority.IN, 9)
    clock.now = 0.05
    first = await waiter(limiter, Priority.IN)
    clock.now = 0.13
    holders[0].release()  # first waited 80 ms: a queue stood through CoDel's first interval
    await settle()
    assert first.done()
    clock.now = 0.2
    second, third = await waiter(limiter, Priority.IN), await waiter(limiter, Priority.IN)
    clock.now = 0.24
    holders[1].release()  # the interval closes: its minimum delay (80 ms) is over target
    await settle()
    assert second.done()
    clock.now = 0.26
    holders[2].release()  # third waited 60 ms: fine by the interval, too long for an overloaded queue
    await settle()
    with pytest.raises(Shed) as dropped:
        third.result()
    assert dropped.value.reason == "codel"
    clock.now = 0.27
    fresh = await waiter(limiter, Priority.IN)
    clock.now = 0.275
    holders[3].release()  # a fresh waiter still gets through
    await settle()
    assert fresh.done()
    assert limiter.sheds["codel"] == 1
    assert limiter.at_capacity()


async def test_a_full_queue_sheds_but_submissions_have_more_room_and_then_displace_the_newest_waiter() -> (
    None
):
    limiter = fixed(FakeClock(), 10)
    await hold(limiter, Priority.SUBMIT, 10)
    waiting = [await waiter(limiter, Priority.IN) for _ in range(10)]
    with pytest.raises(Shed) as refused:
        await limiter.acquire(Priority.IN)
    assert refused.value.reason == "queue_full"
    # Submissions queue on, up to SUBMIT_QUEUE times the bound, and nobody is displaced for them.
    room = 10 * SUBMIT_QUEUE - 10
    urgent = [await waiter(limiter, Priority.SUBMIT) for _ in range(room)]
    await settle()
    assert not any(task.done() for task in waiting + urgent)
    assert limiter.queued == 10 * SUBMIT_QUEUE
    # Beyond that, a submission takes the place of the newest less important waiter.
    last = await waiter(limiter, Priority.SUBMIT)
    await settle()
    with pytest.raises(Shed):
        waiting[-1].result()
    assert not last.done()
    assert limiter.sheds["queue_full"] == 2
    for task in [*waiting[:-1], *urgent, last]:
        task.cancel()
    await settle()
    assert limiter.queued == 0


async def test_a_waiter_whose_client_goes_away_leaves_no_slot_behind() -> None:
    limiter = fixed(FakeClock(), 10)
    holders = await hold(limiter, Priority.IN, 9)
    gone = await waiter(limiter, Priority.IN)
    gone.cancel()
    await settle()
    assert gone.cancelled()
    assert limiter.queued == 0
    holders[0].release()
    assert limiter.in_flight == 8

    # Granted and cancelled before it could run: the permit it was given comes back.
    await hold(limiter, Priority.IN, 1)
    late = await waiter(limiter, Priority.IN)
    holders[1].release()
    assert limiter.in_flight == 9  # handed to the waiter
    late.cancel()
    await settle()
    assert late.cancelled()
    assert limiter.in_flight == 8


# The adaptive limit -----------------------------------------------------------------------------


async def test_failures_shrink_the_limit_and_an_idle_worker_does_not_grow_it() -> None:
    clock = FakeClock()
    limiter = Limiter(now=clock, initial_limit=20)
    for _ in range(12):  # one request at a time, quick: far below half the limit
        permit = await limiter.acquire(Priority.IN)
        clock.now += 0.01
        permit.release()
    assert limiter.limit == 20
    for _ in range(12):
        permit = await limiter.acquire(Priority.IN)
        clock.now += 0.01
        permit.release(ok=False)
    assert limiter.limit == pytest.approx(18)


# The lag backstop -------------------------------------------------------------------------------


async def test_a_lagging_loop_sheds_pages_and_anonymous_calls_but_admits_submissions() -> None:
    clock = FakeClock()
    limiter = Limiter(now=clock)
    limiter.note_loop_lag(0.15)  # one late wake-up (a GC pause, say) is not overload
    (await limiter.acquire(Priority.IN)).release()
    limiter.note_loop_lag(0.15)
    for priority in (Priority.IN, Priority.ANONYMOUS):
        with pytest.raises(Shed) as refused:
            await limiter.acquire(priority)
        assert refused.value.reason == "lag"
    (await limiter.acquire(Priority.SUBMIT)).release()
    assert limiter.at_capacity()
    clock.now = 2.0
    limiter.note_loop_lag(0.001)
    (await limiter.acquire(Priority.IN)).release()
    assert not limiter.at_capacity()


class Sampled(Limiter):
    """A limiter that says when it is given a lag sample."""

    def __init__(self, clock: FakeClock, lag_threshold: float) -> None:
        super().__init__(now=clock, lag_threshold=lag_threshold)
        self.sampled = asyncio.Event()

    def note_loop_lag(self, seconds: float) -> None:
        super().note_loop_lag(seconds)
        self.sampled.set()


async def next_sample(limiter: Sampled) -> None:
    """Wait until the watcher has taken one more sample."""
    limiter.sampled.clear()
    # A hang guard, not a speed limit: a free loop is sampled every few milliseconds.
    await asyncio.wait_for(limiter.sampled.wait(), timeout=30)


async def test_the_lag_watcher_notices_a_callback_that_blocks_the_loop() -> None:
    # The limiter's clock stands still, so the backstop, once on, stays on while the test looks.
    limiter = Sampled(FakeClock(), lag_threshold=0.05)
    watcher = asyncio.create_task(watch_loop_lag(limiter, every=0.01))
    try:
        await next_sample(limiter)
        for _ in range(LAG_SAMPLES):  # slow sync calls on the loop, again and again
            time.sleep(0.08)  # noqa: ASYNC251 - blocking the loop is the point
            await next_sample(limiter)
            assert limiter.loop_lag > 0.05  # the watcher saw the loop late by the block
    finally:
        watcher.cancel()
    with pytest.raises(Shed) as refused:
        await limiter.acquire(Priority.IN)
    assert refused.value.reason == "lag"


# The simulation ---------------------------------------------------------------------------------

BASE = 0.04  # seconds: the simulated server's latency at or under capacity


@dataclass
class Phase:
    seconds: float
    capacity: int  # concurrent requests the server serves at BASE latency
    arrivals: float  # per second, open loop (a crowd does not wait for answers)


@dataclass
class Run:
    limits: list[tuple[float, float]] = field(default_factory=list)
    busy: list[tuple[float, bool]] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    sheds: list[float] = field(default_factory=list)


async def simulate(phases: list[Phase], seed: int, base: float = BASE) -> tuple[Limiter, Run]:
    """A discrete-event run on a fake clock. The server gives each request BASE latency while at most
    ``capacity`` are in service, and stretches it in proportion beyond that (capacity shared by all),
    with ±10 % noise. Requests are tasks; after each event the loop runs until they have acted."""
    clock = FakeClock()
    limiter = Limiter(now=clock)
    rng = random.Random(seed)
    run = Run()
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = itertools.count()
    tasks: set[asyncio.Task[None]] = set()
    server = {"in_service": 0, "capacity": phases[0].capacity}

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, (when, next(order), action))

    async def request() -> None:
        try:
            permit = await limiter.acquire(Priority.IN)
        except Shed:
            run.sheds.append(clock.now)
            return
        server["in_service"] += 1
        crowding = max(1.0, server["in_service"] / server["capacity"])
        latency = base * crowding * rng.uniform(0.9, 1.1)
        run.latencies.append((clock.now, latency))

        def finish() -> None:
            server["in_service"] -= 1
            permit.release()
            run.finished.append(clock.now)

        at(clock.now + latency, finish)

    def arrive() -> None:
        task = asyncio.create_task(request())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def change_capacity(capacity: int) -> Callable[[], None]:
        return lambda: server.__setitem__("capacity", capacity)

    def observe() -> None:
        run.limits.append((clock.now, limiter.limit))
        run.busy.append((clock.now, limiter.at_capacity()))

    start = 0.0
    for phase in phases:
        at(start, change_capacity(phase.capacity))
        moment = start + rng.expovariate(phase.arrivals)
        while moment < start + phase.seconds:
            at(moment, arrive)
            moment += rng.expovariate(phase.arrivals)
        start += phase.seconds
    for tick in range(int(start / 0.05)):
        at(tick * 0.05, observe)
    while events:
        clock.now, _, action = heapq.heappop(events)
        action()
        await asyncio.sleep(0)
    assert not tasks
    return limiter, run


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))]


async def test_the_limit_finds_the_servers_capacity_and_follows_it_down_and_back_up() -> None:
    capacity = 16
    crowd = 2.5 * capacity / BASE  # arrivals: two and a half times what the server can take
    phases = [
        Phase(2, capacity, 0.5 * capacity / BASE),  # calm: the baseline is learned
        Phase(3, capacity, crowd),
        Phase(3, capacity // 2, crowd),  # half the server is gone (a noisy neighbour, a slow disk)
        Phase(3, capacity, crowd),
        Phase(2.5, capacity, 0.25 * capacity / BASE),  # the crowd has gone: no longer busy
    ]
    limiter, run = await simulate(phases, seed=7)

    settled: dict[str, float] = {}
    start = 0.0
    for name, phase in zip(("calm", "crowd", "halved", "restored", "after"), phases, strict=True):
        # Judge the second half of each phase: the limiter gets the first half to adapt.
        begin, end = start + phase.seconds / 2, start + phase.seconds
        start += phase.seconds
        limits = [limit for when, limit in run.limits if begin <= when < end]
        busy = [flag for when, flag in run.busy if begin <= when < end]
        latencies = [latency for when, latency in run.latencies if begin <= when < end]
        throughput = sum(begin <= when < end for when in run.finished) / (end - begin)
        settled[name] = sum(limits) / len(limits)
        assert p99(latencies) <= 2 * BASE, name
        if name in ("calm", "after"):
            assert not any(busy), name
            continue
        assert 0.5 * phase.capacity <= settled[name] <= 2 * phase.capacity, (name, settled[name])
        assert all(busy), name
        assert throughput >= 0.9 * phase.capacity / BASE, (name, throughput)  # no needless shedding
    assert settled["halved"] < 0.7 * settled["crowd"]
    assert settled["restored"] > 1.4 * settled["halved"]
    assert run.sheds
    assert limiter.queued == 0
    assert limiter.in_flight == 0


async def test_a_crowd_that_lasts_does_not_teach_the_limiter_that_its_own_queueing_is_normal() -> None:
    """Half a minute at twice the capacity (a slower server, so it stays cheap to run): the baseline
    must not creep up with the latency the limiter itself causes, or the limit would climb with it."""
    capacity, base = 16, 0.1
    phases = [Phase(2, capacity, 0.5 * capacity / base), Phase(30, capacity, 2 * capacity / base)]
    _, run = await simulate(phases, seed=3, base=base)
    late = [limit for when, limit in run.limits if when >= 27]
    assert max(late) <= 2 * capacity
    assert p99([latency for when, latency in run.latencies if when >= 27]) <= 2 * base


async def test_pressure_is_the_share_of_recent_time_at_capacity_not_one_instant() -> None:
    clock = FakeClock()
    limiter = fixed(clock, 10)
    assert limiter.pressure() == 0.0
    sign_in = await limiter.acquire(Priority.SUBMIT, cost=10)  # one costly request fills the limit
    assert limiter.pressure() == pytest.approx(0.05)  # one 100 ms slot of the last two seconds
    clock.now = 0.15
    sign_in.release()
    assert limiter.pressure() == pytest.approx(0.05)  # no longer full: nothing new is noted
    for step in range(1, 11):  # full, then shedding, for a whole second
        clock.now = 0.15 + step / 10
        held = await hold(limiter, Priority.SUBMIT, 10)
        with pytest.raises(Shed):
            await limiter.acquire(Priority.ANONYMOUS)
        for permit in held:
            permit.release()
    assert 0.5 <= limiter.pressure() <= 0.6
    clock.now = 5.0
    assert limiter.pressure() == 0.0  # two seconds of calm forget it
