"""The waiting room with an injected clock: order, one place per account, lapses, passes, no-shows,
the event draw, the ETA and the safety net. The room's logic runs on both stores."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from haven.shield import eta, outflow
from haven.shield import room as room_module
from haven.shield.room import Place, Room, RoomSettings
from haven.shield.shuffle import Shuffle
from haven.shield.store import RoomState, Store
from haven.shield.store.memory import MemoryStore
from haven.shield.tokens import Signer, Ticket
from tests.shield.store_kit import Broken

START = 1_800_000_000.0


@dataclass
class Origin:
    """The limiter as the room sees it."""

    busy: bool = False
    load: float = 0.5
    level: float | None = None  # a pressure between the extremes, when set

    def pressure(self) -> float:
        if self.level is not None:
            return self.level
        return 1.0 if self.busy else 0.0

    def utilization(self) -> float:
        return self.load


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def make_room(store: Store, clock: Clock, *, origin: Origin | None = None, **settings: float) -> Room:
    return Room(store, Signer(["s" * 40]), origin or Origin(), RoomSettings(**settings), now=clock)  # type: ignore[arg-type]


async def tick(room: Room, clock: Clock, seconds: float = 1.0, times: int = 1) -> None:
    for _ in range(times):
        clock.now += seconds
        await room.tick()


async def queueing_room(store: Store, clock: Clock, **settings: float) -> Room:
    """A room that has just started queueing (it drains and stops once nobody waits)."""
    room = make_room(store, clock, origin=None, **settings)
    await store.configure(room.name, queueing=True)
    room.state = await store.state(room.name, clock())
    return room


async def test_an_idle_room_lets_everyone_in_and_a_busy_origin_starts_the_queue(store: Store) -> None:
    clock, origin = Clock(), Origin()
    room = make_room(store, clock, origin=origin)
    await room.tick()
    assert room.admits_directly()
    origin.busy = True
    await tick(room, clock)
    assert not room.admits_directly()
    assert room.state.queueing


async def test_the_room_follows_pressure_that_persists_and_steers_towards_roomy(store: Store) -> None:
    clock, origin = Clock(), Origin(level=0.1)
    room = make_room(store, clock, origin=origin, start_rate=10)
    tickets: list[Ticket] = []

    async def step(times: int = 1, *, come: bool = True) -> None:
        """Ticks, after each of which everyone reached comes in (when ``come``)."""
        for _ in range(times):
            await tick(room, clock)
            while come and tickets and room.effective(tickets[0].number) <= room.state.serving:
                assert await room.claim(tickets.pop(0)) is not None

    await room.tick()
    assert room.admits_directly()  # full now and then: not yet a reason to queue
    origin.level = 0.3
    tickets += [(await room.join(""))[0] for _ in range(200)]
    await step()
    assert room.state.queueing
    assert room.rate == pytest.approx(10 * outflow.EASE)  # some pressure: a little fewer
    origin.level = 0.6
    await step()
    assert room.rate == pytest.approx(10 * outflow.EASE * outflow.SHRINK)
    rate = room.rate
    origin.level, origin.load = 0.05, 0.5  # no pressure, a third of the way below ROOMY
    await step()
    assert room.rate == pytest.approx(rate * (1 + outflow.GROW_MAX / 3) + outflow.GROW_STEP)
    rate = room.rate
    origin.load = 0.8  # as full as it should be: held
    await step(3)
    assert room.rate == rate
    origin.load = 0.0  # idle: the largest step
    await step()
    assert room.rate == pytest.approx(rate * (1 + outflow.GROW_MAX) + outflow.GROW_STEP)
    await step(outflow.USE_TICKS, come=False)  # the line moves, but nobody comes in
    rate = room.rate
    await step(2, come=False)
    assert room.rate == rate  # a rate nobody uses is no reason to raise it


async def test_an_idle_room_meters_direct_admissions_and_a_flash_crowd_starts_the_queue(store: Store) -> None:
    """While idle, the rate meters passes given at once; it grows only while it is used, and a
    crowd faster than it starts the queue before the origin feels anything."""
    clock, origin = Clock(), Origin(load=0.1)
    room = make_room(store, clock, origin=origin, start_rate=5)
    await room.tick()
    for _ in range(20):  # unused: held at the start rate however long the calm lasts
        assert await room.let_in_directly()
        await tick(room, clock)
    assert room.rate == 5
    for _ in range(5):  # used: it grows with the traffic
        for _ in range(4):
            assert await room.let_in_directly()
        await tick(room, clock)
    assert room.rate > 5
    assert room.admits_directly()
    rate = room.rate
    let_in = 0
    while await room.let_in_directly():  # a crowd all at once: the bucket, then the queue
        let_in += 1
    assert let_in <= round(rate * room_module.BURST_SECONDS) + 1
    assert not room.admits_directly()
    assert room.state.queueing
    room.state = await store.state(room.name, clock())
    assert room.state.queueing  # in the store: every worker queues


async def test_the_queue_switches_itself_off_once_drained_and_healthy(store: Store) -> None:
    clock, origin = Clock(), Origin(busy=True)
    room = make_room(store, clock, origin=origin, start_rate=5)
    await room.tick()
    ticket, _ = await room.join("")
    origin.busy = False
    await tick(room, clock)  # the line moves: ticket 1 is reached
    assert await room.claim(ticket) is not None
    await tick(room, clock, times=4)
    assert not room.admits_directly()  # drained, but not for long enough yet (other workers)
    await tick(room, clock)
    assert room.admits_directly()


async def test_people_are_let_in_first_come_first_served(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock, start_rate=1, max_rate=1)
    tickets = [(await room.join(""))[0] for _ in range(5)]
    assert [t.number for t in tickets] == [1, 2, 3, 4, 5]
    reached_order = []
    for _ in range(8):
        await tick(room, clock)
        for ticket in tickets:
            if ticket.number not in reached_order and (await room.place(ticket)).reached:
                reached_order.append(ticket.number)
                assert await room.claim(ticket) is not None
    assert reached_order == [1, 2, 3, 4, 5]


async def test_a_ticket_cannot_claim_before_its_turn(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock)
    first, _ = await room.join("")
    second, _ = await room.join("")
    await store.advance(room.name, 1, clock())
    await tick(room, clock, 0.0001)
    assert await room.claim(second) is None
    assert await room.claim(first) is not None


async def test_a_signed_in_account_holds_one_place(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock)
    laptop, _ = await room.join("account-7")
    await room.join("account-8")
    phone, _ = await room.join("account-7")
    assert phone.number == laptop.number == 1
    anonymous, _ = await room.join("")
    assert anonymous.number == 3


async def test_a_place_never_checked_is_kept_and_lapses_only_after_its_turn_has_passed(store: Store) -> None:
    """No heartbeats: the page may close for an hour; once the counter passes the place, its
    holder has ``place_kept`` seconds to come back (on this worker's reading, and in the store)."""
    clock = Clock()
    room = await queueing_room(store, clock, place_kept=60, history=120, start_rate=1, min_rate=1, max_rate=1)
    first, _ = await room.join("")
    second, _ = await room.join("")
    await store.configure(room.name, mode="paused")
    await tick(room, clock, 3600)
    assert not (await room.place(first)).lapsed  # an hour later, nobody checked: still in line
    await store.configure(room.name, mode="auto", queueing=True)
    await tick(room, clock, times=3)  # both passed
    assert (await room.place(first)).reached
    await tick(room, clock, 25, times=2)  # 52 s after the turn came, the first comes back
    assert await room.claim(first) is not None
    await tick(room, clock, 30)  # the second waits too long
    assert (await room.place(second)).lapsed
    assert await room.claim(second) is None
    assert await room.claim(second, kept=120) is not None  # a longer window (the turn email's)
    await tick(room, clock, 150)  # the history forgets both places
    assert room.state.expired == 2
    assert room.state.lapsed == 0  # both were claimed in the end
    assert room.state.waiting == 0


async def test_places_never_claimed_are_counted_as_lapsed_once_forgotten(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock, place_kept=60, history=60, start_rate=2, min_rate=2, max_rate=2)
    tickets = [(await room.join(""))[0] for _ in range(4)]
    await tick(room, clock, times=3)
    assert [(await room.place(ticket)).reached for ticket in tickets] == [True] * 4
    assert await room.claim(tickets[0]) is not None
    await tick(room, clock, 61)
    assert room.state.lapsed == 3
    assert [(await room.place(ticket)).lapsed for ticket in tickets[1:]] == [True] * 3


async def test_passes_are_renewed_by_activity_not_at_every_request() -> None:
    clock = Clock()
    room = make_room(MemoryStore(), clock, pass_seconds=600, renew_after=60)
    granted, _ = await room.grant()
    clock.now += 30
    assert await room.renew(granted) is None  # fresh enough: no new cookie
    clock.now += 40
    renewed = await room.renew(granted)
    assert renewed is not None
    assert renewed[0].expires == clock.now + 600
    assert renewed[0].pass_id == granted.pass_id
    token = renewed[1]
    clock.now += 599
    assert room.read_pass(token).pass_id == granted.pass_id
    clock.now += 2
    with pytest.raises(ValueError, match="expired"):
        room.read_pass(token)


async def test_no_shows_are_measured_and_the_line_moves_faster_for_them() -> None:
    clock, store = Clock(), MemoryStore()
    room = await queueing_room(store, clock, start_rate=4, min_rate=4, max_rate=4)
    tickets = [(await room.join(""))[0] for _ in range(1500)]
    claimed: set[int] = set()

    async def stay_or_leave() -> None:
        for ticket in tickets[: room.state.serving]:
            # Every other visitor left the queue and never comes back.
            wanted = ticket.number % 2 == 0 and ticket.number not in claimed
            if wanted and (await room.place(ticket)).reached:
                assert await room.claim(ticket) is not None
                claimed.add(ticket.number)

    for _ in range(100):
        await tick(room, clock)
        await stay_or_leave()
    assert room.no_show == pytest.approx(0.5, abs=0.1)
    # Admissions keep to the rate the controller set (4 a second) despite the no-shows.
    before_claims, before_time = len(claimed), clock.now
    for _ in range(20):
        await tick(room, clock)
        await stay_or_leave()
    admitted_per_second = (len(claimed) - before_claims) / (clock.now - before_time)
    assert admitted_per_second == pytest.approx(4, rel=0.2)


async def claim_reached(room: Room, tickets: list[Ticket], claimed: set[int]) -> list[int]:
    """Claim every reached ticket, as visitors who keep their page open do; the numbers, in the
    order of their places."""
    reached = [t for t in tickets if t.number not in claimed and (await room.place(t)).reached]
    reached.sort(key=lambda t: room.effective(t.number))
    for ticket in reached:
        assert await room.claim(ticket) is not None
        claimed.add(ticket.number)
    return [t.number for t in reached]


async def test_the_eta_is_a_range_around_the_measured_speed_and_its_error_is_recorded() -> None:
    clock, store = Clock(), MemoryStore()
    room = await queueing_room(store, clock, start_rate=2, min_rate=2, max_rate=2)
    tickets = [(await room.join(""))[0] for _ in range(200)]
    claimed: set[int] = set()
    for _ in range(15):
        await tick(room, clock)
        await claim_reached(room, tickets, claimed)
    assert room.speed == pytest.approx(2, rel=0.2)
    ahead = tickets[-1].number - room.state.serving
    place = await room.place(tickets[-1])
    assert place.position == ahead
    assert place.eta_low == pytest.approx(ahead / (room.speed * 1.25))
    assert place.eta_low < ahead / 2 < place.eta_high
    late, _ = await room.join("")
    now_place = await room.place(late)
    assert late.predicted == pytest.approx((now_place.eta_low + now_place.eta_high) / 2, abs=1)
    tickets.append(late)
    while late.number not in claimed:
        await tick(room, clock)
        await claim_reached(room, tickets, claimed)
    assert 0 <= room.eta_error() < 0.25


async def test_the_first_people_in_a_new_line_are_told_waits_from_the_rate_it_will_move_at() -> None:
    """Measured from zero, the speed of a line that has just formed would promise waits many times
    too long; until the counter has moved, it is the rate the room lets people in."""
    clock, origin = Clock(), Origin(load=0.1)
    room = make_room(MemoryStore(), clock, origin=origin, start_rate=4, min_rate=4, max_rate=4)
    await tick(room, clock, times=5)  # a calm: no line
    origin.busy = True
    await tick(room, clock)
    assert room.state.queueing
    ticket, _ = await room.join("")
    for _ in range(39):
        ticket, _ = await room.join("")
    place = await room.place(ticket)
    assert place.position == 40
    assert place.eta_low == pytest.approx(40 / (4 * 1.25))
    assert ticket.predicted == pytest.approx(40 / 4 * (1 / 1.25 + 1 / 0.75) / 2 + 0.5, abs=1)
    await tick(room, clock, times=10)
    assert room.speed == pytest.approx(4, rel=0.1)  # and it does move at that rate


async def answered(task: asyncio.Task[Place]) -> bool:
    """Whether ``task`` is done once the loop has run everything that was ready to run: a poll of
    the task, never a wait on the clock."""
    for _ in range(50):
        if task.done():
            return True
        await asyncio.sleep(0)  # one turn of the loop
    return task.done()


async def test_a_check_near_the_front_is_answered_at_the_tick_that_reaches_it(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock, start_rate=1, min_rate=1, max_rate=1)
    tickets = [(await room.join(""))[0] for _ in range(40)]
    await tick(room, clock)
    near, far = tickets[3], tickets[-1]
    assert (await room.place(far)).eta_high > eta.HOLD_WITHIN
    far_check = asyncio.create_task(room.near_turn(far, await room.place(far)))
    assert await answered(far_check)  # far back: answered at once, no tick needed
    assert not far_check.result().reached
    held = asyncio.create_task(room.near_turn(near, await room.place(near)))
    assert not await answered(held)  # near the front: held for its turn
    ticks = 0
    while not held.done():
        await tick(room, clock)
        ticks += 1
        turn_came = room.effective(near.number) <= room.state.serving
        assert await answered(held) == turn_came  # answered at the tick that reaches it, not before
        assert ticks <= 4
    place = held.result()
    assert place.reached
    assert place.ticket == near


async def test_a_held_check_ends_when_the_rooms_clock_passes_its_hold(store: Store) -> None:
    """The hold is measured on the room's clock, the one the ticks move, not on the event loop's."""
    clock = Clock()
    room = await queueing_room(store, clock, start_rate=1, min_rate=1, max_rate=1)
    tickets = [(await room.join(""))[0] for _ in range(40)]
    await tick(room, clock)
    near = tickets[3]
    place = await room.place(near)
    assert not place.reached
    assert eta.due_soon(place.eta_high)
    await store.configure(room.name, mode="paused")  # the line stops: the turn will not come
    held = asyncio.create_task(room.near_turn(near, place, hold=5.0))
    try:
        assert not await answered(held)
        for _ in range(4):  # four seconds on the room's clock: still within the hold
            await tick(room, clock)
            assert not await answered(held)
        await tick(room, clock)  # five: the hold is over, however little the loop's clock moved
        assert await answered(held)
    finally:
        held.cancel()
    assert not held.result().reached


async def test_a_held_check_is_answered_when_the_ticks_stop() -> None:
    """A stopped ticker (and a room's clock that stands still with it) must not hold a check for
    ever: it is answered as it stands after a few ticks' time without a tick."""
    clock = Clock()
    room = await queueing_room(MemoryStore(), clock, tick_seconds=0.01, start_rate=1, min_rate=1, max_rate=1)
    tickets = [(await room.join(""))[0] for _ in range(40)]
    await tick(room, clock)
    place = await room.place(tickets[3])
    assert eta.due_soon(place.eta_high)
    held = room.near_turn(tickets[3], place)  # the default hold: ten seconds of the room's clock
    # A hang guard, not a speed limit: without a tick the check is answered within milliseconds.
    answer = await asyncio.wait_for(held, timeout=5.0)
    assert not answer.reached
    assert clock() == START + 1  # nothing moved the room's clock: the missing ticks ended the hold


async def test_with_several_workers_each_tells_the_speed_of_the_whole_line(store: Store) -> None:
    clock = Clock()
    workers = [await queueing_room(store, clock, start_rate=2, min_rate=2, max_rate=2) for _ in range(3)]
    for _ in range(300):
        await workers[0].join("")
    for _ in range(20):
        clock.now += 1.0
        for worker in workers:
            await worker.tick()
    for worker in workers:
        assert worker.speed == pytest.approx(6, rel=0.1)  # three workers of 2 a second each
    ticket, _ = await workers[1].join("")
    place = await workers[2].place(ticket)
    assert place.eta_low == pytest.approx(place.position / (6 * 1.25), rel=0.1)


async def test_a_paused_room_lets_nobody_in_and_says_it_cannot_estimate(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock)
    ticket, _ = await room.join("")
    await store.configure(room.name, mode="paused")
    await tick(room, clock, times=5)
    place = await room.place(ticket)
    assert not place.reached
    assert place.eta_high == -1


async def test_a_fixed_rate_is_shared_by_all_workers(store: Store) -> None:
    clock = Clock()
    workers = [make_room(store, clock) for _ in range(3)]
    for _ in range(100):
        await workers[0].join("")
    await store.configure(workers[0].name, mode="rate", rate=5)
    for _ in range(10):
        clock.now += 1
        for worker in workers:
            await worker.tick()
    assert workers[0].state.serving == pytest.approx(45, abs=5)  # 5 a second in total, not 15


async def test_opening_the_gates_lets_everyone_waiting_in(store: Store) -> None:
    clock = Clock()
    room = await queueing_room(store, clock)
    tickets = [(await room.join(""))[0] for _ in range(50)]
    await store.configure(room.name, mode="open")
    await tick(room, clock)
    assert room.admits_directly()
    assert all([(await room.place(t)).reached for t in tickets])


async def test_an_event_draws_the_prequeue_from_its_seed_then_serves_late_arrivals_in_order(
    store: Store,
) -> None:
    clock = Clock()
    room = make_room(store, clock, start_rate=3, min_rate=3, max_rate=3)
    await store.configure(room.name, mode="event", event_start=START + 60, event_seed="audit-me")
    await room.tick()
    assert not room.admits_directly()
    early = [(await room.join(""))[0] for _ in range(20)]
    place = await room.place(early[0])
    assert place.opens_at == START + 60
    assert place.position == 0  # no order before the draw
    await tick(room, clock, 1, times=60)  # the start
    assert room.state.prequeue == 20
    assert room.state.serving <= 3
    late = [(await room.join(""))[0] for _ in range(5)]
    admitted: list[int] = []
    claimed: set[int] = set()
    for _ in range(12):
        await tick(room, clock)
        admitted += await claim_reached(room, [*early, *late], claimed)
    assert admitted == [*Shuffle("audit-me", 20).order(), 21, 22, 23, 24, 25]
    assert admitted[:20] != list(range(1, 21))
    await tick(room, clock, times=2)
    assert room.state.mode == "auto"  # drained: back to the safety net


async def test_without_its_store_a_worker_runs_a_room_of_its_own_and_comes_back() -> None:
    clock, store = Clock(), Broken()
    room = make_room(store, clock)  # type: ignore[arg-type]
    await store.inner.configure(room.name, queueing=True)
    await room.tick()
    shared_ticket, shared_token = await room.join("")
    store.down = True
    await tick(room, clock)
    assert room.degraded
    assert room.fallbacks == 1
    with pytest.raises(ValueError, match="foreign"):
        room.read_ticket(shared_token)  # nor are the shared line's places in this process's own
    local_ticket, token = await room.join("")
    assert local_ticket.room != "main"  # a place in this process's own line
    assert room.read_ticket(token).number == local_ticket.number
    store.down = False
    await tick(room, clock)
    assert room.name == "main"  # back in the shared line
    with pytest.raises(ValueError, match="foreign"):
        room.read_ticket(token)  # places of the fallback line are not places in the shared one
    # The place taken before the outage was kept in the shared line, and counts again.
    assert room.read_ticket(shared_token).number == shared_ticket.number
    kept = await room.place(shared_ticket)
    assert not kept.lapsed
    assert kept.reached  # the shared line moved on while this worker was away
    assert await room.claim(shared_ticket) is not None


def test_room_state_defaults_describe_an_idle_room() -> None:
    state = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
    assert (state.mode, state.queueing, state.prequeue) == ("auto", False, -1)


async def test_an_event_in_a_room_that_served_people_before_still_queues_its_prequeue(store: Store) -> None:
    clock = Clock()
    room = make_room(store, clock, start_rate=2, min_rate=2, max_rate=2)
    for _ in range(30):  # an earlier evening: thirty people served
        await room.join("")
    await store.advance(room.name, 30, clock())
    await store.configure(room.name, mode="event", event_start=START + 10, event_seed="second night")
    await room.tick()
    early = [(await room.join(""))[0] for _ in range(20)]
    await tick(room, clock, 1, times=10)  # the start
    assert (room.state.event_base, room.state.prequeue) == (30, 50)
    places = sorted(room.effective(t.number) for t in early)
    assert places == list(range(31, 51))  # drawn after those served before, not among them
    reached = [t.number for t in early if (await room.place(t)).reached]
    assert len(reached) <= 2 * 2  # the line moves at its rate; nobody is let in by the draw itself
    shuffle = Shuffle("second night", 20)
    assert all(room.effective(t.number) == 30 + shuffle.place(t.number - 30) for t in early)


async def test_a_worker_that_falls_back_keeps_letting_in_the_people_already_in() -> None:
    clock, store = Clock(), Broken()
    room = make_room(store, clock)  # type: ignore[arg-type]
    _, token = await room.grant()
    store.down = True
    await tick(room, clock)
    assert room.name != "main"
    assert room.read_pass(token).room == "main"  # a pass is not refused as foreign


async def test_a_young_line_under_pressure_is_told_the_controller_may_fall_to_its_floor(store: Store) -> None:
    clock, origin = Clock(), Origin(level=0.3)  # pressure: the controller eases its rate down
    room = await queueing_room(store, clock, start_rate=8, min_rate=1, max_rate=50)
    room.health = origin
    for _ in range(50):
        await room.join("")
    await tick(room, clock, times=2)
    assert not room.line.measuring  # too young to have a speed of its own
    low, high = room.speed_range
    assert low == pytest.approx(1.0)  # the floor (one worker, nobody has failed to show yet)
    assert high == pytest.approx(room.speed * 1.25)
    origin.level = 0.0  # calm: the slow end is the band's again
    await tick(room, clock)
    assert room.speed_range[0] == pytest.approx(room.speed * 0.75)
    assert room.public.speed_low == room.speed_range[0]
