"""The in-memory store: one process, plain Python structures, nothing to install.

Each method runs without awaiting anything, so on one event loop every operation is atomic.

- checkpoints (``checkpoints.py``): the value of ``serving`` after each advance and when it was
  reached; when a place was passed is one bisection;
- claims: the set of claimed places, with a heap of the same places so that a sweep forgets the
  expired ones from the smallest up without scanning the set;
- holders: account -> ticket number, in the order the numbers were issued (a new holder always
  gets the highest number), so a sweep stops at the first account still live.
"""

from __future__ import annotations

import heapq
from dataclasses import replace

from haven.shield.store import Mode, RoomState
from haven.shield.store.checkpoints import Checkpoints


class _Room:
    __slots__ = ("carry", "claims", "clocked", "heap", "holders", "passed", "passes", "state")

    def __init__(self) -> None:
        self.state = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
        self.passed = Checkpoints()  # when the counter passed what
        self.claims: set[int] = set()  # claimed places above ``expired``
        self.heap: list[int] = []  # the same places, smallest first
        self.holders: dict[str, int] = {}  # account -> its ticket number, in issue order
        self.passes: dict[str, float] = {}  # pass id -> expiry
        self.clocked = 0.0  # time of the last clocked advance
        self.carry = 0.0  # its fraction of a ticket not yet advanced

    def when_passed(self, place: int) -> float | None:
        if place > self.state.serving or place <= self.state.expired:
            return None
        return self.passed.when(place)


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def _room(self, room: str) -> _Room:
        found = self._rooms.get(room)
        if found is None:
            found = self._rooms[room] = _Room()
        return found

    async def join(self, room: str, holder: str, now: float, kept: float) -> int:
        r = self._room(room)
        if holder:
            number = r.holders.get(holder)
            if number is not None:
                if number > r.state.serving:
                    return number
                at = r.when_passed(number)
                if at is not None and at >= now - kept:
                    return number
                del r.holders[holder]  # re-inserted last: the dict stays in issue order
        number = r.state.issued + 1
        r.state = replace(r.state, issued=number, waiting=number - r.state.serving)
        if holder:
            r.holders[holder] = number
        return number

    async def claim(self, room: str, number: int, place: int, now: float, kept: float) -> bool:
        r = self._room(room)
        at = r.when_passed(place)
        if at is None or at < now - kept or place in r.claims:
            return False
        r.claims.add(place)
        heapq.heappush(r.heap, place)
        r.state = replace(r.state, claimed=r.state.claimed + 1)
        return True

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        passes = self._room(room).passes
        passes.pop(pass_id, None)
        passes[pass_id] = expires

    async def advance(self, room: str, count: int, now: float) -> int:
        r = self._room(room)
        serving = min(r.state.issued, r.state.serving + max(0, count))
        if serving > r.state.serving:
            r.state = replace(r.state, serving=serving, waiting=r.state.issued - serving)
            r.passed.note(serving, now)
        return r.state.serving

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
        return await self.advance(room, count, now)

    async def passed_at(self, room: str, place: int) -> float | None:
        return self._room(room).when_passed(place)

    async def state(self, room: str, now: float) -> RoomState:
        r = self._room(room)
        passes = sum(1 for expires in r.passes.values() if expires > now)
        return replace(r.state, waiting=r.state.issued - r.state.serving, passes=passes)

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
        return replace(r.state, passes=0)

    async def start_event(self, room: str) -> int:
        r = self._room(room)
        if r.state.prequeue < 0:
            r.state = replace(r.state, prequeue=r.state.issued, event_base=r.state.serving)
        return r.state.prequeue

    async def sweep(self, room: str, now: float, history: float) -> int:
        r = self._room(room)
        expired = r.passed.forget_before(now - history)
        lapsed = 0
        if expired is not None:
            claimed = 0
            while r.heap and r.heap[0] <= expired:
                r.claims.discard(heapq.heappop(r.heap))
                claimed += 1
            lapsed = expired - r.state.expired - claimed
            r.state = replace(r.state, expired=expired, lapsed=r.state.lapsed + lapsed)
            for holder, number in list(r.holders.items()):
                if number > expired:
                    break
                del r.holders[holder]
        for pass_id in list(r.passes):
            if r.passes[pass_id] > now:
                break
            del r.passes[pass_id]
        return lapsed

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
