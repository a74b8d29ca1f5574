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

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from haven.shield.store import Mode, RoomState, Store, StoreUnavailable
from haven.shield.store.memory import MemoryStore

logger = logging.getLogger("haven.shield")

T = TypeVar("T")


class FallbackStore:
    """A ``Store`` that is the shared one while it answers and a local one while it does not."""

    def __init__(self, shared: Store, local: Store | None = None) -> None:
        self.shared = shared
        self.local: Store = local or MemoryStore()
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

    async def _call(self, room: str, call: Callable[[Store, str], Awaitable[T]]) -> T:
        """``call`` on the shared store, or on the local one (under the room's local name) when the
        shared one is down or fails now: a call that fails over is answered, not lost."""
        if not self.degraded:
            try:
                return await call(self.shared, room)
            except StoreUnavailable as error:
                self.fall_back(error)
        return await call(self.local, self.local_name(room))

    async def _ticket(self, room: str, call: Callable[[Store, str], Awaitable[bool]]) -> bool:
        """As ``_call``, for a question about one ticket of ``room``: a ticket of the shared line is
        not live in the local one (its holder joins that line again), whatever the local line holds
        under the same number."""
        if not self.degraded:
            try:
                return await call(self.shared, room)
            except StoreUnavailable as error:
                self.fall_back(error)
        return self._is_local(room) and await call(self.local, room)

    # The Store protocol ----------------------------------------------------------------------------

    async def join(self, room: str, holder: str, now: float, kept: float) -> int:
        return await self._call(room, lambda store, name: store.join(name, holder, now, kept))

    async def claim(self, room: str, number: int, place: int, now: float, kept: float) -> bool:
        return await self._ticket(room, lambda store, name: store.claim(name, number, place, now, kept))

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        await self._call(room, lambda store, name: store.hold_pass(name, pass_id, expires))

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
        await self.local.close()
        await self.shared.close()
