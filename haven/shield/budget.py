"""CPU budgets for the work that never waits: the room's personal paths, and anonymous work (the JSON
API, calculator pages that miss the page cache).

The limiter bounds what is *in flight*, which is the right measure for requests that wait on the
database. A calculator page rendered on a miss, a JSON calculation or a status check holds no
connection and awaits nothing: it takes the core for its whole length and is gone, so a concurrency
limit never sees more than one of them, and a flood of them takes the core from everyone. Such work is
admitted by what it costs instead (``costs.py``): each priority below the people already in has a
token bucket of CPU milliseconds per second, and spends its table cost from it or is shed at once
with ``Retry-After``.

While the origin has room, such work is counted and let through. A bucket starts to bind when
what is above its priority is under pressure: for newcomers, when the limiter says the worker is full
for the people already in (their requests shed, queued beyond CoDel's target, or the limit full,
within the last second); for anonymous work, then too, and for as long as the room keeps newcomers
waiting in line (nobody is made to queue for the core a calculator is taking). A bound bucket fills
at its floor: 15 % of a core for newcomers (a join, and the held status checks of the people near
the front of the line), 5 % for anonymous work, which keeps the API answering at a trickle instead
of failing outright. Shedding is lowest priority first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from haven.shield.limiter import Limiter, Priority

CORE_MS: Final = 1000.0  # CPU milliseconds one worker has per second
BURST_SECONDS: Final = 0.25  # a bucket holds this many seconds of its rate (and one request at least)


# The floors, as shares of a core: what each priority may spend while it is bound.
FLOORS: Final[dict[Priority, float]] = {Priority.ADMIT: 0.15, Priority.ANONYMOUS: 0.05}


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, now: float, tokens: float) -> None:
        self.tokens, self.at = tokens, now


class Budget:
    """The buckets of one worker. ``spend`` is O(1) and never awaits. ``queueing`` tells whether
    the room keeps newcomers waiting."""

    def __init__(
        self,
        limiter: Limiter,
        queueing: Callable[[], bool],
        *,
        floors: dict[Priority, float] | None = None,
    ) -> None:
        self.limiter = limiter
        self.queueing = queueing
        self._now = limiter.now
        self.floors = dict(floors or FLOORS)
        self._buckets: dict[Priority, _Bucket] = {}  # the bound ones
        self.spent: dict[Priority, float] = dict.fromkeys(self.floors, 0.0)  # ms let through
        self.sheds: dict[Priority, int] = dict.fromkeys(self.floors, 0)

    def bound(self, priority: Priority) -> bool:
        """Whether ``priority`` spends at its floor now."""
        if priority not in self.floors:
            return False
        if self.limiter.at_capacity():
            return True
        return priority is Priority.ANONYMOUS and self.queueing()

    def spend(self, priority: Priority, cost_ms: float) -> None:
        """Let one request of ``priority`` that costs ``cost_ms`` through, or raise ``Shed`` with the
        limiter's ``Retry-After``. Priorities without a floor (people already in) always pass: the
        limiter is theirs."""
        if priority not in self.floors:
            return
        if not self.bound(priority):
            self._buckets.pop(priority, None)
            self.spent[priority] += cost_ms
            return
        now = self._now()
        rate = self.floors[priority] * CORE_MS  # ms per second
        capacity = max(rate * BURST_SECONDS, cost_ms)
        bucket = self._buckets.get(priority)
        if bucket is None:  # newly bound: a full bucket
            bucket = self._buckets[priority] = _Bucket(now, capacity)
        bucket.tokens = min(capacity, bucket.tokens + max(0.0, now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < cost_ms:
            self.sheds[priority] += 1
            raise self.limiter.shed("budget", pressure=False)
        bucket.tokens -= cost_ms
        self.spent[priority] += cost_ms
