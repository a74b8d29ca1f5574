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
``number - serving``, so joining, finding one's place and admitting the next thousand people are each
O(1) or O(log n), whatever the length of the queue. Nobody checks in: a person waiting costs the store
nothing until their turn (a signed-in account, one small entry to keep one place per account). The
store remembers when the counter passed each stretch of places (a checkpoint per advance, for the
room's history), which places were claimed, and the active passes: what admission needs, bounded by
the admission rate, not by the length of the line.

All times are wall-clock seconds (``time.time()``): they are compared across hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

if TYPE_CHECKING:
    from haven.settings import Settings

Mode = Literal["auto", "paused", "rate", "open", "event"]
MODES: Final[tuple[Mode, ...]] = ("auto", "paused", "rate", "open", "event")


@dataclass(frozen=True)
class RoomState:
    """One consistent reading of a room."""

    issued: int  # the highest ticket number issued so far (0: none yet)
    serving: int  # places numbered up to this one may enter
    waiting: int  # people in line: ``issued - serving`` (those who left count until passed)
    passes: int  # passes whose expiry is still ahead
    claimed: int  # places exchanged for a pass, ever (each counted once)
    lapsed: int  # places passed and never claimed within the store's history, ever
    mode: Mode = "auto"
    rate: float = 0.0  # admissions per second in "rate" mode
    queueing: bool = False  # "auto" mode: the safety net is engaged
    event_start: float = 0.0  # "event" mode: when the gates open
    event_seed: str = ""  # "event" mode: seed of the shuffle of the pre-queue
    prequeue: int = -1  # tickets issued before the event start, fixed at the start; -1 until then
    event_base: int = 0  # ``serving`` at the event start: the draw places the pre-queue after it
    expired: int = 0  # places at or below this one were passed longer ago than the history


class Store(Protocol):
    """The operations a room needs; each is atomic with respect to every other caller.

    A *place* is where a ticket stands in the line: its number, or its drawn place for the
    pre-queue of an event. The store remembers when ``serving`` passed each place (checkpoints,
    one per advance) for ``history`` seconds; a place passed within ``kept`` seconds may still be
    claimed. Nobody checks in: a place does not depend on its holder's page asking."""

    name: str  # "memory" or "redis", for metrics and `haven room status`

    async def join(self, room: str, holder: str, now: float, kept: float) -> int:
        """Issue the next ticket number.

        ``holder`` names a signed-in account ("" for none). An account that already holds a live
        ticket (not yet passed, or passed within ``kept``, claimed or not) gets that number back
        instead of a new one: one place per account, whatever the browser.
        """
        ...

    async def claim(self, room: str, number: int, place: int, now: float, kept: float) -> bool:
        """Exchange a passed place for a pass: True once per place, when ``serving`` has reached
        it within the last ``kept`` seconds (at most the history) and it was not claimed before
        (it is then counted in ``claimed``). False when it is not reached yet, was passed too
        long ago, or was already exchanged: one ticket is one pass, however many copies of its
        cookie exist. ``number`` is the ticket's own number (the memory store ignores it)."""
        ...

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        """Record (or renew) an active pass until ``expires``; ``passes`` counts them."""
        ...

    async def advance(self, room: str, count: int, now: float) -> int:
        """Move ``serving`` forward by ``count``, never past ``issued``, noting when (a checkpoint);
        returns the new value."""
        ...

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        """Move ``serving`` forward by ``rate`` × the seconds since the previous clocked advance
        (carrying the fraction), never past ``issued``; returns the new value. The clock is shared,
        so the outflow is ``rate`` in total however many workers call this. The first call, or one
        after more than 10 s without any, only starts the clock."""
        ...

    async def passed_at(self, room: str, place: int) -> float | None:
        """When ``serving`` passed ``place``; None when it has not yet, or longer ago than the
        history."""
        ...

    async def state(self, room: str, now: float) -> RoomState: ...

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
        and counters but not ``passes`` (0): read ``state`` for that."""
        ...

    async def start_event(self, room: str) -> int:
        """Fix the pre-queue at the event start: the first call sets ``prequeue`` to ``issued``
        and ``event_base`` to ``serving``; every call returns the fixed ``prequeue``."""
        ...

    async def sweep(self, room: str, now: float, history: float) -> int:
        """Forget checkpoints older than ``history`` (the places they passed can no longer be
        claimed: ``expired`` moves up, and those never claimed are counted in ``lapsed``),
        accounts whose place expired and expired passes. Returns how many places lapsed."""
        ...

    async def report(self, room: str, worker: str, view: str, now: float) -> None:
        """Keep ``worker``'s own view of the room (a JSON text) as of ``now``: the cluster's view
        (``haven room status``) is every worker's."""
        ...

    async def reports(self, room: str, now: float, fresh: float) -> dict[str, str]:
        """The views workers reported within the last ``fresh`` seconds (older ones are forgotten)."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...

    async def close(self) -> None: ...


class StoreUnavailable(RuntimeError):
    """The shared store did not answer; ``FallbackStore`` falls back to per-process protection."""


def open_store(settings: Settings) -> Store:
    """The store the settings name: Redis (at an address or through Sentinels), else memory (one
    process)."""
    if settings.shared_room:
        from haven.shield.store.redis import RedisStore

        return RedisStore(
            settings.redis_url, sentinels=settings.redis_sentinels, master=settings.redis_master
        )
    from haven.shield.store.memory import MemoryStore

    return MemoryStore()
