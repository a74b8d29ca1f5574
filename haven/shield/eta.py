"""The ETA model: how fast the line moves from now on, the wait that predicts, and who is held.

No I/O and no clock (times come in as arguments). The room feeds ``LineMeter`` once a tick with the
room's counters and what it pushed the serving counter by; the meter measures the no-show rate
(which the outflow makes up for) and how many workers' worth move the line (one, with one worker).

The speed is this worker's outflow as the controller has just set it (no-shows included), times
the workers' worth. The counter's own past speed would lag the controller, and tell the first
people in a new line of waits many times too long or too short. The wait is shown as a range: the
low end assumes the line speeds up by a quarter, the high end that it slows down to three
quarters. A check from someone whose turn is due within ten seconds is held until the tick that
reaches it, so people near the front go in in the order of the line.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from haven.shield.outflow import MAX_NO_SHOW, pace
from haven.shield.store import RoomState

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
STILL: Final = 1e-3  # tickets per second under which the line counts as not moving
MAX_WORKERS: Final = 64.0  # the most workers' worth a measure believes


class LineMeter:
    """What the line's recent movement says: who does not show up, and how many workers move it."""

    def __init__(self) -> None:
        self.no_show = 0.0  # share of the tickets reached that are never claimed
        self.workers = 1.0  # the line's speed over this worker's push: how many workers' worth
        self._history: deque[tuple[float, int, int]] = deque(maxlen=NO_SHOW_WINDOW + CLAIM_LAG + 1)
        self._pushed: deque[float] = deque(maxlen=SPEED_TICKS)  # what this worker moved the line by
        self._moving = 0  # ticks in a row with a line

    def measure(self, now: float, state: RoomState) -> None:
        """Take the room's counters at a tick (before the counter moves)."""
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
        if state.mode == "rate":
            return state.rate
        if state.mode == "paused" or (state.mode == "event" and state.prequeue < 0):
            return 0.0
        return self.workers * pace(rate, self.no_show)


def wait_range(ahead: int, speed: float, tick_seconds: float) -> tuple[float, float]:
    """The wait of someone with ``ahead`` people before them, low and high, in seconds: (0, 0)
    once reached, (-1, -1) when the line does not move. The high end adds a tick, as the counter
    moves once a tick."""
    if ahead <= 0:
        return 0.0, 0.0
    if speed < STILL:
        return -1.0, -1.0
    return ahead / (speed * ETA_FAST), ahead / (speed * ETA_SLOW) + tick_seconds


def due_soon(eta_high: float) -> bool:
    """Whether a check whose wait ends by ``eta_high`` seconds is held for its turn."""
    return 0 <= eta_high <= HOLD_WITHIN
