"""Per-worker admission control: an adaptive concurrency limit with priority partitions, a short
CoDel-bounded wait queue in front of it, and an event-loop-lag backstop (A1, A4, A5 and A7 of
``shared/reference/overload-control.md``). O(1) per request, plus O(1) per waiter woken or shed.

**The limit** follows Gradient2: ``gradient = clamp(TOLERANCE × baseline / recent latency, 0.5, 1)``,
``new = limit × gradient + QUEUE_ALLOWANCE``, smoothed by 0.2. It differs where a literal port fails:

- *Updates per 100 ms window* (of at least 10 releases), not per request: a 600-request average
  forgets within a second at our rates, so the limiter's speed would depend on traffic.
- *The baseline (a 600-window average) learns rises ten times slower while we are the bottleneck*
  (shedding, queueing or full): that latency is our own doing, and following it drags the limit up
  with it (Envoy's min-RTT creep, #11579). Falls are believed at once; a baseline over twice the
  recent latency decays ×0.95 a window.
- *The allowance is added only while latency is within tolerance*: added always, it parks the limit
  4 above the edge, 10-25 % more queueing at our per-worker limits.
- *Costs*: a password hash costs dozens of pages, so mixed latencies would read sign-ins as overload.
  Each power-of-two cost class keeps its own baseline; a window's stretch (recent / baseline) is the
  sample-weighted mean over classes. Dividing by the declared cost would trust a guess instead.

Windows whose peak in flight stayed under half the limit change nothing (that latency is not ours to
cure). Failures (``ok=False``, not latency samples) shrink the limit ×0.9 per window, as AIMD does.
Fail-closed and bounded: what cannot be placed soon is shed with a ``Retry-After`` hint at once, and
no waiter outlives CoDel's interval.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

ShedReason = Literal["limit", "queue_full", "codel", "lag", "budget"]


class Priority(enum.IntEnum):
    """Who is shed first: the higher the number, the sooner (the published rules, README and help)."""

    SUBMIT = 0  # people already in, submitting or saving a profile
    IN = 1  # people already in: other pages (their password hashes take the lane, at this level)
    ADMIT = 2  # new visitors: the first dynamic page the room lets them into, the room's own paths
    ANONYMOUS = 3  # the JSON API, and calculator pages that miss the page cache


# Fraction of the limit each priority may fill (in_flight + cost <= share × limit): the top tenth is
# kept for submissions, newcomers leave people already in a tenth more, and anonymous calls can never
# take more than half of what users need.
SHARES: Final = (1.0, 0.9, 0.7, 0.5)

TOLERANCE: Final = 1.5  # latency may stretch to 1.5× baseline before the limit shrinks
MIN_GRADIENT: Final = 0.5  # the limit at most halves per window (before smoothing)
MAX_GRADIENT: Final = 1.0
SMOOTHING: Final = 0.2  # weight of the new estimate: damps oscillation at window scale
QUEUE_ALLOWANCE: Final = 4.0  # added per window so the limit keeps probing for more room
BASELINE_WINDOWS: Final = 600  # the long average's span, in windows (a minute at 100 ms)
SATURATED_RISE: Final = 0.1  # how fast the baseline may rise while we are the bottleneck
DECAY_RATIO: Final = 2.0  # baseline over recent latency beyond which the baseline decays
DECAY: Final = 0.95
FAILURE_BACKOFF: Final = 0.9
WINDOW: Final = 0.1
MIN_WINDOW_SAMPLES: Final = 10  # fewer samples than this are noise, whatever the window's length
CODEL_TARGET: Final = 0.005  # folly/Facebook: 5 ms target, 100 ms interval, drop after 2× target
CODEL_INTERVAL: Final = 0.1
MIN_QUEUE: Final = 8  # the queue holds max(MIN_QUEUE, limit) waiters
# A profile write (SUBMIT) is the work the night is for, and its sender retries a shed one anyway, a
# second or more later: it waits in the queue (first in line, always) for up to SUBMIT_WAIT rather
# than be dropped by CoDel, and the queue holds SUBMIT_QUEUE times as many of them. Its waits still
# count as pressure, so the room lets fewer people in meanwhile.
SUBMIT_WAIT: Final = 1.0
SUBMIT_QUEUE: Final = 4
LAG_THRESHOLD: Final = 0.1
LAG_HOLD: Final = 0.5  # seconds the backstop stays on after a lagging sample: no flapping at 20 Hz
LAG_SAMPLES: Final = 2  # lagging samples in a row before it acts: one GC pause is not overload
PRESSURE_MEMORY: Final = 1.0  # the "recent window" of at_capacity
PRESSURE_SPAN: Final = 2.0  # seconds of history behind pressure(), in 100 ms slots
PRESSURE_SLOT: Final = 0.1
UTILIZATION_TAU: Final = 1.0  # time constant of the smoothed utilisation
RETRY_BASE: Final[dict[ShedReason, int]] = {"limit": 1, "codel": 1, "queue_full": 2, "lag": 2, "budget": 1}
RETRY_GROWTH: Final = 10.0  # one more second of Retry-After per 10 s of sustained pressure
RETRY_MAX: Final = 30

_WAITING, _HELD, _DONE = 0, 1, 2


class TimeAverage:
    """The time-weighted average of a quantity that holds its value between updates, over about
    ``tau`` seconds: exact for such a step function, and O(1) per update."""

    __slots__ = ("at", "tau", "value")

    def __init__(self, now: float, tau: float = UTILIZATION_TAU) -> None:
        self.value, self.at, self.tau = 0.0, now, tau

    def update(self, now: float, held: float) -> float:
        """Account for ``held`` having held since the last update (call it before a change)."""
        elapsed = now - self.at
        if elapsed > 0:
            self.value += (1 - math.exp(-elapsed / self.tau)) * (held - self.value)
            self.at = now
        return self.value


class Shed(Exception):
    """The request cannot be served soon; answer 503 with ``Retry-After: retry_after``."""

    def __init__(self, reason: ShedReason, retry_after: int) -> None:
        super().__init__(f"shed ({reason}), retry after {retry_after} s")
        self.reason: ShedReason = reason
        self.retry_after = retry_after


class Permit:
    """One admitted request (and, while it waits, its place in the queue). Release it exactly once;
    further calls do nothing, so a ``finally`` can always call it."""

    __slots__ = ("_future", "_limiter", "_state", "cost", "priority", "queued_at", "started_at")

    def __init__(self, limiter: Limiter, priority: Priority, cost: float, now: float) -> None:
        self._limiter = limiter
        self._future: asyncio.Future[None] | None = None
        self._state = _WAITING
        self.priority = priority
        self.cost = cost
        self.queued_at = now
        self.started_at = now

    def release(self, ok: bool = True) -> None:
        """End the request and record its latency. ``ok=False`` means an overload symptom (timeout,
        exhausted pool, 5xx): the limiter backs off, and the latency is not used (a timeout's would
        count the same failure twice)."""
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._release(self, ok=ok, sample=True)

    def abandon(self) -> None:
        """End the request without a latency sample: the client left, so its time measures nothing."""
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._release(self, ok=True, sample=False)


class _Baseline:
    """One cost class: its long average latency and the current window's sum."""

    __slots__ = ("count", "long", "total")

    def __init__(self) -> None:
        self.long = -1.0  # unset until the class's first window
        self.total = 0.0
        self.count = 0


class Limiter:
    """Admission control for one worker's event loop. Not thread-safe: one loop, one limiter."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        initial_limit: float = 20,
        min_limit: float = 4,
        max_limit: float = 400,
        window: float = WINDOW,
        codel_target: float = CODEL_TARGET,
        codel_interval: float = CODEL_INTERVAL,
        lag_threshold: float = LAG_THRESHOLD,
    ) -> None:
        if not 0 < min_limit <= initial_limit <= max_limit:
            raise ValueError("need 0 < min_limit <= initial_limit <= max_limit")
        start = now()
        self._now = now
        self._limit = float(initial_limit)
        self.min_limit = float(min_limit)
        self.max_limit = float(max_limit)
        self._window = window
        self._target = codel_target
        self._interval = codel_interval
        self._lag_threshold = lag_threshold
        self._in_flight, self._held = 0.0, 0
        self.sheds: dict[str, int] = dict.fromkeys(RETRY_BASE, 0)
        self.loop_lag = 0.0  # the last sample, for metrics
        self._lagging = 0  # lagging samples in a row
        # The queue: one deque per priority, in arrival order; cancelled entries are skipped lazily.
        self._waiting: tuple[deque[Permit], ...] = tuple(deque() for _ in Priority)
        self._queued_by, self._queued, self._queue_since = [0] * len(Priority), 0, start
        # CoDel: the minimum queueing delay seen in the current interval, and the last verdict.
        self._codel_until, self._codel_min, self._overloaded = start + codel_interval, 0.0, False
        # The current window, and the latency baselines by cost class.
        self._window_start, self._window_samples, self._window_failures, self._window_peak = start, 0, 0, 0.0
        self._baselines: dict[int, _Baseline] = {}
        # Pressure (sheds, queueing, a full limit, lag), for at_capacity and Retry-After.
        self._lag_until = self._pressure_at = self._pressure_since = -math.inf
        self._pressure_slots: deque[int] = deque()  # the 100 ms slots in which pressure was seen
        self._utilization = TimeAverage(start)

    def now(self) -> float:
        """The limiter's clock (the budgets read the same one)."""
        return self._now()

    @property
    def limit(self) -> float:
        """The current adaptive limit, in cost units."""
        return self._limit

    @property
    def in_flight(self) -> float:
        """The sum of the costs of the permits held."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Requests waiting in the queue."""
        return self._queued

    # Admission ------------------------------------------------------------------------------------

    async def acquire(self, priority: Priority, cost: float = 1.0) -> Permit:
        """A permit for one request, at once or after a short wait; raises ``Shed`` otherwise."""
        if not 0 < cost < math.inf:
            raise ValueError("cost must be positive and finite")
        now = self._now()
        if self._queued:
            self._expire(now)
            self._dispatch(now)
        if priority is not Priority.SUBMIT and now < self._lag_until:
            raise self._shed("lag", now)
        permit = Permit(self, priority, cost, now)
        if self._fits(priority, cost) and not any(self._queued_by[: priority + 1]):
            if not self._queued:
                self._codel_sample(0.0, now)  # the queue is empty: CoDel must hear that too
            self._grant(permit, now)
            return permit
        if priority is Priority.ANONYMOUS:
            # Anonymous work never waits: a waiter would hold memory that users need.
            raise self._shed("limit", now, pressure=False)
        bound = max(MIN_QUEUE, int(self._limit)) * (SUBMIT_QUEUE if priority is Priority.SUBMIT else 1)
        if self._queued >= bound and not self._evict_below(priority, now):
            raise self._shed("queue_full", now)
        return await self._wait(permit, now)

    def _fits(self, priority: int, cost: float) -> bool:
        # An idle worker takes anything, or a request costlier than the limit could never run.
        return self._held == 0 or self._in_flight + cost <= self._limit * SHARES[priority] + 1e-9

    async def _wait(self, permit: Permit, now: float) -> Permit:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        permit._future = future
        if not self._queued:
            self._queue_since = now
        self._waiting[permit.priority].append(permit)
        self._queued += 1
        self._queued_by[permit.priority] += 1
        try:
            await future
        except asyncio.CancelledError:
            # The client went away. Whatever happened meanwhile, give back what it was given.
            if permit._state == _WAITING:
                permit._state = _DONE
                self._leave(permit)
            elif permit._state == _HELD:
                permit.abandon()
            elif future.done() and not future.cancelled():
                future.exception()  # shed meanwhile: mark the exception retrieved
            raise
        return permit

    def _grant(self, permit: Permit, now: float) -> None:
        self._touch_utilization(now)
        permit._state = _HELD
        permit.started_at = now
        self._held += 1
        self._in_flight += permit.cost
        self._window_peak = max(self._window_peak, self._in_flight)
        if self._in_flight >= self._limit:
            self._note_pressure(now)

    def _release(self, permit: Permit, *, ok: bool, sample: bool) -> None:
        now = self._now()
        self._touch_utilization(now)
        self._held -= 1
        self._in_flight = self._in_flight - permit.cost if self._held else 0.0  # no float residue
        if sample:
            self._record(now - permit.started_at, permit.cost, ok, now)
        if self._queued:
            self._expire(now)
            self._dispatch(now)

    # The queue ------------------------------------------------------------------------------------

    def _leave(self, permit: Permit) -> None:
        self._queued -= 1
        self._queued_by[permit.priority] -= 1
        if not self._queued:
            for waiting in self._waiting:
                waiting.clear()  # drops cancelled leftovers
        elif sum(map(len, self._waiting)) > 2 * self._queued + 16:
            # Cancelled entries pile up in the middle under LIFO; compact in place (amortised O(1)),
            # since callers may hold a deque while calling this.
            for waiting in self._waiting:
                live = [entry for entry in waiting if entry._state == _WAITING]
                waiting.clear()
                waiting.extend(live)

    def _pop(self, priority: int, lifo: bool) -> Permit | None:
        """Take the next live waiter of one priority off the queue, discarding cancelled ones."""
        waiting = self._waiting[priority]
        while waiting:
            permit = waiting.pop() if lifo else waiting.popleft()
            if permit._state == _WAITING:
                permit._state = _DONE
                self._leave(permit)
                if permit._future is not None and not permit._future.cancelled():
                    return permit
        return None

    def _dispatch(self, now: float) -> None:
        """Wake waiters while they fit: strict priority, then FIFO, or LIFO once the queue has stood
        longer than CoDel's interval (the newest waiters are the ones still likely to be wanted),
        except for profile writes, always FIFO."""
        standing = now - self._queue_since > self._interval
        while self._queued:
            priority = next(p for p, count in enumerate(self._queued_by) if count)
            # Profile writes are always first come, first served: under LIFO a standing queue of
            # them would starve its oldest past SUBMIT_WAIT, and each is a person's submission.
            lifo = standing and priority != Priority.SUBMIT
            permit = self._pop(priority, lifo)
            if permit is None:
                continue
            if not self._fits(priority, permit.cost):  # put it back where it was
                permit._state = _WAITING
                (self._waiting[priority].append if lifo else self._waiting[priority].appendleft)(permit)
                self._queued += 1
                self._queued_by[priority] += 1
                return
            if self._codel_sample(now - permit.queued_at, now) and priority != Priority.SUBMIT:
                self._refuse(permit, "codel", now)
                continue
            self._grant(permit, now)
            assert permit._future is not None
            permit._future.set_result(None)

    def _expire(self, now: float) -> None:
        """Shed waiters that waited too long: 2× target while CoDel says overloaded, else the
        interval. Entries are in arrival order, so only the left ends need looking at."""
        stale = 2 * self._target if self._overloaded else self._interval
        for priority, waiting in enumerate(self._waiting):
            patience = SUBMIT_WAIT if priority == Priority.SUBMIT else stale
            while waiting and now - waiting[0].queued_at > patience:
                permit = waiting.popleft()
                future = permit._future
                if permit._state == _WAITING:
                    permit._state = _DONE
                    self._leave(permit)
                    if future is not None and not future.cancelled():
                        self._codel_sample(now - permit.queued_at, now)
                        self._refuse(permit, "codel", now)

    def _evict_below(self, priority: int, now: float) -> bool:
        """Make room in a full queue for more important work by shedding the newest less important
        waiter (the newest has lost the least)."""
        for lower in range(len(self._waiting) - 1, priority, -1):
            permit = self._pop(lower, lifo=True)
            if permit is not None:
                self._refuse(permit, "queue_full", now)
                return True
        return False

    def _refuse(self, permit: Permit, reason: ShedReason, now: float) -> None:
        assert permit._future is not None
        permit._future.set_exception(self._shed(reason, now))

    def _codel_sample(self, delay: float, now: float) -> bool:
        """Feed one queueing delay to CoDel (folly's variant); True if this waiter should be dropped.
        An interval whose minimum delay exceeded the target means a standing queue: overloaded."""
        if delay > self._target:
            self._note_pressure(now)
        if now >= self._codel_until:
            self._overloaded = self._codel_min > self._target
            self._codel_until = now + self._interval
            self._codel_min = delay
            return False  # the first sample of an interval only starts its minimum
        self._codel_min = min(self._codel_min, delay)
        return self._overloaded and delay > 2 * self._target

    # The adaptive limit ---------------------------------------------------------------------------

    def _record(self, latency: float, cost: float, ok: bool, now: float) -> None:
        self._window_samples += 1
        if ok:
            cost_class = min(20, max(-10, math.frexp(cost)[1]))
            baseline = self._baselines.get(cost_class)
            if baseline is None:
                baseline = self._baselines[cost_class] = _Baseline()
            baseline.total += latency
            baseline.count += 1
        else:
            self._window_failures += 1
        if self._window_samples >= MIN_WINDOW_SAMPLES and now - self._window_start >= self._window:
            self._end_window(now)

    def _end_window(self, now: float) -> None:
        saturated = self._pressure_at >= self._window_start
        stretch, weight = 0.0, 0
        alpha = 2 / (BASELINE_WINDOWS + 1)
        for baseline in self._baselines.values():
            if not baseline.count:
                continue
            recent = baseline.total / baseline.count
            if baseline.long < 0:
                baseline.long = recent
            elif recent < baseline.long:
                baseline.long = recent  # good news is believed at once
            else:
                rise = alpha * SATURATED_RISE if saturated else alpha
                baseline.long += rise * (recent - baseline.long)
            if baseline.long > DECAY_RATIO * recent:
                baseline.long *= DECAY
            stretch += baseline.count * recent / max(baseline.long, 1e-9)  # fake clocks give zeros
            weight += baseline.count
            baseline.total, baseline.count = 0.0, 0
        limit = self._limit
        if self._window_failures:
            limit *= FAILURE_BACKOFF
        elif weight and self._window_peak >= limit / 2:
            gradient = min(MAX_GRADIENT, max(MIN_GRADIENT, TOLERANCE * weight / max(stretch, 1e-12)))
            probe = QUEUE_ALLOWANCE if gradient >= MAX_GRADIENT else 0.0
            limit = limit * (1 - SMOOTHING) + (limit * gradient + probe) * SMOOTHING
        self._window_start, self._window_samples, self._window_failures = now, 0, 0
        self._window_peak = self._in_flight
        self._touch_utilization(now)
        grew = limit > self._limit
        self._limit = min(self.max_limit, max(self.min_limit, limit))
        if grew and self._queued:
            self._dispatch(now)

    # Signals --------------------------------------------------------------------------------------

    def note_loop_lag(self, seconds: float) -> None:
        """One event-loop lag sample (see ``watch_loop_lag``). Also the heartbeat that expires
        waiters when no request comes or goes."""
        now = self._now()
        self.loop_lag = seconds
        self._lagging = self._lagging + 1 if seconds > self._lag_threshold else 0
        if self._lagging >= LAG_SAMPLES:
            self._lag_until = now + LAG_HOLD
            self._note_pressure(now)
        if self._queued:
            self._expire(now)
            self._dispatch(now)

    def at_capacity(self) -> bool:
        """Whether this worker is full: the waiting room's signal to start (or keep) queueing.
        True if, within the last ``PRESSURE_MEMORY`` seconds, users' requests were shed or waited
        beyond CoDel's target, or in flight reached the limit, or the loop lagged. Anonymous calls
        refused at their 50 % share do not count: a bot flood must not close the door on people."""
        now = self._now()
        return (
            now < self._lag_until
            or now - self._pressure_at <= PRESSURE_MEMORY
            or self._in_flight >= self._limit
            or (self._queued > 0 and now - self._queue_since > self._target)
        )

    def note_pressure(self) -> None:
        """Pressure seen outside the limiter (a full lane of costly requests in front of it)."""
        self._note_pressure(self._now())

    def pressure(self) -> float:
        """The share of the last ``PRESSURE_SPAN`` seconds in which this worker was at capacity
        (see ``at_capacity``): 0 when it never was, 1 when it always was. The waiting room steers
        by this rather than by one instant, because a single costly request (a password hash) can
        fill the limit for a moment on a worker that has room to spare."""
        now = self._now()
        if (
            now < self._lag_until
            or self._in_flight >= self._limit
            or (self._queued > 0 and now - self._queue_since > self._target)
        ):
            self._note_pressure(now)  # what holds now; sheds and waits were noted as they happened
        slots = self._pressure_slots
        oldest = math.floor((now - PRESSURE_SPAN) / PRESSURE_SLOT)
        while slots and slots[0] <= oldest:
            slots.popleft()
        return min(1.0, len(slots) * PRESSURE_SLOT / PRESSURE_SPAN)

    def utilization(self) -> float:
        """in_flight / limit, averaged over about ``UTILIZATION_TAU`` seconds."""
        return self._touch_utilization(self._now())

    def _touch_utilization(self, now: float) -> float:
        return self._utilization.update(now, self._in_flight / self._limit)

    def _note_pressure(self, now: float) -> None:
        if now - self._pressure_at > PRESSURE_MEMORY:
            self._pressure_since = now
        self._pressure_at = now
        slot = math.floor(now / PRESSURE_SLOT)
        if not self._pressure_slots or self._pressure_slots[-1] != slot:
            self._pressure_slots.append(slot)

    def shed(self, reason: ShedReason, *, pressure: bool = True) -> Shed:
        """The ``Shed`` for a request refused outside the limiter (the CPU budgets), counted with
        the limiter's and with its ``Retry-After``."""
        return self._shed(reason, self._now(), pressure=pressure)

    def _shed(self, reason: ShedReason, now: float, *, pressure: bool = True) -> Shed:
        self.sheds[reason] += 1
        if pressure:
            self._note_pressure(now)
        sustained = now - self._pressure_since if now - self._pressure_at <= PRESSURE_MEMORY else 0.0
        return Shed(reason, min(RETRY_MAX, RETRY_BASE[reason] + int(sustained / RETRY_GROWTH)))


async def watch_loop_lag(limiter: Limiter, every: float = 0.05) -> None:
    """Sample the event loop's lag until cancelled: how late a ``sleep(every)`` wakes up. It uses the
    loop's own clock, not the limiter's, because lag is a fact about this loop."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(every)
        limiter.note_loop_lag(max(0.0, loop.time() - start - every))
