"""The in-memory store: one process, plain dictionaries, nothing to install.

Each method runs without awaiting anything, so on one event loop every operation is atomic. Tickets
are kept in insertion order of their last check-in (``dict`` order, moved to the end on each
check-in), so a sweep stops at the first ticket still live instead of scanning the whole queue.
"""

from __future__ import annotations

from dataclasses import replace

from haven.shield.store import Mode, RoomState


class _Room:
    __slots__ = ("carry", "claims", "clocked", "holders", "passes", "seen", "state")

    def __init__(self) -> None:
        self.state = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
        self.seen: dict[int, float] = {}  # live ticket -> last check-in, oldest first
        self.claims: dict[int, float] = {}  # claimed ticket -> first claim, oldest first
        self.holders: dict[str, int] = {}  # account -> its ticket
        self.passes: dict[str, float] = {}  # pass id -> expiry
        self.clocked = 0.0  # time of the last clocked advance
        self.carry = 0.0  # its fraction of a ticket not yet advanced


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def _room(self, room: str) -> _Room:
        found = self._rooms.get(room)
        if found is None:
            found = self._rooms[room] = _Room()
        return found

    async def join(self, room: str, holder: str, now: float, ttl: float) -> int:
        r = self._room(room)
        if holder:
            number = r.holders.get(holder)
            if number is not None and (
                (number in r.seen and r.seen[number] >= now - ttl)
                or (number in r.claims and r.claims[number] >= now - ttl)
            ):
                if number in r.seen:
                    self._see(r, number, now)
                return number
        number = r.state.issued + 1
        r.state = replace(r.state, issued=number)
        self._see(r, number, now)
        if holder:
            r.holders[holder] = number
        return number

    @staticmethod
    def _see(r: _Room, number: int, now: float) -> None:
        r.seen.pop(number, None)
        r.seen[number] = now

    async def check_in(self, room: str, number: int, now: float, ttl: float) -> bool:
        r = self._room(room)
        last = r.seen.get(number)
        if last is None or last < now - ttl:
            return number in r.claims and r.claims[number] >= now - ttl
        self._see(r, number, now)
        return True

    async def claim(self, room: str, number: int, place: int, now: float, ttl: float) -> bool:
        r = self._room(room)
        if place > r.state.serving:
            return False
        if number in r.claims:
            return False
        last = r.seen.get(number)
        if last is None or last < now - ttl:
            return False
        del r.seen[number]
        r.claims[number] = now
        r.state = replace(r.state, claimed=r.state.claimed + 1)
        return True

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        passes = self._room(room).passes
        passes.pop(pass_id, None)
        passes[pass_id] = expires

    async def advance(self, room: str, count: int) -> int:
        r = self._room(room)
        serving = min(r.state.issued, r.state.serving + max(0, count))
        r.state = replace(r.state, serving=serving)
        return serving

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        r = self._room(room)
        elapsed = now - r.clocked
        r.clocked = now
        if not 0 < elapsed <= 10:
            r.carry = 0.0
            return r.state.serving
        wanted = rate * elapsed + r.carry
        count = int(wanted)
        r.carry = wanted - count
        return await self.advance(room, count)

    async def state(self, room: str, now: float, ttl: float) -> RoomState:
        r = self._room(room)
        serving = r.state.serving
        waiting = sum(1 for number, last in r.seen.items() if number > serving and last >= now - ttl)
        passes = sum(1 for expires in r.passes.values() if expires > now)
        return replace(r.state, waiting=waiting, passes=passes)

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
        r = self._room(room)
        s = r.state
        r.state = replace(
            s,
            mode=s.mode if mode is None else mode,
            rate=s.rate if rate is None else rate,
            queueing=s.queueing if queueing is None else queueing,
            event_start=s.event_start if event_start is None else event_start,
            event_seed=s.event_seed if event_seed is None else event_seed,
            prequeue=s.prequeue if event_start is None else -1,
        )
        return r.state

    async def start_event(self, room: str) -> int:
        r = self._room(room)
        if r.state.prequeue < 0:
            r.state = replace(r.state, prequeue=r.state.issued, event_base=r.state.serving)
        return r.state.prequeue

    async def sweep(self, room: str, now: float, ttl: float) -> int:
        r = self._room(room)
        cutoff = now - ttl
        lapsed = _drop_older(r.seen, cutoff)
        _drop_older(r.claims, cutoff)
        _drop_older(r.passes, now)
        if lapsed:
            r.state = replace(r.state, lapsed=r.state.lapsed + lapsed)
        live = set(r.seen) | set(r.claims)
        for holder in [h for h, number in r.holders.items() if number not in live]:
            del r.holders[holder]
        return lapsed

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _drop_older(entries: dict[int, float] | dict[str, float], cutoff: float) -> int:
    """Drop entries whose time is before ``cutoff``, oldest first; they are kept in time order."""
    dropped = 0
    for key in list(entries):
        if entries[key] >= cutoff:  # type: ignore[index]
            break
        del entries[key]  # type: ignore[arg-type]
        dropped += 1
    return dropped
