"""The waiting room: who waits, who enters, and how fast the line moves.

A room is a safety net by default ("auto" mode). It stays idle while the origin is healthy: every
visitor gets a pass at once. When the admission limiter says the origin has been at capacity for a
good part of the last two seconds (its *pressure*, 30 % or more) it starts queueing new visitors
(people holding a pass go on as before), lets them in as fast as the origin can take them, and
switches itself off once the queue has drained. Operators can instead pause the outflow, fix its
rate, open the gates, or schedule an event (everyone who arrives before the start is shuffled at the
start; FIFO after).

This module holds the visitors' operations and the tick that ties the parts together: the outflow
controller (``outflow.py``, a pure function of the origin's health), the ETA model (``eta.py``) and
the store with its stand-in for when the shared one is down (``store/fallback.py``).

While the room is idle, the controller's rate meters direct admissions (a bucket of two seconds'
worth). It grows only while it is used, so a flash crowd meets the rate the origin was last seen to
take and starts the queue within a second, before the crowd has reached the origin.

Nobody checks in: a place is a number, kept while the counter has not reached it and for
``place_kept`` seconds after (the holder may close the page and come back). The serving counter moves
by ``rate × tick ÷ (1 − no-show rate)``: people who left the queue do not claim their turn, so the
counter moves past them faster and the origin stays busy. With several
workers each adds its own share, so the total follows the health of every worker. A fixed rate
("rate" mode) is shared through the store's clocked advance instead.

At each tick the room publishes its public state (``public.py``): the document from which every
waiting page works out its own position and wait, cached at the edge. The wait predicted at the
join is written into the ticket, and compared with the actual wait when the ticket is claimed, so
the room can report its own ETA error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from haven.shield import outflow
from haven.shield.eta import HOLD_SECONDS, LineMeter, SpeedBand, due_soon, wait_range
from haven.shield.public import PublicState, Status
from haven.shield.shuffle import Shuffle
from haven.shield.store import RoomState, Store
from haven.shield.store.checkpoints import Checkpoints
from haven.shield.store.fallback import FallbackStore
from haven.shield.tokens import Pass, Signer, Ticket

logger = logging.getLogger("haven.shield")

# The limiter's pressure (the share of the last 2 s it was at capacity) turns the safety net on.
# People let in now load the origin for minutes, so the room reacts to what persists, not to an
# instant:
QUEUE_AT: Final = 0.3  # start queueing new visitors at this pressure (and drain only below it)
DRAIN_TICKS: Final = 5  # ticks in a row with nobody waiting before the safety net switches off
BURST_SECONDS: Final = 2.0  # idle, direct admissions come from a bucket of this many seconds' rate
# A held check wakes at every tick to see whether its turn has come. Ticks that stop coming (the
# ticker died, the loop is stuck) must not hold it for ever: after this many ticks' time without
# one, it is answered as it stands.
MISSED_TICKS: Final = 3


class Health(Protocol):
    """What the room reads from the admission limiter."""

    def pressure(self) -> float: ...
    def utilization(self) -> float: ...


@dataclass(frozen=True)
class RoomSettings:
    name: str = "main"
    place_kept: float = 600.0  # a place passed by the counter may be claimed for this long
    history: float = 1800.0  # the store remembers when places were passed for this long (≥ place_kept)
    ticket_lifetime: float = 12 * 3600.0  # a ticket cookie is refused after this long in any case
    pass_seconds: float = 3600.0  # a pass lasts this long after the last activity
    renew_after: float = 60.0  # a pass is renewed at most this often
    tick_seconds: float = 1.0
    min_rate: float = 0.5  # admissions per second per worker: the controller's bounds
    max_rate: float = 500.0
    start_rate: float = 5.0
    failover_grace: float = 0.0  # seconds calls wait for the shared store before a line of our own


@dataclass(frozen=True)
class Place:
    """What a waiting visitor is told."""

    ticket: Ticket
    position: int  # people ahead of them plus one; 0 before an event's draw
    reached: bool
    lapsed: bool
    eta_low: float  # seconds; -1 when the line is not moving
    eta_high: float
    opens_at: float  # event start (wall clock), or 0


class Room:
    def __init__(
        self,
        store: Store,
        signer: Signer,
        health: Health,
        settings: RoomSettings | None = None,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or RoomSettings()
        # Every call goes through it: it waits out a failover, falls back and recovers.
        self.stores = FallbackStore(store, grace=self.settings.failover_grace)
        self.signer = signer
        self.health = health
        self.now = now  # the room's one clock: ticks, tickets, passes and held checks all read it
        self.state = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
        self.rate = self.settings.start_rate
        self.speed = 0.0  # tickets the serving counter passes per second, all workers together
        self.band = SpeedBand()  # the model's slow and fast ends around ``speed``
        self.speed_range = (0.0, 0.0)  # the slow and fast ends, as of the last tick
        self.eta_errors: deque[float] = deque(maxlen=1000)  # |actual − predicted| ÷ actual
        self.admitted = 0  # passes granted by this worker (from the queue or at once)
        self.joins = 0
        self.direct = 0  # passes granted at once, without a place in line (arrivals: joins + these)
        self.line = LineMeter()
        self._carry = 0.0
        self._last_tick = 0.0
        self._shuffle: Shuffle | None = None
        self._shuffle_key: tuple[str, int] = ("", 0)
        self._drained = 0  # ticks in a row with nobody waiting
        self._moved = asyncio.Event()  # set (and replaced) after every tick
        self._tokens = self.settings.start_rate * BURST_SECONDS  # direct admissions while idle
        self._tokens_at = now()
        self._taken = 0  # people let in through this worker since the last tick
        self._use: deque[tuple[float, int]] = deque(maxlen=outflow.USE_TICKS)  # (seconds, people)
        # When the counter passed what, as this worker saw it at its ticks (both increasing): the
        # place of a ticket is known lapsed without asking the store.
        self._passed = Checkpoints()
        self.public = self._public(now())
        self._read_shared = False  # a tick has read the shared room (the public state is its)

    @property
    def known(self) -> bool:
        """Whether ``public`` holds a reading of the shared room (see ``public.NOT_YET``)."""
        return self._read_shared

    # The store -------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store in use: the shared one, or this process's own while that one is down."""
        return self.stores.current

    @property
    def shared(self) -> Store:
        return self.stores.shared

    @property
    def local(self) -> Store:
        return self.stores.local

    @property
    def degraded(self) -> bool:
        """The shared store is unreachable: this process runs a room of its own."""
        return self.stores.degraded

    @property
    def fallbacks(self) -> int:
        return self.stores.fallbacks

    @property
    def name(self) -> str:
        # Places handed out by a process on its own are not places in the shared line.
        return self.stores.room(self.settings.name)

    @property
    def no_show(self) -> float:
        """Share of reached tickets never claimed (the outflow makes up for it)."""
        return self.line.no_show

    # Visitors -------------------------------------------------------------------------------------

    def admits_directly(self) -> bool:
        """Whether a visitor without a pass goes straight in (the room is not queueing)."""
        state = self.state
        if state.mode == "open":
            return True
        return state.mode == "auto" and not state.queueing

    async def let_in_directly(self) -> bool:
        """Take a direct admission while the room is idle; False (and the room starts queueing) when
        new visitors come faster than the rate the origin has been shown to take."""
        if self.state.mode == "open":
            self.direct += 1
            return True
        now = self.now()
        burst = max(2.0, self.rate * BURST_SECONDS)
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._taken += 1
            self.direct += 1
            return True
        if self.state.mode == "auto" and not self.state.queueing:
            logger.warning("new visitors outpace the admission rate: the waiting room is queueing")
            await self.stores.configure(self.name, queueing=True)
            self.state = await self.stores.state(self.name, now)
        return False

    async def join(self, holder: str) -> tuple[Ticket, str]:
        now = self.now()
        number = await self.stores.join(self.name, holder, now, self.settings.place_kept)
        self.joins += 1
        # The name after the join: a join that fell back took a place in this process's line.
        ticket = Ticket(self.name, number, now, -1.0)
        place = self._place(ticket, lapsed=False)
        if place.eta_high >= 0:
            ticket = Ticket(self.name, number, now, round((place.eta_low + place.eta_high) / 2))
        return ticket, self.signer.ticket(ticket)

    def read_ticket(self, token: str) -> Ticket:
        return self.signer.read_ticket(token, self.name, self.now(), self.settings.ticket_lifetime)

    def read_pass(self, token: str) -> Pass:
        # Passes are the shared room's whatever the store's health: a worker that falls back to a
        # room of its own must not turn away the people already in (their passes hold no state).
        return self.signer.read_pass(token, self.settings.name, self.now())

    async def place(self, ticket: Ticket) -> Place:
        """Where a ticket stands, from this worker's reading of the room (no store round trip):
        lapsed once the counter passed it more than ``place_kept`` seconds ago, or when it belongs
        to a line this worker no longer keeps (a room of its own while the shared store was down)."""
        if ticket.room != self.name:
            return self._place(ticket, lapsed=True)
        place = self.effective(ticket.number)
        lapsed = place <= self.state.expired
        if not lapsed and place <= self.state.serving:
            # Passed by the time of that checkpoint (before it, when it is the first one seen).
            at = self._passed.when(place)
            if at is not None:
                lapsed = at < self.now() - self.settings.place_kept
        return self._place(ticket, lapsed=lapsed)

    def effective(self, number: int) -> int:
        """Where a ticket stands in the line: the draw for the pre-queue of an event, else its number.
        The pre-queue is the tickets issued between the last one served before the start
        (``event_base``) and the start (``prequeue``); the draw places them right after the former."""
        state = self.state
        base, prequeue = state.event_base, state.prequeue
        if prequeue > base and base < number <= prequeue:
            key = (state.event_seed, prequeue - base)
            if self._shuffle is None or self._shuffle_key != key:
                self._shuffle, self._shuffle_key = Shuffle(*key), key
            return base + self._shuffle.place(number - base)
        return number

    def _place(self, ticket: Ticket, *, lapsed: bool) -> Place:
        state = self.state
        opens_at = state.event_start if state.mode == "event" else 0.0
        if state.mode == "event" and state.prequeue < 0:  # before the start: no order yet
            return Place(ticket, 0, False, lapsed, -1.0, -1.0, opens_at)
        ahead = self.effective(ticket.number) - state.serving
        reached = ahead <= 0 or state.mode == "open"
        if reached:
            low = high = 0.0
        elif state.mode == "paused":  # the operator may pause between two ticks
            low = high = -1.0
        else:
            low, high = wait_range(ahead, *self.speed_range, self.settings.tick_seconds)
        return Place(ticket, max(ahead, 0), reached, lapsed, low, high, opens_at)

    async def near_turn(self, ticket: Ticket, place: Place, hold: float = HOLD_SECONDS) -> Place:
        """The place again once the turn has come, when it is due within HOLD_WITHIN seconds: the
        check is held (at most ``hold`` seconds of the room's clock) and answered at the tick that
        reaches it."""
        if place.reached or place.lapsed or not due_soon(place.eta_high):
            return place
        # The deadline is on the room's clock, like everything the ticks move, so a test's clock
        # (and a host's) decides the hold; the loop's clock only bounds each wait for a tick.
        deadline = self.now() + hold
        missed = MISSED_TICKS * self.settings.tick_seconds
        while not place.reached and self.now() < deadline:
            moved = self._moved
            try:
                async with asyncio.timeout(missed):
                    await moved.wait()
            except TimeoutError:
                break  # no tick is coming to move the line: answer as it stands
            place = self._place(ticket, lapsed=False)
        return place

    async def claim(self, ticket: Ticket, kept: float | None = None) -> tuple[Pass, str] | None:
        """Exchange a reached ticket for a pass; None when it is not its turn, it lapsed or it was
        claimed before. ``kept``: how long after the counter passed it the claim is still taken
        (``place_kept`` by default; at most the history)."""
        now = self.now()
        place = self._place(ticket, lapsed=False)
        if not place.reached:
            return None
        window = min(self.settings.place_kept if kept is None else kept, self._history)
        claimed = await self.stores.claim(
            ticket.room, ticket.number, self.effective(ticket.number), now, window
        )
        if not claimed:
            return None
        self._taken += 1
        waited = now - ticket.issued
        if ticket.predicted >= 0 and waited > 0:
            self.eta_errors.append(abs(waited - ticket.predicted) / max(waited, 1.0))
        return await self.grant()

    async def grant(self) -> tuple[Pass, str]:
        """A new pass (the visitor was admitted)."""
        now = self.now()
        granted = Pass(self.settings.name, secrets.token_urlsafe(9), now, now + self.settings.pass_seconds)
        self.admitted += 1
        await self.stores.hold_pass(granted.room, granted.pass_id, granted.expires)
        return granted, self.signer.pass_(granted)

    async def renew(self, current: Pass) -> tuple[Pass, str] | None:
        """A fresher pass when the current one is older than ``renew_after``; None otherwise."""
        now = self.now()
        if current.expires - now > self.settings.pass_seconds - self.settings.renew_after:
            return None
        renewed = Pass(current.room, current.pass_id, current.issued, now + self.settings.pass_seconds)
        await self.stores.hold_pass(renewed.room, renewed.pass_id, renewed.expires)
        return renewed, self.signer.pass_(renewed)

    # The tick --------------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Once per ``tick_seconds``: read the room, run the controller, move the line."""
        now = self.now()
        elapsed = min(now - self._last_tick, 10 * self.settings.tick_seconds) if self._last_tick else 0.0
        self._last_tick = now
        if self.degraded:
            await self.stores.ping()  # back to the shared room once it answers
        try:
            await self._tick(now, elapsed)
        finally:
            moved, self._moved = self._moved, asyncio.Event()
            moved.set()  # wake the checks held near the front

    @property
    def _history(self) -> float:
        return max(self.settings.history, self.settings.place_kept)

    async def _tick(self, now: float, elapsed: float) -> None:
        store, name = self.stores, self.name
        await store.sweep(name, now, self._history)
        state = await store.state(name, now)
        self.line.measure(now, state)
        pressure = self.health.pressure()
        at_capacity = pressure >= QUEUE_AT
        changes: dict[str, Any] = {}
        drained = state.serving >= state.issued
        # With several workers, one at capacity turns the queue on while another, healthy, sees
        # nobody waiting yet: the queue goes off only after DRAIN_TICKS drained ticks in a row.
        self._drained = self._drained + 1 if drained and not at_capacity else 0
        if state.mode == "auto":
            if not state.queueing and at_capacity:
                changes = {"queueing": True}
                logger.warning("origin at capacity: the waiting room is queueing new visitors")
            elif state.queueing and self._drained >= DRAIN_TICKS:
                changes = {"queueing": False}
                logger.warning("waiting room drained: visitors go straight in again")
        elif state.mode == "event" and state.prequeue < 0 and now >= state.event_start:
            await store.start_event(name)
            logger.warning("event started: the pre-queue is drawn")
        elif state.mode == "event" and state.prequeue >= 0 and drained:
            changes = {"mode": "auto", "queueing": False}
        if changes:
            await store.configure(name, **changes)
        if changes or state.mode == "event":
            state = await store.state(name, now)
        self._use.append((elapsed, self._taken))
        self._taken = 0
        reading = outflow.Reading(
            pressure=pressure,
            utilization=self.health.utilization(),
            use=tuple(self._use),
            waiting=state.waiting > 0,
            admits_directly=self.admits_directly(),
        )
        self.rate = outflow.next_rate(self.rate, reading, self.settings)
        self.speed = self.line.speed(state, self.rate)
        moved = await self._advance(now, elapsed, state)
        if moved != state.serving:
            state = await store.state(name, now)
        self.state = state
        self._note_passed(now, state.serving)
        self.band.observe(
            now, state.serving, self.speed, state.waiting, moving=state.waiting > 0 and self.speed > 0
        )
        self.speed_range = self._speed_range(pressure)
        if self.degraded and self._read_shared:
            # The published line is the shared one. While this worker cannot read it, it shows the
            # last reading it had, standing still, rather than the numbers of its own stand-in line
            # (which would look to everyone waiting as if the line had moved back).
            self.public = replace(self.public, speed=0.0, speed_low=0.0, speed_high=0.0, computed_at=now)
        else:
            self.public = self._public(now)
            self._read_shared = not self.degraded

    def _speed_range(self, pressure: float) -> tuple[float, float]:
        """The slow and fast ends of the speed. While a young line is still told the controller's
        rate (not yet its own measured movement) and the origin is under pressure, the controller
        is heading down, as far as its floor: the slow end goes there."""
        low, high = self.band.speeds(self.speed)
        if not self.line.measuring and pressure >= outflow.EASE_AT and self.state.mode in ("auto", "event"):
            floor = self.line.workers * outflow.pace(self.settings.min_rate, self.line.no_show)
            low = min(low, floor)
        return low, high

    def _note_passed(self, now: float, serving: int) -> None:
        if serving < self._passed.last:  # another line (the shared store back, or reset): start over
            self._passed.restart(serving, now)
        self._passed.note(serving, now)
        self._passed.forget_before(now - self._history)

    async def _advance(self, now: float, elapsed: float, state: RoomState) -> int:
        store, name = self.stores, self.name
        if state.mode == "open":
            return await store.advance(name, state.issued - state.serving, now)
        if state.mode == "rate":
            return await store.advance_clocked(name, state.rate, now)
        queueing = (state.mode == "auto" and state.queueing) or (
            state.mode == "event" and state.prequeue >= 0
        )
        if not queueing:
            self.line.no_line()
        if not queueing or elapsed <= 0:
            self.line.pushed(0.0)
            return state.serving
        push = outflow.pace(self.rate, self.line.no_show) * elapsed
        self.line.pushed(push)
        wanted = push + self._carry
        count = math.floor(wanted)
        self._carry = wanted - count
        return await store.advance(name, count, now) if count else state.serving

    def _public(self, now: float) -> PublicState:
        """The public state as of this tick (see ``public.py``)."""
        state = self.state
        status: Status
        if state.mode == "paused":
            status = "paused"
        elif state.mode == "event" and state.prequeue < 0:
            status = "before-opening"
        elif not self.admits_directly():
            status = "queueing"
        elif self.health.pressure() >= outflow.EASE_AT:
            status = "busy"
        else:
            status = "normal"
        low, high = self.speed_range
        return PublicState(
            room=self.name,
            status=status,
            mode=state.mode,
            queueing=not self.admits_directly(),
            serving=state.serving,
            issued=state.issued,
            waiting=state.waiting,
            speed=self.speed,
            speed_low=low,
            speed_high=high,
            no_show=self.line.no_show,
            tick_seconds=self.settings.tick_seconds,
            place_kept_seconds=round(self.settings.place_kept),
            opens_at=state.event_start if state.mode == "event" else None,
            computed_at=now,
        )

    # Reading ---------------------------------------------------------------------------------------

    def eta_error(self) -> float:
        """Median relative ETA error of the tickets claimed through this worker (-1: none yet)."""
        if not self.eta_errors:
            return -1.0
        ordered = sorted(self.eta_errors)
        return ordered[len(ordered) // 2]
