"""The ETA model: how fast the line moves from now on, the wait that predicts, and who is held.

No I/O and no clock (times come in as arguments). The room feeds ``LineMeter`` once a tick with the
room's counters and what it pushed the serving counter by; the meter measures the no-show rate
(which the outflow makes up for) and how many workers' worth move the line (one, with one worker).

The speed is how fast the counter has actually moved, over a span as long as the wait of the last
person in line (at least MEASURE_TICKS, at most SPEED_HISTORY): the controller steps its rate up and
down every tick as the origin's load comes and goes, while the counter's movement over minutes is
steady, and it is what the people waiting will see. Until the line has MEASURE_TICKS of history,
the speed is this worker's outflow as the controller has just set it (no-shows included), times the
workers' worth (``measuring`` is False; the room then puts the slow end at the controller's floor
while the origin is under pressure). The wait is shown as a range, from the model's slow and fast
ends (``SpeedBand``): how far the line's actual movement has strayed from the speed predicted, at
the horizon of the wait of the people joining now, its 20th and 80th percentiles. Until it has seen
enough, the band is three quarters to five quarters. A check from someone whose turn is due within
ten seconds is held until the tick that reaches it, so people near the front go in in the order of
the line.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from haven.shield.outflow import MAX_NO_SHOW, pace
from haven.shield.store import RoomState

ETA_FAST: Final = 1.25  # the band before it is measured: the line speeds up by a quarter
ETA_SLOW: Final = 0.75  # or slows down to three quarters
# The band: the actual movement of the line over HORIZONS ticks against the speed predicted at
# their start, the last BAND_WINDOW of those ratios, their BAND_LOW and BAND_HIGH percentiles once
# there are BAND_MIN of them; never narrower than BAND_NARROWEST either side.
HORIZONS: Final = (15, 60, 240, 900, 1800)
MEASURE_TICKS: Final = 10  # ticks of a line's movement before it is its own measure of speed
SPEED_HISTORY: Final = 1800  # ticks of the counter's movement the speed may be measured over
BAND_WINDOW: Final = 900
BAND_MIN: Final = 30
BAND_LOW: Final = 0.2
BAND_HIGH: Final = 0.8
BAND_NARROWEST: Final = 0.1
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
STILL: Final = 1e-3  # tickets per second under which the line counts as not moving
MAX_WORKERS: Final = 64.0  # the most workers' worth a measure believes


class LineMeter:
    """What the line's recent movement says: who does not show up, and how many workers move it."""

    def __init__(self) -> None:
        self.no_show = 0.0  # share of the tickets reached that are never claimed
        self.workers = 1.0  # the line's speed over this worker's push: how many workers' worth
        self._history: deque[tuple[float, int, int]] = deque(maxlen=NO_SHOW_WINDOW + CLAIM_LAG + 1)
        self._pushed: deque[float] = deque(maxlen=SPEED_TICKS)  # what this worker moved the line by
        self._counter: deque[tuple[float, int]] = deque(maxlen=SPEED_HISTORY + 1)  # (time, serving)
        self.measuring = False  # the speed is the line's measured movement (not the controller's)
        self._moving = 0  # ticks in a row with a line

    def measure(self, now: float, state: RoomState) -> None:
        """Take the room's counters at a tick (before the counter moves)."""
        history = self._history
        history.append((now, state.serving, state.claimed))
        if state.waiting == 0 and state.serving >= state.issued:
            self._moving = 0
            self._counter.clear()
        else:
            if state.mode == "paused" or (state.mode == "event" and state.prequeue < 0):
                self._counter.clear()  # a stopped line says nothing about its speed once it moves
            else:
                self._counter.append((now, state.serving))
            # Over the ticks since the line formed (the counter moves after each measure): what it
            # moved against what this worker moved it by. One worker: 1. Several: their number,
            # or rather the total rate over this worker's, as their rates follow the same origin.
            span = min(SPEED_TICKS, self._moving, len(history) - 1, len(self._pushed))
            self._moving += 1
            own = sum(list(self._pushed)[-span:]) if span else 0.0
            if own >= 1.0:
                moved = history[-1][1] - history[-1 - span][1]
                self.workers = 0.7 * self.workers + 0.3 * min(MAX_WORKERS, max(1.0, moved / own))
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

    def pushed(self, tickets: float) -> None:
        """What this worker moved the counter by at this tick (0 without a line)."""
        self._pushed.append(tickets)

    def no_line(self) -> None:
        """Nobody queues: the next line starts with no one missing."""
        self.no_show = 0.0

    def speed(self, state: RoomState, rate: float) -> float:
        """How fast the line moves from now on (tickets per second, all workers), for this
        worker's admission ``rate``."""
        self.measuring = False
        if state.mode == "rate":
            return state.rate
        if state.mode == "paused" or (state.mode == "event" and state.prequeue < 0):
            return 0.0
        measured = self.measured(state.waiting)
        self.measuring = measured is not None
        return self.workers * pace(rate, self.no_show) if measured is None else measured

    def measured(self, waiting: int) -> float | None:
        """How fast the counter moved over the wait of the last of ``waiting`` people (None while
        the line is too young to tell)."""
        counter = self._counter
        if len(counter) <= MEASURE_TICKS:
            return None
        recent = self._over(MEASURE_TICKS)
        if recent < STILL:
            return recent
        ticks = (counter[-1][0] - counter[-1 - MEASURE_TICKS][0]) / MEASURE_TICKS
        span = round(waiting / recent / max(ticks, 1e-3))
        return self._over(min(len(counter) - 1, max(MEASURE_TICKS, span)))

    def _over(self, ticks: int) -> float:
        (then, counter), (now, serving) = self._counter[-1 - ticks], self._counter[-1]
        return (serving - counter) / (now - then) if now > then else 0.0


class SpeedBand:
    """How far the line's actual speed strays from the speed predicted: the model's uncertainty,
    measured rather than assumed, at the horizon of the wait of the people joining now (the
    controller's swings show over a minute, not over an hour)."""

    def __init__(self) -> None:
        self._past: deque[tuple[float, int, float]] = deque(maxlen=max(HORIZONS) + 1)
        self._ratios = {horizon: deque[float](maxlen=BAND_WINDOW) for horizon in HORIZONS}
        self.low = ETA_SLOW
        self.high = ETA_FAST

    def observe(self, now: float, serving: int, speed: float, waiting: int, *, moving: bool) -> None:
        """Once a tick: the counter, the speed predicted from now on and the people in line
        (``moving``: people wait and the line is meant to move; a line that stops starts a new
        measure)."""
        past = self._past
        if not moving:
            past.clear()
            return
        past.append((now, serving, speed))
        for horizon in HORIZONS:
            if len(past) <= horizon:
                break
            then, counter, predicted = past[-1 - horizon]
            if predicted >= STILL and now > then:
                self._ratios[horizon].append((serving - counter) / ((now - then) * predicted))
        # The horizon nearest below the wait of the last in line (in ticks, one a second or so),
        # or the longest below it with enough measures.
        wait = waiting / speed if speed >= STILL else 0.0
        usable = [h for h in HORIZONS if len(self._ratios[h]) >= BAND_MIN]
        nearer = [h for h in usable if h <= wait] or usable[:1]
        if nearer:
            ordered = sorted(self._ratios[nearer[-1]])
            last = len(ordered) - 1
            self.low = min(1.0 - BAND_NARROWEST, ordered[round(BAND_LOW * last)])
            self.high = max(1.0 + BAND_NARROWEST, ordered[round(BAND_HIGH * last)])

    def speeds(self, speed: float) -> tuple[float, float]:
        """The slow and fast ends for ``speed``."""
        return speed * self.low, speed * self.high


def wait_range(ahead: int, speed_low: float, speed_high: float, tick_seconds: float) -> tuple[float, float]:
    """The wait of someone with ``ahead`` people before them, low and high, in seconds: (0, 0)
    once reached, (-1, -1) when the line does not move. The high end adds a tick, as the counter
    moves once a tick. The page's script and the surge simulator do the same sum."""
    if ahead <= 0:
        return 0.0, 0.0
    if speed_low < STILL:
        return -1.0, -1.0
    return ahead / speed_high, ahead / speed_low + tick_seconds


def due_soon(eta_high: float) -> bool:
    """Whether a check whose wait ends by ``eta_high`` seconds is held for its turn."""
    return 0 <= eta_high <= HOLD_WITHIN
