"""Election night in simulation: the real waiting room against a modelled origin, on a virtual clock.

The room is Haven's own ``Room`` (with ``MemoryStore``): its controller, its ETA model and its public
state, ticked once per simulated second (``await room.tick()``), with no real sleeping. Around it:

- **The origin** is modelled: ``capacity`` requests a second (measured by ``bench.waiting`` in the
  same run: one worker on an admitted dynamic page). Everyone let in stays for a visit of
  ``visit_seconds`` and makes ``visit_requests`` requests meanwhile; each join (the waiting page),
  held check and claim is one request more. Its health, as the room reads it through the ``Health``
  protocol, follows the load: ``utilization`` is the load over capacity (at most 1) averaged over
  about two seconds; ``pressure`` is the share of the last two seconds the origin was at capacity,
  a second counting as "at capacity" in proportion to how far its load went past 80 % of capacity
  (all of it at 100 % or more), as the limiter's slots fill when requests meet its limit.
- **Arrivals** follow the night's profile (arrivals an hour at given hours, straight lines between):
  by default about 17,000 an hour at first, 250,000 in the peak hour, a million over the night, as
  Poisson arrivals. While the room lets people in directly they go straight to the origin; once
  it queues, each joins (``Room.join``) and is shown the range of its wait on the waiting page.
- **Visitors** behave as the waiting page does: they never check in. They read the public state
  (``room.public``) at the page's interval, ``clamp(low / 10, 2, 60)`` seconds ±20 % (30–60 s while
  the line does not move), and work out their place and wait by the ETA rule. When the wait is due
  within ten seconds they make the one held personal check, answered at the tick that reaches them
  (or after ten seconds as it stands); once reached they claim (``Room.claim``) and their visit
  begins. ``leave_share`` of them have a patience (uniform between ``patience`` bounds) and leave
  for good when it runs out: the no-shows.

Reported: the ETA error (median relative error of the midpoint of the first range shown, against
the wait from that moment to the claim; the share let in within that range), fairness (Kendall tau
between arrival order and admission order, over everyone let in from the line), the peak queue, and
how long the line took to drain.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import statistics
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from haven.shield.eta import HOLD_SECONDS, STILL, due_soon
from haven.shield.room import Room, RoomSettings
from haven.shield.store.memory import MemoryStore
from haven.shield.tokens import Signer, Ticket

# The night the issue describes: arrivals an hour at each hour mark (straight lines between).
ELECTION_NIGHT: Final = (
    (0.0, 17_000), (1.0, 17_000), (1.5, 60_000), (2.0, 150_000), (2.5, 250_000), (3.5, 250_000),
    (4.0, 220_000), (5.0, 170_000), (6.0, 110_000), (7.0, 60_000), (8.0, 17_000),
)  # fmt: skip
AT_CAPACITY_FROM: Final = 0.8  # load over capacity from which a second counts as partly at capacity
HEALTH_SECONDS: Final = 2  # the limiter's pressure span, and the utilisation's averaging
FAR_POLL: Final = (30.0, 60.0)  # the page's interval while the line does not move
POLL_MIN, POLL_MAX, JITTER = 2.0, 60.0, 0.2
# Polls are simulated one by one from this wait (at the fast end) on. Farther from the front a poll
# reads, then waits: it changes nothing, so people there are woken only as the front comes near.
NEAR_SECONDS: Final = 30.0

TRACE_SECONDS: Final = 600
WAITING, HELD, IN, GONE = 0, 1, 2, 3  # what a person in the line is doing


@dataclass(frozen=True)
class Night:
    """What is simulated; the defaults are the full-scale night."""

    capacity: float  # origin requests a second
    profile: tuple[tuple[float, float], ...] = ELECTION_NIGHT
    visit_seconds: float = 600.0
    visit_requests: float = 60.0  # one request every ten seconds: pages and form posts
    leave_share: float = 0.15
    patience: tuple[float, float] = (300.0, 3600.0)
    settle_hours: float = 12.0  # simulated at most after the last arrival, for the line to drain
    seed: int = 2016


class ModelOrigin:
    """The origin's load, second by second, and its health as the room reads it."""

    def __init__(self, night: Night) -> None:
        self.capacity = night.capacity
        self.per_visitor = night.visit_requests / night.visit_seconds
        self.visit = night.visit_seconds
        self.visits: deque[tuple[float, int]] = deque()  # (end, people), in time order
        self.inside = 0
        self.requests = 0  # requests of this second other than visits (joins, checks, claims)
        self._full: deque[float] = deque([0.0] * HEALTH_SECONDS, maxlen=HEALTH_SECONDS)
        self._loads: deque[float] = deque([0.0] * HEALTH_SECONDS, maxlen=HEALTH_SECONDS)
        self.peak_load = 0.0
        self.seconds_over = 0  # seconds with more load than capacity

    def let_in(self, now: float) -> None:
        self.inside += 1
        self.requests += 1  # the page they were going to
        visits = self.visits
        end = now + self.visit
        if visits and visits[-1][0] == end:
            visits[-1] = (end, visits[-1][1] + 1)
        else:
            visits.append((end, 1))

    def second(self, now: float) -> float:
        """Close the second that ends at ``now``; returns its load over capacity."""
        visits = self.visits
        while visits and visits[0][0] <= now:
            self.inside -= visits.popleft()[1]
        load = (self.inside * self.per_visitor + self.requests) / self.capacity
        self.requests = 0
        self._loads.append(min(1.0, load))
        self._full.append(min(1.0, max(0.0, (load - AT_CAPACITY_FROM) / (1.0 - AT_CAPACITY_FROM))))
        self.peak_load = max(self.peak_load, load)
        self.seconds_over += load > 1.0
        return load

    def pressure(self) -> float:
        return sum(self._full) / HEALTH_SECONDS

    def utilization(self) -> float:
        return sum(self._loads) / HEALTH_SECONDS


def rate_at(profile: tuple[tuple[float, float], ...], hour: float) -> float:
    """Arrivals a second at ``hour``: straight lines between the profile's points, 0 outside."""
    for (h0, r0), (h1, r1) in itertools.pairwise(profile):
        if h0 <= hour <= h1:
            return (r0 + (r1 - r0) * (hour - h0) / (h1 - h0)) / 3600.0
    return 0.0


def kendall_tau(order: list[int]) -> float:
    """Kendall's tau between 0..n-1 and ``order`` (a permutation of distinct ranks), by counting
    inversions with a merge sort: O(n log n)."""
    n = len(order)
    if n < 2:
        return 1.0
    values = list(order)
    scratch = [0] * n
    inversions = 0
    width = 1
    while width < n:
        for start in range(0, n, 2 * width):
            middle, end = min(start + width, n), min(start + 2 * width, n)
            i, j, k = start, middle, start
            while i < middle and j < end:
                if values[i] <= values[j]:
                    scratch[k] = values[i]
                    i += 1
                else:
                    scratch[k] = values[j]
                    inversions += middle - i
                    j += 1
                k += 1
            scratch[k : k + middle - i] = values[i:middle]
            k += middle - i
            scratch[k : k + end - j] = values[j:end]
        values, scratch = scratch, values
        width *= 2
    return 1.0 - 4.0 * inversions / (n * (n - 1))


@dataclass
class Outcome:
    """What the night showed."""

    arrivals: int = 0
    direct: int = 0  # let in at once, without a ticket
    tickets: int = 0
    claimed: int = 0
    refused_claims: int = 0  # claims the room turned down (place no longer kept)
    left: int = 0  # gave up before their turn: the no-shows
    ranged: int = 0  # people let in from the line who were shown a range
    eta_median_error: float = -1.0
    within_first_range: float = -1.0
    early: float = -1.0  # let in before the low end of the first range
    late: float = -1.0  # after its high end
    room_eta_error: float = -1.0  # the room's own figure (its last thousand claims)
    kendall_tau: float = 1.0
    median_wait_seconds: float = 0.0
    longest_wait_seconds: float = 0.0
    peak_queue: int = 0
    peak_queue_at_hours: float = 0.0
    queue_started_at_hours: float = -1.0
    drained_at_hours: float = -1.0
    drain_hours: float = -1.0  # from the peak of the queue to a line of nobody
    peak_origin_load: float = 0.0
    seconds_over_capacity: int = 0
    admissions_per_second_peak: float = 0.0
    simulated_hours: float = 0.0
    wall_seconds: float = 0.0
    ticks: int = 0
    errors_by_hour: list[dict[str, float]] = field(default_factory=list)
    # Every TRACE_SECONDS: the public state's speeds against how fast the counter actually moved
    # over the next TRACE_SECONDS, and the origin's load.
    trace: list[dict[str, float]] = field(default_factory=list)


def _interval(low: float, rng: random.Random) -> float:
    """The page's next poll, ``clamp(low / 10, 2, 60)`` seconds ±20 % (30–60 s when not moving)."""
    if low < 0:
        return rng.uniform(*FAR_POLL)
    return min(POLL_MAX, max(POLL_MIN, low / 10.0)) * rng.uniform(1.0 - JITTER, 1.0 + JITTER)


class _Line:
    """The people holding tickets, by index (ticket number order) in parallel lists, and the
    calendar of what each does next (one list of events per second)."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []
        self.status: list[int] = []
        self.leave_at: list[float] = []
        self.shown: list[tuple[float, float, float] | None] = []  # (when, low, high): first range
        self.far: deque[int] = deque()  # waiting far from the front, in number order
        self.calendar: dict[int, list[tuple[float, int, int]]] = {}  # second -> (time, kind, index)

    def at(self, when: float, kind: int, index: int) -> None:
        """Note an event; it is handled in the second that ends at ``floor(when) + 1``."""
        key = math.floor(when) + 1
        bucket = self.calendar.get(key)
        if bucket is None:
            self.calendar[key] = [(when, kind, index)]
        else:
            bucket.append((when, kind, index))


POLL, LEAVE, ARRIVE = 0, 1, 2


async def simulate(night: Night) -> Outcome:
    """Run the night (see the module's docstring); every second of it is one tick of the room."""
    started = time.perf_counter()
    quiet = logging.getLogger("haven.shield")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the room says when it starts and stops queueing: often, here
    try:
        return await _simulate(night, started)
    finally:
        quiet.setLevel(level)


async def _simulate(night: Night, started: float) -> Outcome:
    rng = random.Random(night.seed)
    clock = [0.0]
    origin = ModelOrigin(night)
    settings = RoomSettings(pass_seconds=60.0, renew_after=30.0)  # passes play no part here
    room = Room(MemoryStore(), Signer(["election-night-simulation"]), origin, settings, now=lambda: clock[0])
    await room.tick()
    outcome = Outcome()
    line = _Line()
    tickets, status, leave_at, shown = line.tickets, line.status, line.leave_at, line.shown
    held: list[tuple[float, int]] = []  # (deadline, index) of the held checks
    admitted_order: list[int] = []  # indices in the order they were let in from the line
    errors: list[tuple[float, bool, int]] = []  # (relative error, within the range, hour shown)
    waits: list[float] = []
    early_late = [0, 0]
    admitted_this_second = 0

    async def claim(index: int, now: float) -> None:
        nonlocal admitted_this_second
        origin.requests += 1
        status[index] = IN
        if await room.claim(tickets[index]) is None:
            outcome.refused_claims += 1
            status[index] = GONE
            return
        origin.let_in(now)
        admitted_order.append(index)
        admitted_this_second += 1
        waits.append(now - tickets[index].issued)
        first = shown[index]
        if first is not None:
            at, low, high = first
            actual = now - at
            errors.append(
                (abs(actual - (low + high) / 2) / max(actual, 1.0), low <= actual <= high, int(at // 3600))
            )
            if actual < low:
                early_late[0] += 1
            elif actual > high:
                early_late[1] += 1

    async def page(index: int, now: float) -> None:
        """One reading of the public state by the page of ``index``, and what the page does then."""
        public = room.public
        ahead = tickets[index].number - public.serving
        if ahead <= 0:
            await claim(index, now)
            return
        if public.speed_low < STILL:
            low = high = -1.0
        else:
            low = ahead / public.speed_high
            high = ahead / public.speed_low + public.tick_seconds
        if shown[index] is None and high >= 0:
            shown[index] = (now, low, high)
        if due_soon(high):
            origin.requests += 1  # the one personal request, held until the turn comes
            status[index] = HELD
            held.append((now + HOLD_SECONDS, index))
        elif low > NEAR_SECONDS and (not line.far or line.far[-1] < index):
            line.far.append(index)  # woken as the front comes near (see `wake`)
        else:
            line.at(now + _interval(low, rng), POLL, index)

    def wake(now: float) -> None:
        """People far from the front read the state and wait; their polls change nothing until
        their wait could be NEAR_SECONDS. Those it could be now poll at a random point of the
        interval they are on; from there on each of their polls is simulated."""
        public = room.public
        if public.speed_low < STILL:
            return
        near = public.serving + NEAR_SECONDS * public.speed_high
        far = line.far
        while far and tickets[far[0]].number <= near:
            index = far.popleft()
            if status[index] == WAITING:
                line.at(now + rng.uniform(0.0, _interval(NEAR_SECONDS, rng)), POLL, index)

    async def arrive(now: float) -> None:
        outcome.arrivals += 1
        if room.admits_directly() and await room.let_in_directly():
            outcome.direct += 1
            origin.let_in(now)
            return
        ticket, _cookie = await room.join("")
        origin.requests += 1  # the waiting page, which shows the range at once
        index = len(tickets)
        tickets.append(ticket)
        status.append(WAITING)
        shown.append(None)
        leave = now + rng.uniform(*night.patience) if rng.random() < night.leave_share else math.inf
        leave_at.append(leave)
        if leave < math.inf:
            line.at(leave, LEAVE, index)
        if outcome.queue_started_at_hours < 0:
            outcome.queue_started_at_hours = now / 3600.0
        await page(index, now)

    last_arrival = night.profile[-1][0] * 3600.0
    end = last_arrival + night.settle_hours * 3600.0
    next_arrival = rng.expovariate(max(rate_at(night.profile, 0.0), 1e-6))
    second = 0
    drained_since = -1.0
    while second < end:
        second += 1
        # What happens in the second that ends at `second`, in time order.
        happening = line.calendar.pop(second, [])
        while next_arrival < second:
            happening.append((next_arrival, ARRIVE, -1))
            rate = rate_at(night.profile, next_arrival / 3600.0)
            next_arrival = next_arrival + rng.expovariate(rate) if rate > 0 else math.inf
        happening.sort()
        for when, kind, index in happening:
            clock[0] = when
            if kind == ARRIVE:
                await arrive(when)
            elif status[index] != WAITING:
                continue
            elif kind == LEAVE:
                status[index] = GONE
                outcome.left += 1
            else:
                await page(index, when)
        clock[0] = now = float(second)
        origin.second(now)
        outcome.admissions_per_second_peak = max(outcome.admissions_per_second_peak, admitted_this_second)
        admitted_this_second = 0
        await room.tick()
        outcome.ticks += 1
        # The held checks: answered at the tick that reaches them (in the order of the line), or
        # after HOLD_SECONDS as they stand; then the page goes on polling.
        if held:
            serving = room.public.serving
            still: list[tuple[float, int]] = []
            reached: list[int] = []
            for deadline, index in held:
                if tickets[index].number <= serving:
                    reached.append(index)
                elif leave_at[index] <= now:
                    status[index] = GONE
                    outcome.left += 1
                elif deadline <= now:
                    status[index] = WAITING
                    await page(index, now)
                else:
                    still.append((deadline, index))
            held = still
            for index in sorted(reached):
                await claim(index, now)
        wake(now)
        if second % TRACE_SECONDS == 0:
            public = room.public
            if outcome.trace:
                last = outcome.trace[-1]
                last["moved_per_second"] = round((public.serving - last["serving"]) / TRACE_SECONDS, 2)
            outcome.trace.append(
                {
                    "hour": round(now / 3600, 2),
                    "serving": public.serving,
                    "waiting": public.waiting,
                    "speed": round(public.speed, 2),
                    "speed_low": round(public.speed_low, 2),
                    "speed_high": round(public.speed_high, 2),
                    "no_show": round(public.no_show, 3),
                    "origin_load": round(origin.utilization(), 3),
                    "inside": origin.inside,
                }
            )
        waiting = room.state.issued - room.state.serving
        if waiting > outcome.peak_queue:
            outcome.peak_queue, outcome.peak_queue_at_hours = waiting, now / 3600.0
        if waiting > 0:
            drained_since = -1.0
        elif tickets and now > last_arrival:
            if drained_since < 0:
                drained_since = now
            # The last people reached have the time a place is kept to come and claim it.
            if now - drained_since > settings.place_kept and not held:
                break
    outcome.tickets = len(tickets)
    if drained_since >= 0:
        outcome.drained_at_hours = drained_since / 3600.0
        outcome.drain_hours = outcome.drained_at_hours - outcome.peak_queue_at_hours
    outcome.claimed = len(admitted_order)
    outcome.ranged = len(errors)
    if errors:
        outcome.eta_median_error = statistics.median(error for error, _, _ in errors)
        outcome.within_first_range = sum(within for _, within, _ in errors) / len(errors)
        outcome.early = early_late[0] / len(errors)
        outcome.late = early_late[1] / len(errors)
        by_hour: dict[int, list[tuple[float, bool]]] = {}
        for error, within, hour in errors:
            by_hour.setdefault(hour, []).append((error, within))
        outcome.errors_by_hour = [
            {
                "hour": hour,
                "people": len(found),
                "eta_median_error": round(statistics.median(error for error, _ in found), 3),
                "within_first_range": round(sum(within for _, within in found) / len(found), 3),
            }
            for hour, found in sorted(by_hour.items())
        ]
    outcome.room_eta_error = room.eta_error()
    outcome.kendall_tau = kendall_tau(admitted_order)
    if waits:
        outcome.median_wait_seconds = statistics.median(waits)
        outcome.longest_wait_seconds = max(waits)
    outcome.peak_origin_load = origin.peak_load
    outcome.seconds_over_capacity = origin.seconds_over
    outcome.simulated_hours = clock[0] / 3600.0
    outcome.wall_seconds = time.perf_counter() - started
    return outcome


def run(night: Night) -> dict[str, Any]:
    """The night's figures, as plain JSON-ready values."""
    outcome = asyncio.run(simulate(night))
    return {"night": asdict(night), **asdict(outcome)}
