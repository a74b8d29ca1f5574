"""When the serving counter passed what: the value after each advance that moved it, and when.

Both increase, so when a place was passed is one bisection, and forgetting the old ones is a cut at
the front. The memory store keeps the room's own; each room keeps what its worker saw at its ticks.
"""

from __future__ import annotations

import bisect


class Checkpoints:
    def __init__(self) -> None:
        self.serving: list[int] = []  # the counter after each advance that moved it, increasing
        self.at: list[float] = []  # when, increasing

    def note(self, serving: int, at: float) -> None:
        """The counter reached ``serving`` at ``at`` (ignored unless it moved on)."""
        if not self.serving or serving > self.serving[-1]:
            self.serving.append(serving)
            self.at.append(at)

    def restart(self, serving: int, at: float) -> None:
        self.serving, self.at = [serving], [at]

    @property
    def last(self) -> int:
        return self.serving[-1] if self.serving else 0

    def when(self, place: int) -> float | None:
        """The first checkpoint at or above ``place`` (when it was passed, at the latest); None
        when the counter has not got there yet."""
        index = bisect.bisect_left(self.serving, place)
        return self.at[index] if index < len(self.at) else None

    def forget_before(self, cutoff: float) -> int | None:
        """Drop the checkpoints older than ``cutoff``; the last one dropped (None: none were)."""
        old = bisect.bisect_left(self.at, cutoff)
        if not old:
            return None
        forgotten = self.serving[old - 1]
        del self.serving[:old]
        del self.at[:old]
        return forgotten
