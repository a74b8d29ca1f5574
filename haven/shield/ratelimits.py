"""Per-client rate limits: one address or one visitor sending far more than a person could.

These are abuse guards, not the fairness mechanism (that is the queue), so they are generous: many
people can share one address (an office, a campus, a mobile carrier's NAT). Each worker keeps its own
counts in memory (the ``limits`` package, fixed windows: about 10 µs a check, no network round trip on
the hot path). With several workers a client's requests are spread over them, so the effective limit
is at most the number of workers times the setting; set the values with that in mind.
"""

from __future__ import annotations

from typing import Final

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

from haven.settings import Settings

WINDOW_SECONDS: Final = 60


class ClientLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        per_minute = f"{{}}/{WINDOW_SECONDS} seconds"
        self._address: RateLimitItem = parse(per_minute.format(settings.rate_per_address))
        self._visitor: RateLimitItem = parse(per_minute.format(settings.rate_per_visitor))
        self._join: RateLimitItem = parse(per_minute.format(settings.joins_per_address))
        # Waiting pages poll; many people behind one address poll at once: a bucket of its own.
        self._status: RateLimitItem = parse(per_minute.format(settings.rate_per_address * 2))
        self.retry_after = WINDOW_SECONDS // 2

    async def allow_address(self, address: str) -> bool:
        return await self._limiter.hit(self._address, "address", address)

    async def allow_visitor(self, visitor: str) -> bool:
        return await self._limiter.hit(self._visitor, "visitor", visitor)

    async def allow_join(self, address: str) -> bool:
        return await self._limiter.hit(self._join, "join", address)

    async def allow_status(self, address: str) -> bool:
        return await self._limiter.hit(self._status, "status", address)
