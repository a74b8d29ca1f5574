"""Where the waiting room keeps its shared state, behind one small protocol.

Two stores implement it:

- ``MemoryStore`` (the default): plain dictionaries in one process. Right for one worker; with several
  workers each would run a room of its own, so Haven refuses that combination at start-up.
- ``RedisStore`` (``HAVEN_REDIS_URL``): every operation that reads and then writes is one Lua script,
  so any number of workers on any number of hosts share one room, one ticket sequence and one serving
  counter, with no lost update between them.

The room reaches either through ``FallbackStore`` (``fallback.py``), which stands in with a line of
the process's own while the shared store does not answer.

Why counters and not a list of visitors: a ticket is a number in a signed cookie and a place is
``number - serving``, so joining, checking one's place and admitting the next thousand people are each
O(1) or O(log n), whatever the length of the queue. The store keeps, per waiting ticket, only the time
it last checked in (to let abandoned places lapse), which is what bounds its memory per visitor.

All times are wall-clock seconds (``time.time()``): they are compared across hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, Protocol

Mode = Literal["auto", "paused", "rate", "open", "event"]
MODES: Final[tuple[Mode, ...]] = ("auto", "paused", "rate", "open", "event")


@dataclass(frozen=True)
class RoomState:
    """One consistent reading of a room."""

    issued: int  # the highest ticket number issued so far (0: none yet)
    serving: int  # tickets numbered up to this one may enter
    waiting: int  # tickets above ``serving`` that checked in within the ticket lifetime
    passes: int  # passes whose expiry is still ahead
    claimed: int  # tickets exchanged for a pass, ever (each counted once)
    lapsed: int  # tickets dropped because they stopped checking in, ever
    mode: Mode = "auto"
    rate: float = 0.0  # admissions per second in "rate" mode
    queueing: bool = False  # "auto" mode: the safety net is engaged
    event_start: float = 0.0  # "event" mode: when the gates open
    event_seed: str = ""  # "event" mode: seed of the shuffle of the pre-queue
    prequeue: int = -1  # tickets issued before the event start, fixed at the start; -1 until then
    event_base: int = 0  # ``serving`` at the event start: the draw places the pre-queue after it


class Store(Protocol):
    """The operations a room needs; each is atomic with respect to every other caller."""

    name: str  # "memory" or "redis", for metrics and `haven room status`

    async def join(self, room: str, holder: str, now: float, ttl: float) -> int:
        """Issue the next ticket number and note it as seen at ``now``.

        ``holder`` names a signed-in account ("" for none). An account that already holds a live
        ticket (not yet claimed and seen within ``ttl``, whether reached or not, or claimed within
        ``ttl``) gets that number back instead of a new one: one place per account, whatever the
        browser.
        """
        ...

    async def check_in(self, room: str, number: int, now: float, ttl: float) -> bool:
        """Note that a waiting ticket is still wanted. False when it lapsed (not seen within ``ttl``,
        or swept): its holder must join again. A ticket already reached by ``serving`` but not
        yet claimed is still live until ``ttl`` after its last check-in."""
        ...

    async def claim(self, room: str, number: int, place: int, now: float, ttl: float) -> bool:
        """Exchange a reached ticket for a pass. ``place`` is where the ticket stands in the line
        (its number, or its drawn place for the pre-queue of an event); it is reached when
        ``place <= serving``. True once per ticket: when it is reached, live and not claimed
        before (it is then counted in ``claimed``). False when it is not reached yet, lapsed, or
        already exchanged: one ticket is one pass, however many copies of its cookie exist. (A
        second tab of the same visitor sends the pass its first tab got.) A claimed ticket still
        checks in as live for ``ttl``, so its holder is told it is their turn."""
        ...

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        """Record (or renew) an active pass until ``expires``; ``passes`` counts them."""
        ...

    async def advance(self, room: str, count: int) -> int:
        """Move ``serving`` forward by ``count``, never past ``issued``; returns the new value."""
        ...

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        """Move ``serving`` forward by ``rate`` × the seconds since the previous clocked advance
        (carrying the fraction), never past ``issued``; returns the new value. The clock is shared,
        so the outflow is ``rate`` in total however many workers call this. The first call, or one
        after more than 10 s without any, only starts the clock."""
        ...

    async def state(self, room: str, now: float, ttl: float) -> RoomState: ...

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
        """Change the operator's settings (fields left None are kept). Scheduling an event
        (``event_start``) also resets ``prequeue`` to -1. The state returned carries the settings
        and counters but not ``waiting`` and ``passes`` (0): read ``state`` for those."""
        ...

    async def start_event(self, room: str) -> int:
        """Fix the pre-queue at the event start: the first call sets ``prequeue`` to ``issued``
        and ``event_base`` to ``serving``; every call returns the fixed ``prequeue``."""
        ...

    async def sweep(self, room: str, now: float, ttl: float) -> int:
        """Drop tickets not seen within ``ttl`` (counting them in ``lapsed``), claims older than
        ``ttl`` and expired passes. Returns how many tickets lapsed in this sweep."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...

    async def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The shared store did not answer; ``FallbackStore`` falls back to per-process protection."""


def open_store(redis_url: str) -> Store:
    """The store the settings name: Redis when a URL is given, else memory (one process)."""
    if redis_url:
        from haven.shield.store.redis import RedisStore

        return RedisStore(redis_url)
    from haven.shield.store.memory import MemoryStore

    return MemoryStore()
