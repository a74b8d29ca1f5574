"""The shared store with a stand-in: a line of this process's own while the shared store is down.

Fail-closed, within bounds: when the shared store (Redis) stops answering, a worker must neither turn
everyone away nor let everyone in. ``FallbackStore`` is a ``Store`` that passes every call to the
shared store and, on ``StoreUnavailable``, switches to a local ``MemoryStore`` (logged once, counted
in ``fallbacks``) and answers from it, until a ``ping`` finds the shared store answering again.

The local rooms are named apart (``main~<id>``): places handed out by a process on its own are not
places in the shared line, so a ticket from one line is never live in the other, and after the
switch back the local line's tickets are refused as foreign instead of jumping the shared queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from haven.shield.store import Mode, RoomState, Store, StoreUnavailable
from haven.shield.store.memory import MemoryStore

logger = logging.getLogger("haven.shield")
PROBE_EVERY = 0.2  # seconds between two pings of a shared store that stopped answering

T = TypeVar("T")


class FallbackStore:
    """A ``Store`` that is the shared one while it answers and a local one while it does not."""

    def __init__(self, shared: Store, local: Store | None = None, *, grace: float = 0.0) -> None:
        self.shared = shared
        self.local: Store = local or MemoryStore()
        # How long calls wait for the shared store to answer again before this process falls back
        # (a Sentinel failover takes seconds: a line of our own meanwhile would let newcomers in
        # ahead of everyone in the shared line, which stands still).
        self.grace = grace
        self._outage: float | None = None  # when the shared store stopped answering (loop time)
        self._back: asyncio.Event | None = None
        self._probe: asyncio.Task[None] | None = None
        self.current: Store = shared  # the store the calls go to now
        self.degraded = False  # the shared store is unreachable: calls go to the local one
        self.fallbacks = 0  # times this process switched to the local store
        self.name = shared.name  # named after the store it stands for (metrics, `haven room status`)
        self._suffix = f"~{id(self):x}"

    # Which store, which room ---------------------------------------------------------------------

    def room(self, name: str) -> str:
        """What the room ``name`` is called in the store in use."""
        return self.local_name(name) if self.degraded else name

    def local_name(self, name: str) -> str:
        """What the room ``name`` is called in the local store (the same name, given it twice)."""
        return name if self._is_local(name) else name + self._suffix

    def _is_local(self, name: str) -> bool:
        return name.endswith(self._suffix)

    def fall_back(self, error: Exception) -> None:
        """Switch to the local store (after ``error`` from the shared one); once per outage."""
        if not self.degraded:
            logger.error("shield store unreachable (%s): this process runs a room of its own", error)
            self.degraded = True
            self.fallbacks += 1
            self.current = self.local
            self._end_outage()  # whoever still waits goes on, to the local store

    async def _call(self, room: str, call: Callable[[Store, str], Awaitable[T]]) -> T:
        """``call`` on the shared store, or on the local one (under the room's local name) when the
        shared one is down and did not come back within the grace: a call that fails over is
        answered, not lost."""
        found = await self._on_shared(room, call)
        return found[0] if found else await call(self.local, self.local_name(room))

    async def _ticket(self, room: str, call: Callable[[Store, str], Awaitable[bool]]) -> bool:
        """As ``_call``, for a question about one ticket of ``room``: a ticket of the shared line is
        not live in the local one (its holder joins that line again), whatever the local line holds
        under the same number."""
        found = await self._on_shared(room, call)
        return found[0] if found else self._is_local(room) and await call(self.local, room)

    async def _on_shared(self, room: str, call: Callable[[Store, str], Awaitable[T]]) -> list[T]:
        """``[answer]`` of ``call`` on the shared store (waiting out an outage within the grace),
        or ``[]`` once this process has fallen back to the local store."""
        while not self.degraded:
            try:
                answer = await call(self.shared, room)
            except StoreUnavailable as error:
                if not await self._came_back():
                    self.fall_back(error)
            else:
                self._end_outage()
                return [answer]
        return []

    async def _best_effort(self, room: str, call: Callable[[Store, str], Awaitable[None]]) -> None:
        """As ``_call`` for a write nobody waits on (a pass's expiry, a worker's report): while the
        shared store is away within the grace, it is skipped rather than held."""
        if not self.degraded:
            try:
                await call(self.shared, room)
                return
            except StoreUnavailable as error:
                if self._outage is not None or self.grace > 0:
                    self._start_outage()
                    return
                self.fall_back(error)
        await call(self.local, self.local_name(room))

    # Waiting out a failover ------------------------------------------------------------------------

    def _start_outage(self) -> None:
        if self._outage is None and self.grace > 0:
            loop = asyncio.get_running_loop()
            self._outage, self._back = loop.time(), asyncio.Event()
            self._probe = loop.create_task(self._probing())
            logger.warning("shield store not answering: waiting up to %g s for it (a failover?)", self.grace)

    async def _came_back(self) -> bool:
        """Wait, within the grace counted from the first failure, for the shared store to answer
        again (one probe for the whole process, however many calls wait). False: fall back."""
        if self.grace <= 0 or self.degraded:
            return False
        self._start_outage()
        outage, back = self._outage, self._back
        if outage is None or back is None:  # it came back meanwhile
            return True
        remaining = outage + self.grace - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(back.wait(), remaining)
        except TimeoutError:
            return False
        return True

    async def _probing(self) -> None:
        loop = asyncio.get_running_loop()
        while self._outage is not None and loop.time() - self._outage < self.grace:
            try:
                await self.shared.ping()
            except StoreUnavailable:
                await asyncio.sleep(PROBE_EVERY)
                continue
            logger.warning("shield store answering again after %.1f s", loop.time() - self._outage)
            self._probe = None  # this task: not to be cancelled by the end of the outage
            self._end_outage()
            return

    def _end_outage(self) -> None:
        if self._outage is None:
            return
        probe, back = self._probe, self._back
        self._outage = self._back = self._probe = None
        if probe is not None:
            probe.cancel()
        if back is not None:
            back.set()

    # The Store protocol ----------------------------------------------------------------------------

    async def join(self, room: str, holder: str, now: float, kept: float) -> int:
        return await self._call(room, lambda store, name: store.join(name, holder, now, kept))

    async def claim(self, room: str, number: int, place: int, now: float, kept: float) -> bool:
        return await self._ticket(room, lambda store, name: store.claim(name, number, place, now, kept))

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        await self._best_effort(room, lambda store, name: store.hold_pass(name, pass_id, expires))

    async def advance(self, room: str, count: int, now: float) -> int:
        return await self._call(room, lambda store, name: store.advance(name, count, now))

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        return await self._call(room, lambda store, name: store.advance_clocked(name, rate, now))

    async def passed_at(self, room: str, place: int) -> float | None:
        return await self._call(room, lambda store, name: store.passed_at(name, place))

    async def state(self, room: str, now: float) -> RoomState:
        return await self._call(room, lambda store, name: store.state(name, now))

    async def configure(
        self,
        room: str,
        *,
        mode: Mode | None = None,
        rate: float | None = None,
        queueing: bool | None = None,
        event_start: float | None = None,
        event_seed: str | None = None,
    ) -> RoomState:
        return await self._call(
            room,
            lambda store, name: store.configure(
                name, mode=mode, rate=rate, queueing=queueing, event_start=event_start, event_seed=event_seed
            ),
        )

    async def start_event(self, room: str) -> int:
        return await self._call(room, lambda store, name: store.start_event(name))

    async def sweep(self, room: str, now: float, history: float) -> int:
        return await self._call(room, lambda store, name: store.sweep(name, now, history))

    async def report(self, room: str, worker: str, view: str, now: float) -> None:
        await self._best_effort(room, lambda store, name: store.report(name, worker, view, now))

    async def reports(self, room: str, now: float, fresh: float) -> dict[str, str]:
        return await self._call(room, lambda store, name: store.reports(name, now, fresh))

    async def ping(self) -> None:
        """Never raises: the local store always answers. While degraded, this is how the shared
        store is taken back (the room pings at each tick until it answers); otherwise a shared
        store that does not answer is left for the local one."""
        try:
            await self.shared.ping()
        except StoreUnavailable as error:
            self.fall_back(error)
            return
        if self.degraded:
            logger.warning("shield store reachable again: back to the shared room")
            self.degraded = False
            self.current = self.shared

    async def close(self) -> None:
        self._end_outage()
        await self.local.close()
        await self.shared.close()
