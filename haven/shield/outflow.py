"""The room's outflow controller: the admission rate for the next tick, from the origin's health.

Pure: no I/O, no clock, no event loop. The room reads the origin and its own counters once a tick and
calls ``next_rate``; ``pace`` turns the rate into how fast this worker moves the serving counter.

The rule, within [``min_rate``, ``max_rate``]:

- ×0.8 when the pressure is 50 % or more, ×0.95 from 20 %;
- under 20 %, a step towards a utilisation of 75 % (up to ×1.1 + 0.1 a tick, the smaller the
  nearer it is), when the rate is needed: people wait (or are let in at once) and it is used, the
  people let in over the last five ticks (who came in when their turn came) having made up at
  least half of it;
- while idle and unused, a slow sink back to ``start_rate``;
- held otherwise.

People let in now load the origin for the minutes their visit lasts, and post their first form
seconds after they come in, so the controller reacts to pressure that persists, not to an instant,
and moves in small steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

# The limiter's pressure is the share of the last 2 s it was at capacity:
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
# that the origin can take more. An unused rate sinks back towards ``start_rate`` by IDLE_DECAY a
# tick: a flash crowd meets the rate the origin was last seen to take, not the ``max_rate`` a calm
# would drift to.
USE_TICKS: Final = 5
USED: Final = 0.5
IDLE_DECAY: Final = 0.98
MAX_NO_SHOW: Final = 0.8  # never move the counter more than 5× the admission rate


class Bounds(Protocol):
    """The settings the controller keeps to (the room's settings have them)."""

    @property
    def min_rate(self) -> float: ...
    @property
    def max_rate(self) -> float: ...
    @property
    def start_rate(self) -> float: ...


@dataclass(frozen=True)
class Reading:
    """What the room knows at a tick."""

    pressure: float  # the origin's: share of the last 2 s at capacity
    utilization: float  # the origin's: in flight over its limit, smoothed
    # (seconds, people let in) for each of the last USE_TICKS ticks, this one last
    use: Sequence[tuple[float, int]]
    waiting: bool  # people wait in the line
    admits_directly: bool  # the room is not queueing: new visitors go straight in


def used(rate: float, use: Sequence[tuple[float, int]]) -> bool:
    """Whether the people let in over ``use`` came to at least USED of ``rate``."""
    span = sum(seconds for seconds, _ in use)
    return span > 0 and sum(people for _, people in use) >= USED * rate * span


def next_rate(rate: float, reading: Reading, bounds: Bounds) -> float:
    """The admission rate for the next tick: down under pressure, up towards ROOMY when it is
    needed, back towards the start when idle, else held."""
    if reading.pressure >= SHRINK_AT:
        return max(bounds.min_rate, rate * SHRINK)
    if reading.pressure >= EASE_AT:
        return max(bounds.min_rate, rate * EASE)
    needed = used(rate, reading.use) and (reading.admits_directly or reading.waiting)
    if needed and reading.utilization < ROOMY:
        grown = rate * (1.0 + GROW_MAX * (ROOMY - reading.utilization) / ROOMY) + GROW_STEP
        return min(bounds.max_rate, grown)
    if not needed and reading.admits_directly and rate > bounds.start_rate:
        return max(bounds.start_rate, rate * IDLE_DECAY)
    return rate


def pace(rate: float, no_show: float) -> float:
    """Tickets per second this worker moves the serving counter at for ``rate`` admissions a
    second: people who left the queue do not claim their turn, so the counter moves past them
    faster and the origin stays busy (by at most 1 ÷ (1 − MAX_NO_SHOW))."""
    return rate / (1.0 - min(no_show, MAX_NO_SHOW))
