"""The waiting room: who waits, who enters, and how fast the line moves.

A room is a safety net by default ("auto" mode). It stays idle while the origin is healthy: every
visitor gets a pass at once. When the admission limiter says the origin has been at capacity for a
good part of the last two seconds (its *pressure*, 30 % or more) it starts queueing new visitors
(people holding a pass go on as before), lets them in as fast as the origin can take them, and
switches itself off once the queue has drained. Operators can instead pause the outflow, fix its
rate, open the gates, or schedule an event (everyone who arrives before the start is shuffled at the
start; FIFO after).

**Outflow.** Each worker runs a bounded controller. Every tick it reads the origin's pressure and
utilisation (its limiter's, and the lane's for password hashes) and sets its admission rate within
[``min_rate``, ``max_rate``]:

- ×0.8 when the pressure is 50 % or more, ×0.95 from 20 %;
- under 20 %, a step towards a utilisation of 75 % (up to ×1.1 + 0.1 a tick, the smaller the
  nearer it is), when people are waiting and the rate is used: the people let in over the last five
  ticks (who came in when their turn came) made up at least half of it;
- held otherwise.

People let in now load the origin for the minutes their visit lasts, and post their first form
seconds after they come in, so the controller reacts to pressure that persists, not to an instant,
and moves in small steps. While the room is idle, the same rate meters direct admissions (a bucket
of two seconds' worth). It grows only while it is used, so a flash crowd meets the rate the origin
was last seen to take and starts the queue within a second, before the crowd has reached the
origin.

The serving counter moves by ``rate × tick ÷ (1 − no-show rate)``: people who left the queue do not
claim their turn, so the counter moves past them faster and the origin stays busy. With several
workers each adds its own share, so the total follows the health of every worker. A fixed rate
("rate" mode) is shared through the store's clocked advance instead.

**ETA.** From the speed the line moves at from now on: this worker's outflow as the controller has
just set it (no-shows included), times the workers' worth the counter has moved at over the last
ten ticks (one, with one worker). The counter's own past speed would lag the controller, and tell
the first people in a new line of waits many times too long or too short. Shown as a range: the
low end assumes the line speeds up by a quarter, the high end that it slows down by a third. The
wait predicted at the join is written into the ticket, and compared with the actual wait when the
ticket is claimed, so the room can report its own ETA error. A check from someone whose turn is
due within ten seconds is held until the tick that reaches it, so people near the front go in in
the order of the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from haven.shield.shuffle import Shuffle
from haven.shield.store import RoomState, Store, StoreUnavailable
from haven.shield.store.memory import MemoryStore
from haven.shield.tokens import Pass, Signer, Ticket

logger = logging.getLogger("haven.shield")

# The limiter's pressure (the share of the last 2 s it was at capacity) steers the room. People let
# in now load the origin for minutes, so the room reacts to what persists, not to an instant:
QUEUE_AT: Final = 0.3  # start queueing new visitors at this pressure (and drain only below it)
SHRINK_AT: Final = 0.5  # at this pressure, let in fewer: rate × SHRINK
SHRINK: Final = 0.8
EASE_AT: Final = 0.2  # from this pressure, a little fewer: rate × EASE
EASE: Final = 0.95
# Under EASE_AT the rate grows towards the utilisation ROOMY, by at most GROW_MAX a tick (the full
# step when the origin is idle, none at ROOMY), plus GROW_STEP so that it leaves a low rate quickly.
# Its effect shows only seconds later (people read a form before they post it), so the steps are
# small: five ticks of the largest overshoot by 60 %, which SHRINK undoes in two.
ROOMY: Final = 0.75
GROW_MAX: Final = 0.1
GROW_STEP: Final = 0.1
# The rate grows only while it is used: while people let in in the last USE_TICKS ticks (at once,
# or from the queue when they claimed their turn) came to at least USED of it. A counter that runs
# ahead of the people who actually come in (they see their turn at their next check) is no sign
# that the origin can take more. Idle, direct admissions come from a bucket of BURST_SECONDS at the
# rate, and an unused rate sinks back towards ``start_rate`` by IDLE_DECAY a tick: a flash crowd
# meets the rate the origin was last seen to take, not the ``max_rate`` a calm would drift to.
USE_TICKS: Final = 5
USED: Final = 0.5
BURST_SECONDS: Final = 2.0
IDLE_DECAY: Final = 0.98
MAX_NO_SHOW: Final = 0.8  # never move the counter more than 5× the admission rate
ETA_FAST: Final = 1.25  # the low end of the ETA range: the line speeds up by a quarter
ETA_SLOW: Final = 0.75  # the high end: the line slows down to three quarters
NO_SHOW_WINDOW: Final = 30  # ticks of history behind the no-show rate
SPEED_TICKS: Final = 10  # ticks behind each measure of the workers' share of the line
# Ticks a reached visitor may take to claim before counting as a no-show: the page near the front
# checks every 5 s (±20 %, plus the script's own jitter), then loads the page it was going to.
CLAIM_LAG: Final = 15
# A check from someone whose turn is due within HOLD_WITHIN seconds (the high end of their ETA) is
# held until the turn comes, for at most HOLD_SECONDS: people near the front go in at the tick that
# reaches them, in the order of the line, instead of whenever their next check happens to fall.
HOLD_WITHIN: Final = 10.0
HOLD_SECONDS: Final = 10.0
DRAIN_TICKS: Final = 5  # ticks in a row with nobody waiting before the safety net switches off
STILL: Final = 1e-3  # tickets per second under which the line counts as not moving


class Health(Protocol):
    """What the room reads from the admission limiter."""

    def pressure(self) -> float: ...
    def utilization(self) -> float: ...


@dataclass(frozen=True)
class RoomSettings:
    name: str = "main"
    ticket_ttl: float = 600.0  # a waiting place lapses after this long without a check-in
    ticket_lifetime: float = 12 * 3600.0  # a ticket cookie is refused after this long in any case
    pass_seconds: float = 1800.0  # a pass lasts this long after the last activity
    renew_after: float = 60.0  # a pass is renewed at most this often
    tick_seconds: float = 1.0
    min_rate: float = 0.5  # admissions per second per worker: the controller's bounds
    max_rate: float = 500.0
    start_rate: float = 5.0


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
        self.shared = store
        self.local = MemoryStore()
        self.store: Store = store
        self.signer = signer
        self.health = health
        self.settings = settings or RoomSettings()
        self.now = now
        self.state = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
        self.rate = self.settings.start_rate
        self.speed = 0.0  # tickets the serving counter passes per second, all workers together
        self.no_show = 0.0
        self.degraded = False  # the shared store is unreachable: this process runs a room of its own
        self.fallbacks = 0
        self.eta_errors: deque[float] = deque(maxlen=1000)  # |actual − predicted| ÷ actual
        self.admitted = 0  # passes granted by this worker (from the queue or at once)
        self.joins = 0
        self._carry = 0.0
        self._history: deque[tuple[float, int, int]] = deque(maxlen=NO_SHOW_WINDOW + CLAIM_LAG + 1)
        self._last_tick = 0.0
        self._shuffle: Shuffle | None = None
        self._shuffle_key: tuple[str, int] = ("", 0)
        self._drained = 0  # ticks in a row with nobody waiting
        self._moving = 0  # ticks in a row with a line
        self._pushed: deque[float] = deque(maxlen=SPEED_TICKS)  # what this worker moved the line by
        self._workers = 1.0  # the line's speed over this worker's push: how many workers' worth
        self._moved = asyncio.Event()  # set (and replaced) after every tick
        self._tokens = self.settings.start_rate * BURST_SECONDS  # direct admissions while idle
        self._tokens_at = now()
        self._taken = 0  # people let in through this worker since the last tick
        self._use: deque[tuple[float, int]] = deque(maxlen=USE_TICKS)  # (seconds, people) per tick

    # The store, with a fallback ------------------------------------------------------------------

    def _fall_back(self, error: Exception) -> None:
        if not self.degraded:
            logger.error("shield store unreachable (%s): this process runs a room of its own", error)
            self.degraded = True
            self.fallbacks += 1
            self.store = self.local

    async def _recover(self) -> None:
        try:
            await self.shared.ping()
        except StoreUnavailable:
            return
        logger.warning("shield store reachable again: back to the shared room")
        self.degraded = False
        self.store = self.shared

    @property
    def name(self) -> str:
        # Places handed out by a process on its own are not places in the shared line.
        return f"{self.settings.name}~{id(self):x}" if self.degraded else self.settings.name

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
            return True
        now = self.now()
        burst = max(2.0, self.rate * BURST_SECONDS)
        self._tokens = min(burst, self._tokens + (now - self._tokens_at) * self.rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._taken += 1
            return True
        if self.state.mode == "auto" and not self.state.queueing:
            logger.warning("new visitors outpace the admission rate: the waiting room is queueing")
            try:
                await self.store.configure(self.name, queueing=True)
                self.state = await self.store.state(self.name, now, self.settings.ticket_ttl)
            except StoreUnavailable as error:
                self._fall_back(error)
                await self.store.configure(self.name, queueing=True)
                self.state = await self.store.state(self.name, now, self.settings.ticket_ttl)
        return False

    async def join(self, holder: str) -> tuple[Ticket, str]:
        now = self.now()
        try:
            number = await self.store.join(self.name, holder, now, self.settings.ticket_ttl)
        except StoreUnavailable as error:
            self._fall_back(error)
            number = await self.store.join(self.name, holder, now, self.settings.ticket_ttl)
        self.joins += 1
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
        """Check a ticket in and say where it stands."""
        try:
            live = await self.store.check_in(ticket.room, ticket.number, self.now(), self.settings.ticket_ttl)
        except StoreUnavailable as error:
            self._fall_back(error)
            live = False
        return self._place(ticket, lapsed=not live)

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
        if reached or self.speed < STILL or state.mode == "paused":
            low = high = 0.0 if reached else -1.0
        else:
            low = ahead / (self.speed * ETA_FAST)
            high = ahead / (self.speed * ETA_SLOW) + self.settings.tick_seconds
        return Place(ticket, max(ahead, 0), reached, lapsed, low, high, opens_at)

    async def near_turn(self, ticket: Ticket, place: Place, hold: float = HOLD_SECONDS) -> Place:
        """The place again once the turn has come, when it is due within HOLD_WITHIN seconds: the
        check is held (at most ``hold`` seconds) and answered at the tick that reaches it."""
        if place.reached or place.lapsed or not 0 <= place.eta_high <= HOLD_WITHIN:
            return place
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(hold):
                while not place.reached:
                    await self._moved.wait()
                    place = self._place(ticket, lapsed=False)
        return place

    async def claim(self, ticket: Ticket) -> tuple[Pass, str] | None:
        """Exchange a reached ticket for a pass; None when it is not its turn or it lapsed."""
        now = self.now()
        place = self._place(ticket, lapsed=False)
        if not place.reached:
            return None
        try:
            claimed = await self.store.claim(
                ticket.room, ticket.number, self.effective(ticket.number), now, self.settings.ticket_ttl
            )
        except StoreUnavailable as error:
            self._fall_back(error)
            return None
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
        await self._hold(granted)
        return granted, self.signer.pass_(granted)

    async def renew(self, current: Pass) -> tuple[Pass, str] | None:
        """A fresher pass when the current one is older than ``renew_after``; None otherwise."""
        now = self.now()
        if current.expires - now > self.settings.pass_seconds - self.settings.renew_after:
            return None
        renewed = Pass(current.room, current.pass_id, current.issued, now + self.settings.pass_seconds)
        await self._hold(renewed)
        return renewed, self.signer.pass_(renewed)

    async def _hold(self, granted: Pass) -> None:
        try:
            await self.store.hold_pass(granted.room, granted.pass_id, granted.expires)
        except StoreUnavailable as error:
            self._fall_back(error)

    # The outflow ----------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Once per ``tick_seconds``: read the room, run the controller, move the line."""
        now = self.now()
        elapsed = min(now - self._last_tick, 10 * self.settings.tick_seconds) if self._last_tick else 0.0
        self._last_tick = now
        if self.degraded:
            await self._recover()
        try:
            await self._tick(now, elapsed)
        except StoreUnavailable as error:
            self._fall_back(error)
        finally:
            moved, self._moved = self._moved, asyncio.Event()
            moved.set()  # wake the checks held near the front

    async def _tick(self, now: float, elapsed: float) -> None:
        store, name, ttl = self.store, self.name, self.settings.ticket_ttl
        await store.sweep(name, now, ttl)
        state = await store.state(name, now, ttl)
        self._measure(now, state)
        pressure = self.health.pressure()
        at_capacity = pressure >= QUEUE_AT
        changes: dict[str, Any] = {}
        drained = state.waiting == 0 and state.serving >= state.issued
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
            state = await store.state(name, now, ttl)
        self._control(pressure, state, elapsed)
        self.speed = self._speed(state)
        moved = await self._advance(now, elapsed, state)
        if moved != state.serving:
            state = await store.state(name, now, ttl)
        self.state = state

    def _control(self, pressure: float, state: RoomState, elapsed: float) -> None:
        """The admission rate: down under pressure, up towards ROOMY when it is needed, else held."""
        settings = self.settings
        self._use.append((elapsed, self._taken))
        self._taken = 0
        if pressure >= SHRINK_AT:
            self.rate = max(settings.min_rate, self.rate * SHRINK)
            return
        if pressure >= EASE_AT:
            self.rate = max(settings.min_rate, self.rate * EASE)
            return
        span = sum(seconds for seconds, _ in self._use)
        used = span > 0 and sum(people for _, people in self._use) >= USED * self.rate * span
        needed = used and (self.admits_directly() or state.waiting > 0)
        utilization = self.health.utilization()
        if needed and utilization < ROOMY:
            grown = self.rate * (1.0 + GROW_MAX * (ROOMY - utilization) / ROOMY) + GROW_STEP
            self.rate = min(settings.max_rate, grown)
        elif not needed and self.admits_directly() and self.rate > settings.start_rate:
            self.rate = max(settings.start_rate, self.rate * IDLE_DECAY)

    async def _advance(self, now: float, elapsed: float, state: RoomState) -> int:
        store, name = self.store, self.name
        if state.mode == "open":
            return await store.advance(name, state.issued - state.serving)
        if state.mode == "rate":
            return await store.advance_clocked(name, state.rate, now)
        queueing = (state.mode == "auto" and state.queueing) or (
            state.mode == "event" and state.prequeue >= 0
        )
        if not queueing:
            self.no_show = 0.0  # no line: the next one starts with no one missing
        if not queueing or elapsed <= 0:
            self._pushed.append(0.0)
            return state.serving
        push = self.rate * elapsed / (1.0 - min(self.no_show, MAX_NO_SHOW))
        self._pushed.append(push)
        wanted = push + self._carry
        count = math.floor(wanted)
        self._carry = wanted - count
        return await store.advance(name, count) if count else state.serving

    def _speed(self, state: RoomState) -> float:
        """How fast the line moves from now on (tickets per second, all workers): this worker's
        outflow as the controller has just set it, times the workers' worth measured. Forward-
        looking: the counter's past speed lags the controller by the seconds it is averaged over,
        and the first people in a new line would be told of waits far too long or too short."""
        if state.mode == "rate":
            return state.rate
        if state.mode == "paused" or (state.mode == "event" and state.prequeue < 0):
            return 0.0
        return self._workers * self.rate / (1.0 - min(self.no_show, MAX_NO_SHOW))

    def _measure(self, now: float, state: RoomState) -> None:
        """How many workers' worth the line moves at (for the ETA), and the no-show rate (for the
        outflow)."""
        history = self._history
        history.append((now, state.serving, state.claimed))
        if state.waiting == 0 and state.serving >= state.issued:
            self._moving = 0
        else:
            # Over the ticks since the line formed (the counter moves after each measure): what it
            # moved against what this worker moved it by. One worker: 1. Several: their number,
            # or rather the total rate over this worker's, as their rates follow the same origin.
            span = min(SPEED_TICKS, self._moving, len(history) - 1, len(self._pushed))
            self._moving += 1
            own = sum(list(self._pushed)[-span:]) if span else 0.0
            if own >= 1.0:
                moved = history[-1][1] - history[-1 - span][1]
                self._workers = 0.7 * self._workers + 0.3 * min(64.0, max(1.0, moved / own))
        if len(history) == history.maxlen:
            # Claims of the last NO_SHOW_WINDOW ticks against the tickets reached in a window as long,
            # CLAIM_LAG ticks earlier: a claim comes up to CLAIM_LAG ticks after its ticket is
            # reached, and while the line moves steadily both windows hold the same tickets.
            _, passed_from, _ = history[0]
            _, passed_to, _ = history[-1 - CLAIM_LAG]
            _, _, claimed_from = history[-1 - NO_SHOW_WINDOW]
            passed = passed_to - passed_from
            claimed = state.claimed - claimed_from
            if passed >= 10:
                self.no_show = min(MAX_NO_SHOW, max(0.0, 1.0 - claimed / passed))

    # Reading ---------------------------------------------------------------------------------------

    def eta_error(self) -> float:
        """Median relative ETA error of the tickets claimed through this worker (-1: none yet)."""
        if not self.eta_errors:
            return -1.0
        ordered = sorted(self.eta_errors)
        return ordered[len(ordered) // 2]
