"""Per-client rate limits: one address or one visitor sending far more than a person could.

These are abuse guards, not the fairness mechanism (that is the queue), so they are generous: many
people can share one address (an office, a campus, a mobile carrier's NAT). Fixed windows of
``WINDOW_SECONDS``, numbered from the wall clock, so every host counts in the same window.

The count is the cluster's when the room is shared (Redis, ``HAVEN_REDIS_URL`` or the Sentinels):
a client whose requests a load balancer spreads over every worker of every host is held to the
setting, not to the setting times the workers. The check itself never waits for the network: each
worker counts in memory and, every ``SYNC_SECONDS``, sends what it counted to Redis (one pipelined
``INCRBY`` per client seen, one round trip) and reads back the cluster's totals for those clients
and for the clients near their limit.
A client is refused when the cluster's last total plus what this worker counted since reaches the
limit, so the limit can be overshot by what the other workers let through within one sync (a
fraction of a second's requests). While Redis does not answer, each worker goes on with what it
knows: the totals it last read and its own counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from haven.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger("haven.shield")

WINDOW_SECONDS: Final = 60
SYNC_SECONDS: Final = 0.2
HOT_SHARE: Final = 0.5  # a client this near its limit has its cluster total read at every sync
HOT_MOST: Final = 1_000  # clients read that way per sync, at most
KEY_PREFIX: Final = "haven:limits:"
Key = tuple[str, str]  # (bucket, client)


class ClientLimits:
    def __init__(
        self,
        settings: Settings,
        shared: redis.asyncio.Redis | None = None,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._limits = {
            "address": settings.rate_per_address,
            "visitor": settings.rate_per_visitor,
            "join": settings.joins_per_address,
            # Waiting pages poll; many people behind one address poll at once: a bucket of its own.
            "status": settings.rate_per_address * 2,
        }
        self.retry_after = WINDOW_SECONDS // 2
        self._shared = shared
        self._now = now
        self._window = -1
        self._known: dict[Key, int] = {}  # the cluster's total as last read (ours included)
        self._sending: dict[Key, int] = {}  # counted here, on their way to Redis
        self._counted: dict[Key, int] = {}  # counted here since
        self._sync: asyncio.Task[None] | None = None
        self._failing = False

    async def allow_address(self, address: str) -> bool:
        return self.hit("address", address)

    async def allow_visitor(self, visitor: str) -> bool:
        return self.hit("visitor", visitor)

    async def allow_join(self, address: str) -> bool:
        return self.hit("join", address)

    async def allow_status(self, address: str) -> bool:
        return self.hit("status", address)

    def hit(self, bucket: str, client: str) -> bool:
        """Count one request of ``client`` in ``bucket``; False (and not counted) when it is over."""
        window = int(self._now() // WINDOW_SECONDS)
        if window != self._window:
            self._window = window
            self._known, self._sending, self._counted = {}, {}, {}
        key = (bucket, client)
        counted = self._counted.get(key, 0)
        if self._known.get(key, 0) + self._sending.get(key, 0) + counted >= self._limits[bucket]:
            return False
        self._counted[key] = counted + 1
        if self._shared is not None and self._sync is None:
            self._sync = asyncio.get_running_loop().create_task(self._syncing())
        return True

    async def _syncing(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            if self._counted:
                await self.sync()

    async def sync(self) -> None:
        """Send what this worker counted and read back the cluster's totals (one round trip): of
        the clients it counted, and of those near their limit that it did not (``HOT_SHARE``)."""
        if self._shared is None or self._sending:
            return
        window, sending = self._window, self._counted
        hot = [
            key
            for key, total in self._known.items()
            if key not in sending and total >= self._limits[key[0]] * HOT_SHARE
        ][:HOT_MOST]
        if not sending and not hot:
            return
        self._sending, self._counted = sending, {}
        try:
            async with self._shared.pipeline(transaction=False) as pipe:
                for (bucket, client), count in sending.items():
                    name = f"{KEY_PREFIX}{window}:{bucket}:{client}"
                    pipe.incrby(name, count)
                    pipe.expire(name, WINDOW_SECONDS * 2)
                for bucket, client in hot:
                    pipe.get(f"{KEY_PREFIX}{window}:{bucket}:{client}")
                replies = await pipe.execute()
        except Exception as error:  # Redis down or slow: go on with what this worker knows
            if not self._failing:
                logger.warning("client limits: shared counts unavailable (%s); counting locally", error)
                self._failing = True
            if window == self._window:
                for key, count in sending.items():
                    self._known[key] = self._known.get(key, 0) + count
            return
        finally:
            if window == self._window:
                self._sending = {}
        self._failing = False
        if window == self._window:
            totals = [*replies[: 2 * len(sending) : 2], *replies[2 * len(sending) :]]
            for key, total in zip([*sending, *hot], totals, strict=True):
                self._known[key] = max(self._known.get(key, 0), int(total or 0))

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync
            self._sync = None
        await self.sync()
        if self._shared is not None:
            from haven.shield.store.redis import disconnect

            with contextlib.suppress(Exception):
                await disconnect(self._shared)


def open_limits(settings: Settings) -> ClientLimits:
    """Limits counted across the cluster when the room is shared, else in this process alone."""
    if not settings.shared_room:
        return ClientLimits(settings)
    from haven.shield.store.redis import connect

    client = connect(settings.redis_url, settings.redis_sentinels, settings.redis_master, max_connections=4)
    return ClientLimits(settings, client)
