"""The lane: a few slots per worker for the costliest requests (password hashes).

argon2id holds a core for about 27 ms at the default parameters (``costs.py``), where a dynamic page
takes about 2 ms. Hashes therefore never enter the admission limiter, where a handful of them would
fill the limit that pages need: they wait here instead, ``slots`` at once per worker, for at most
``wait`` seconds, and are shed beyond that with a prebuilt 503 (the admission layer's). The lane is
their limit.

The waiting room reads the lane as part of the origin's health: a wait longer than ``pressure_after``
or a shed is pressure (the room lets fewer people in), and its occupancy, averaged over about a
second, is part of the utilisation (the room lets more people in only while the lane has room).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from haven.shield.limiter import Limiter, TimeAverage


class LaneFull(Exception):
    """No slot came free within the lane's wait: shed the request."""


class Lane:
    def __init__(
        self,
        slots: int,
        wait: float,
        pressure_after: float,
        note_pressure: Callable[[], None],
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = slots
        self.wait = wait
        self.pressure_after = pressure_after
        self._note_pressure = note_pressure
        self._now = now
        self._free = asyncio.Semaphore(slots)
        self.busy = 0  # slots in use
        self.waiting = 0
        self.sheds = 0
        self.served = 0
        self._occupancy = TimeAverage(now())

    async def enter(self) -> None:
        """Take a slot (release it with ``leave``); ``LaneFull`` when none comes free in time."""
        started = self._now()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait):
                await self._free.acquire()
        except TimeoutError:
            self.sheds += 1
            self._note_pressure()
            raise LaneFull from None
        finally:
            self.waiting -= 1
        if self._now() - started > self.pressure_after:
            self._note_pressure()
        self.utilization()
        self.busy += 1

    def leave(self) -> None:
        self.utilization()
        self.busy -= 1
        self.served += 1
        self._free.release()

    def utilization(self) -> float:
        """Slots in use ÷ slots, averaged over about a second."""
        return self._occupancy.update(self._now(), self.busy / self.slots)


class Origin:
    """The origin's health as the waiting room reads it: the limiter's pressure (which the lane
    feeds with its long waits and sheds) and the fuller of the limiter and the lane."""

    def __init__(self, limiter: Limiter, lane: Lane) -> None:
        self.limiter, self.lane = limiter, lane

    def pressure(self) -> float:
        return self.limiter.pressure()

    def utilization(self) -> float:
        return max(self.limiter.utilization(), self.lane.utilization())
