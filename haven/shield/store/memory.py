"""The in-memory store: one process, plain Python structures, nothing to install.

Each method runs without awaiting anything, so on one event loop every operation is atomic.

- checkpoints (``checkpoints.py``): the value of ``serving`` after each advance and when it was
  reached; when a place was passed is one bisection;
- claims: the set of claimed places, with a heap of the same places so that a sweep forgets the
  expired ones from the smallest up without scanning the set;
- holders: account -> ticket number, in the order the numbers were issued (a new holder always
  gets the highest number), so a sweep stops at the first account still live.

``snapshot`` and ``restore`` turn every room into JSON-ready data and back, so that the line
outlives a clean restart (``saved.py`` writes it to a file).
"""

from __future__ import annotations

import heapq
import math
import reprlib
from collections.abc import Mapping
from dataclasses import asdict, replace

from haven.shield.store import MODES, Mode, RoomState
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
        self._reports: dict[str, dict[str, tuple[float, str]]] = {}  # room -> worker -> (at, view)

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

    async def report(self, room: str, worker: str, view: str, now: float) -> None:
        self._reports.setdefault(room, {})[worker] = (now, view)

    async def reports(self, room: str, now: float, fresh: float) -> dict[str, str]:
        kept = {w: (at, view) for w, (at, view) in self._reports.get(room, {}).items() if now - at <= fresh}
        self._reports[room] = kept
        return {worker: view for worker, (_, view) in kept.items()}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # Across a restart --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        """Every room as JSON-ready data (room name -> its line), for ``restore`` in a later process.

        The clock of the clocked advance is left out: the first clocked advance after a restart
        only starts it again, so the seconds the process was down are not made up for at once."""
        return {name: _dump(room) for name, room in self._rooms.items()}

    def restore(self, rooms: object) -> None:
        """Replace every room with ``rooms``, as ``snapshot`` gave them. ValueError, with nothing
        replaced, when they do not read as such."""
        if not isinstance(rooms, Mapping):
            raise ValueError("rooms: not an object")
        self._rooms = {
            _text(name, "room name"): _load(data, f"room {name!r}") for name, data in rooms.items()
        }


# The fields of ``RoomState`` kept across a restart: all but those worked out when it is read.
_DERIVED = ("waiting", "passes")


def _dump(r: _Room) -> dict[str, object]:
    return {
        "state": {key: value for key, value in asdict(r.state).items() if key not in _DERIVED},
        "checkpoints": [[serving, at] for serving, at in zip(r.passed.serving, r.passed.at, strict=True)],
        "claims": sorted(r.claims),
        "holders": [[holder, number] for holder, number in r.holders.items()],  # in issue order
        "passes": [[pass_id, expires] for pass_id, expires in r.passes.items()],  # in renewal order
    }


def _load(data: object, what: str) -> _Room:
    """A room from ``_dump``'s data, checked: the orders the bisections and sweeps rely on included."""
    fields = _object(data, what)
    state = _object(fields.get("state"), f"{what}: state")
    r = _Room()
    issued = _whole(state.get("issued"), f"{what}: issued")
    serving = _whole(state.get("serving"), f"{what}: serving")
    if serving > issued:
        raise ValueError(f"{what}: serving {serving} is past issued {issued}")
    mode = state.get("mode")
    if mode not in MODES:
        raise ValueError(f"{what}: mode {reprlib.repr(mode)} is not one of {', '.join(MODES)}")
    queueing = state.get("queueing")
    if not isinstance(queueing, bool):
        raise ValueError(f"{what}: queueing {reprlib.repr(queueing)} is not true or false")
    r.state = RoomState(
        issued=issued,
        serving=serving,
        waiting=issued - serving,
        passes=0,
        claimed=_whole(state.get("claimed"), f"{what}: claimed"),
        lapsed=_whole(state.get("lapsed"), f"{what}: lapsed"),
        mode=mode,
        rate=_real(state.get("rate"), f"{what}: rate"),
        queueing=queueing,
        event_start=_real(state.get("event_start"), f"{what}: event_start"),
        event_seed=_text(state.get("event_seed"), f"{what}: event_seed"),
        prequeue=_whole(state.get("prequeue"), f"{what}: prequeue", least=-1),
        event_base=_whole(state.get("event_base"), f"{what}: event_base"),
        expired=_whole(state.get("expired"), f"{what}: expired"),
    )
    for raw, at in _pairs(fields.get("checkpoints"), f"{what}: checkpoints"):
        place = _whole(raw, f"{what}: checkpoint")
        when = _real(at, f"{what}: checkpoint time")
        if r.passed.serving and (place <= r.passed.serving[-1] or when < r.passed.at[-1]):
            raise ValueError(f"{what}: checkpoints out of order at {place}")
        r.passed.note(place, when)
    if r.passed.last > serving:
        raise ValueError(f"{what}: a checkpoint is past serving {serving}")
    for raw in _list(fields.get("claims"), f"{what}: claims"):
        r.claims.add(_whole(raw, f"{what}: claim"))
    r.heap = sorted(r.claims)  # a sorted list is a heap
    for holder, number in _pairs(fields.get("holders"), f"{what}: holders"):
        r.holders[_text(holder, f"{what}: holder")] = _whole(number, f"{what}: holder's number")
    if list(r.holders.values()) != sorted(r.holders.values()):
        raise ValueError(f"{what}: holders out of issue order")
    for pass_id, expires in _pairs(fields.get("passes"), f"{what}: passes"):
        r.passes[_text(pass_id, f"{what}: pass")] = _real(expires, f"{what}: pass expiry")
    return r


def _object(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: not an object")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise ValueError(f"{what}: not a list")
    return value


def _pairs(value: object, what: str) -> list[tuple[object, object]]:
    pairs: list[tuple[object, object]] = []
    for item in _list(value, what):
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError(f"{what}: item {len(pairs) + 1} is not a pair")
        pairs.append((item[0], item[1]))
    return pairs


def _whole(value: object, what: str, least: int = 0) -> int:
    # bool is an int to Python, not to JSON
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{what}: {reprlib.repr(value)} is not a whole number of at least {least}")
    return value


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what}: {reprlib.repr(value)} is not a number")
    return float(value)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: {reprlib.repr(value)} is not text")
    return value
