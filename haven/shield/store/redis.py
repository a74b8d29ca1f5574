"""The waiting room's state in Redis, shared by every worker on every host (``HAVEN_REDIS_URL``).

Same semantics as ``MemoryStore``; each operation that reads and then writes is one command or one
Lua script, so two workers can never both take ticket 42 or both count the same claim.

Layout, per room (``{room}`` is a hash tag: a Redis Cluster keeps all of a room's keys in one slot,
which a script touching several keys requires):

- ``<prefix>{room}:meta``     HASH    issued, serving, claimed, lapsed, expired, the operator's
                                      settings, prequeue, and the shared clock of ``advance_clocked``
                                      (``clocked``, ``carry``)
- ``<prefix>{room}:passed``   ZSET    checkpoints: member ``"<serving>:<time>"``, score ``serving``,
                                      one per advance that moved the counter, for the history
- ``<prefix>{room}:claims``   STRING  a bitmap: bit ``place`` is set once the place is claimed
- ``<prefix>{room}:passes``   ZSET    pass id -> expiry
- ``<prefix>{room}:holders:B``  HASH  account -> ticket number, for the accounts in bucket B
                                      (CRC-32 of the account, modulo ``HOLDER_BUCKETS``)
- ``<prefix>{room}:workers``  HASH    worker -> ``"<time> <its view, JSON>"``, for the cluster's view

Memory (the target: a million people in line in under 100 MB). A person waiting costs nothing: a
join is ``HINCRBY issued`` (joins arriving together in one worker share one, see ``join``). A
signed-in person costs one entry in a small hash (a listpack of up to 128 short entries, about 45
bytes with the account's UUID), so that an account keeps one place. Checkpoints grow with the ticks
of the history, not with the line; the claims bitmap by one bit per ticket ever issued (125 KB a
million). ``python -m bench.waiting`` measures it.

Failover (``HAVEN_REDIS_SENTINELS``): the store asks the Sentinels where the primary is and follows a
promotion. A promoted replica may lack the last writes the old primary acknowledged, so two things
keep the line whole through it. Every write that hands out numbers or moves the counter (joins,
advances, the operator's settings) waits for a replica to have it (``WAIT 1``, a few milliseconds,
in the same round trip) before anyone is told the result. And each process remembers the highest
``issued`` and ``serving`` it has seen (its *floors*) and sends them with every script, which first
lifts the counters to them: whatever a failover lost, no ticket number is issued twice and the
serving number never moves back. What a failover may still lose is bounded and harmless to the line:
a claim (so one ticket might be exchanged for a second pass) and the count of active passes (a pass
is a signed cookie; it stays valid whatever the store remembers).

Fail-fast on purpose: short socket timeouts and no automatic retry. A retried script may already have
run (a timeout says nothing about whether Redis executed it), and running ``join`` or ``advance`` twice
would hand out a second ticket or admit people twice. Any failure is ``StoreUnavailable``, on which the
gate falls back to per-process protection.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast
from urllib.parse import unquote, urlsplit

import redis.asyncio
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from haven.shield.store import MODES, Mode, RoomState, StoreUnavailable

DEFAULT_PREFIX: Final = "haven:room:"
DEFAULT_TIMEOUT: Final = 0.5  # seconds; a slow store is treated as a missing one
DEFAULT_MAX_CONNECTIONS: Final = 64  # per process; Redis serves scripts one at a time anyway
SWEEP_BATCH: Final = 1_000  # checkpoints a sweep script call forgets at most
HOLDER_BUCKETS: Final = 16_384  # a million accounts make ~61 per bucket, inside the listpack's 128
HOLDER_BUCKETS_PER_SWEEP: Final = 64  # buckets a sweep script call cleans (~4,000 accounts at a million)
PIPELINE_BATCH: Final = 1_000  # joins sent in one round trip by ``join_many``
WAIT_REPLICA_MS: Final = 100  # how long a write that matters to the line waits for a replica

# Keys, in this order, for every script: KEYS[1] meta, [2] passed, [3] claims, [4] passes, then any
# holder buckets the script needs. Every key is passed in KEYS, as Redis Cluster requires. Times
# arrive as Python's repr of a float (exact round trip), cut-offs already computed in Python so that
# they are the same doubles MemoryStore compares against.

# Lifts ``issued`` and ``serving`` to the caller's floors (the last two ARGV), noting a checkpoint at
# ``now`` for places the lift passes: after a failover to a replica that lacked the last writes, the
# line resumes where every caller last saw it. A no-op in normal running.
_LIFT = """
local function lift(now)
  local floor_issued, floor_serving = tonumber(ARGV[#ARGV - 1]), tonumber(ARGV[#ARGV])
  local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
  if floor_issued > issued then
    redis.call('HSET', KEYS[1], 'issued', floor_issued)
    issued = floor_issued
  end
  local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
  floor_serving = math.min(floor_serving, issued)
  if floor_serving > serving then
    redis.call('HSET', KEYS[1], 'serving', floor_serving)
    redis.call('ZADD', KEYS[2], floor_serving, floor_serving .. ':' .. now)
  end
end
"""

# When ``serving`` passed ``place``: the first checkpoint at or above it; nil when not passed yet, or
# passed before the history (at or below ``expired``).
_PASSED_AT = """
local function passed_at(place)
  local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
  local expired = tonumber(redis.call('HGET', KEYS[1], 'expired') or '0')
  if place > serving or place <= expired then return nil end
  local found = redis.call('ZRANGEBYSCORE', KEYS[2], place, '+inf', 'LIMIT', 0, 1)
  if #found == 0 then return nil end
  local sep = string.find(found[1], ':', 1, true)
  return tonumber(string.sub(found[1], sep + 1))
end
"""

# KEYS[5]: the holder's bucket. ARGV: holder, cutoff, now, floors
_JOIN_HOLDER = (
    _LIFT
    + _PASSED_AT
    + """
local holder, cutoff = ARGV[1], tonumber(ARGV[2])
lift(ARGV[3])
local n = redis.call('HGET', KEYS[5], holder)
if n then
  n = tonumber(n)
  if n > tonumber(redis.call('HGET', KEYS[1], 'serving') or '0') then return n end
  local at = passed_at(n)
  if at and at >= cutoff then return n end
end
n = redis.call('HINCRBY', KEYS[1], 'issued', 1)
redis.call('HSET', KEYS[5], holder, n)
return n
"""
)

# ARGV: count, now, floors. Anonymous joins: a block of ``count`` numbers; returns the last.
_JOIN_BLOCK = (
    _LIFT
    + """
lift(ARGV[2])
return redis.call('HINCRBY', KEYS[1], 'issued', tonumber(ARGV[1]))
"""
)

# ARGV: place, cutoff
_CLAIM = (
    _PASSED_AT
    + """
local place, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local at = passed_at(place)
if not at or at < cutoff then return 0 end
if redis.call('SETBIT', KEYS[3], place, 1) == 1 then return 0 end
redis.call('HINCRBY', KEYS[1], 'claimed', 1)
return 1
"""
)

# ARGV: place
_WHEN = (
    _PASSED_AT
    + """
local at = passed_at(tonumber(ARGV[1]))
if at then return tostring(at) end
return false
"""
)

# Moves ``serving`` forward by ``count`` (never past ``issued``) and notes the checkpoint.
_ADVANCE_FUNCTION = """
local function advance(count, now)
  local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
  local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
  local target = math.min(issued, serving + math.max(0, count))
  if target > serving then
    redis.call('HSET', KEYS[1], 'serving', target)
    redis.call('ZADD', KEYS[2], target, target .. ':' .. now)
    return target
  end
  return serving
end
"""

# ARGV: count, now, floors.
_ADVANCE = _LIFT + _ADVANCE_FUNCTION + "lift(ARGV[2])\nreturn advance(tonumber(ARGV[1]), ARGV[2])\n"

# ARGV: rate, now, floors. The clock (``clocked``) and the fraction carried (``carry``) live in the meta
# hash, written with 17 significant digits: Lua's own tostring keeps 14, which would drift.
_ADVANCE_CLOCKED = (
    _LIFT
    + _ADVANCE_FUNCTION
    + """
lift(ARGV[2])
local rate, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local elapsed = now - tonumber(redis.call('HGET', KEYS[1], 'clocked') or '0')
redis.call('HSET', KEYS[1], 'clocked', ARGV[2])
if not (elapsed > 0 and elapsed <= 10) then
  redis.call('HSET', KEYS[1], 'carry', '0')
  return advance(0, ARGV[2])
end
local wanted = rate * elapsed + tonumber(redis.call('HGET', KEYS[1], 'carry') or '0')
local count
if wanted >= 0 then count = math.floor(wanted) else count = math.ceil(wanted) end
redis.call('HSET', KEYS[1], 'carry', string.format('%.17g', wanted - count))
return advance(count, ARGV[2])
"""
)

_FIELDS: Final = (
    "issued", "serving", "claimed", "lapsed", "mode", "rate", "queueing",
    "event_start", "event_seed", "prequeue", "event_base", "expired",
)  # fmt: skip
_HMGET = "redis.call('HMGET', KEYS[1], " + ", ".join(f"'{f}'" for f in _FIELDS) + ")"

# ARGV: now, floors. Returns the meta fields, then passes.
_STATE = (
    _LIFT
    + f"""
lift(ARGV[1])
local out = {_HMGET}
out[{len(_FIELDS) + 1}] = redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[1], '+inf')
return out
"""
)

# ARGV: field, value, field, value... Returns the meta fields.
_CONFIGURE = f"""
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return {_HMGET}
"""

_START_EVENT = """
local p = tonumber(redis.call('HGET', KEYS[1], 'prequeue') or '-1')
if p < 0 then
  p = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
  redis.call('HSET', KEYS[1], 'prequeue', p)
  redis.call('HSET', KEYS[1], 'event_base', redis.call('HGET', KEYS[1], 'serving') or '0')
end
return p
"""

# KEYS[5...]: holder buckets to clean. ARGV: now, cutoff, limit. Forgets up to ``limit`` checkpoints
# older than the cut-off: the places they passed expire, and those never claimed (their bits unset
# in the claims bitmap) are counted as lapsed. Returns {lapsed, more}: ``more`` is 1 when older
# checkpoints remain (the caller runs the script again).
_SWEEP = """
local now, cutoff, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = tonumber(redis.call('HGET', KEYS[1], 'expired') or '0')
local oldest = redis.call('ZRANGE', KEYS[2], 0, limit - 1)
local count, last = 0, expired
for i, member in ipairs(oldest) do
  local sep = string.find(member, ':', 1, true)
  if tonumber(string.sub(member, sep + 1)) >= cutoff then break end
  count, last = i, tonumber(string.sub(member, 1, sep - 1))
end
local lapsed = 0
if count > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, count - 1)
  if last > expired then
    local claimed = redis.call('BITCOUNT', KEYS[3], expired + 1, last, 'BIT')
    lapsed = last - expired - claimed
    redis.call('HSET', KEYS[1], 'expired', last)
    redis.call('HINCRBY', KEYS[1], 'lapsed', lapsed)
    expired = last
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
for k = 5, #KEYS do
  local entries = redis.call('HGETALL', KEYS[k])
  for i = 1, #entries, 2 do
    if tonumber(entries[i + 1]) <= expired then redis.call('HDEL', KEYS[k], entries[i]) end
  end
end
local more = 0
if count == limit then more = 1 end
return {lapsed, more}
"""


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (it finds the primary and drops connections to a demoted one) with the
    blocking pool's wait for a free connection."""


def connect(
    url: str,
    sentinels: Sequence[str] = (),
    master: str = "haven",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> redis.asyncio.Redis:
    """A client of the Redis the settings name: at ``url``, or the primary ``master`` that the
    ``sentinels`` (``host:port``) know of, with ``url`` giving only the password and database.

    A blocking pool: in a flash crowd, requests beyond ``max_connections`` wait (up to ``timeout``)
    for a connection instead of failing at once, as redis-py's default pool does. No retry: see the
    module docstring (a script must not run twice)."""
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": timeout,
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    if not sentinels:
        return redis.asyncio.Redis.from_pool(redis.asyncio.BlockingConnectionPool.from_url(url, **options))
    parts = urlsplit(url) if url else None
    if parts is not None:
        options["username"] = unquote(parts.username) if parts.username else None
        options["password"] = unquote(parts.password) if parts.password else None
        options["db"] = int(parts.path.strip("/") or 0)
        options["ssl"] = parts.scheme == "rediss"
    addresses = [(host, int(port)) for host, _, port in (item.rpartition(":") for item in sentinels)]
    manager = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        addresses, sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout}
    )
    return manager.master_for(master, connection_pool_class=_BlockingSentinelPool, **options)  # type: ignore[no-any-return]


async def disconnect(client: redis.asyncio.Redis) -> None:
    """Close ``client``'s connections, and those to the Sentinels when it was found through them."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    await client.aclose()
    if manager is not None:
        await manager.aclose()


@contextlib.contextmanager
def _unavailable_on_error() -> Iterator[None]:
    """Whatever goes wrong between us and Redis is one thing to the room: the store is unavailable."""
    try:
        yield
    except (RedisError, OSError, TimeoutError) as error:
        raise StoreUnavailable(f"Redis store: {type(error).__name__}: {error}") from error


class RedisStore:
    """The ``Store`` protocol on Redis (or anything speaking its protocol: Valkey, KeyDB, Dragonfly)."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        sentinels: Sequence[str] = (),
        master: str = "haven",
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.prefix = prefix
        self._client = connect(url, sentinels, master, timeout=timeout, max_connections=max_connections)
        # With a failover to follow, the writes that matter to the line wait for a replica.
        self._wait = WAIT_REPLICA_MS if sentinels else 0
        self._floors: dict[str, tuple[int, int]] = {}  # room -> the highest (issued, serving) seen
        self._keys: dict[str, list[str]] = {}
        self._next_bucket = 0  # the next holder bucket ``sweep`` cleans
        self._joining: dict[str, list[asyncio.Future[int]]] = {}  # room -> anonymous joins to send
        self._tasks: set[asyncio.Task[None]] = set()  # the joins in flight (a task nobody holds may vanish)
        register = self._client.register_script
        self._join_holder: AsyncScript = register(_JOIN_HOLDER)
        self._join_block: AsyncScript = register(_JOIN_BLOCK)
        self._claim: AsyncScript = register(_CLAIM)
        self._when: AsyncScript = register(_WHEN)
        self._advance: AsyncScript = register(_ADVANCE)
        self._advance_clocked: AsyncScript = register(_ADVANCE_CLOCKED)
        self._state: AsyncScript = register(_STATE)
        self._configure: AsyncScript = register(_CONFIGURE)
        self._start_event: AsyncScript = register(_START_EVENT)
        self._sweep: AsyncScript = register(_SWEEP)

    # Floors and waits (see the module docstring: failover) ------------------------------------------

    def floors(self, room: str) -> list[str]:
        """The room's floors as the last two arguments of a script."""
        issued, serving = self._floors.get(room, (0, 0))
        return [str(issued), str(serving)]

    def _saw(self, room: str, issued: int = 0, serving: int = 0) -> None:
        old_issued, old_serving = self._floors.get(room, (0, 0))
        if issued > old_issued or serving > old_serving:
            self._floors[room] = (max(issued, old_issued), max(serving, old_serving))

    async def _written(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str]) -> Any:
        """Run a script that writes; with a failover to follow, return only once a replica has the
        write (or ``WAIT`` timed out: no replica is connected, and none could be promoted with it)."""
        if not self._wait:
            return await script(keys, args)
        for _ in range(2):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                pipe.execute_command("WAIT", 1, self._wait)
                reply, _ = await pipe.execute(raise_on_error=False)
            if not isinstance(reply, NoScriptError):
                break
            # A promoted replica starts with an empty script cache; a script refused unknown did not run.
            await self._client.script_load(script.script)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def keys(self, room: str) -> list[str]:
        """The room's keys, in the order the scripts expect them (holder buckets aside)."""
        found = self._keys.get(room)
        if found is None:
            if "{" in room or "}" in room:
                # A brace would move the hash tag and scatter the room's keys over cluster slots.
                raise ValueError(f"room names cannot contain braces: {room!r}")
            base = f"{self.prefix}{{{room}}}:"
            found = [base + part for part in ("meta", "passed", "claims", "passes")]
            self._keys[room] = found
        return found

    def holder_bucket(self, room: str, holder: str) -> str:
        """The hash that keeps ``holder``'s ticket number (see the module docstring: memory)."""
        return self._bucket(room, zlib.crc32(holder.encode()))

    def _bucket(self, room: str, index: int) -> str:
        return f"{self.prefix}{{{room}}}:holders:{index % HOLDER_BUCKETS}"

    async def join(self, room: str, holder: str, now: float, kept: float) -> int:
        """A signed-in holder's join is one script (it may get its place back). Anonymous joins
        arriving in the same turn of the event loop share one ``HINCRBY issued k``: one round trip
        for all of them, each getting one number of the block, in the order they asked."""
        if holder:
            with _unavailable_on_error():
                keys = [*self.keys(room), self.holder_bucket(room, holder)]
                args = [holder, repr(now - kept), repr(now), *self.floors(room)]
                number = int(await self._written(self._join_holder, keys, args))
                self._saw(room, issued=number)
                return number
        waiting = self._joining.get(room)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if waiting is None:
            waiting = self._joining[room] = []
            asyncio.get_running_loop().call_soon(self._send_joins, room, now)
        waiting.append(future)
        return await future

    def _send_joins(self, room: str, now: float) -> None:
        futures = self._joining.pop(room, [])
        if futures:
            task = asyncio.get_running_loop().create_task(self._issue(room, futures, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _issue(self, room: str, futures: list[asyncio.Future[int]], now: float) -> None:
        try:
            with _unavailable_on_error():
                args = [str(len(futures)), repr(now), *self.floors(room)]
                last = int(await self._written(self._join_block, self.keys(room)[:2], args))
                self._saw(room, issued=last)
        except StoreUnavailable as error:
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        first = last - len(futures) + 1
        for offset, future in enumerate(futures):
            if not future.done():  # a caller that gave up leaves its number unused: a no-show
                future.set_result(first + offset)

    async def join_many(self, room: str, holders: Sequence[str], now: float, kept: float) -> list[int]:
        """``join`` for each holder, pipelined (the surge simulator and benchmarks fill rooms with
        it). Each join is still its own command or script, so other clients' operations may run
        between them; pipelines of ``PIPELINE_BATCH`` keep each round trip well inside the socket
        timeout."""
        with _unavailable_on_error():
            cutoff, at = repr(now - kept), repr(now)
            numbers: list[int] = []
            for start in range(0, len(holders), PIPELINE_BATCH):
                floors = self.floors(room)
                async with self._client.pipeline(transaction=False) as pipe:
                    for holder in holders[start : start + PIPELINE_BATCH]:
                        if holder:
                            keys = [*self.keys(room), self.holder_bucket(room, holder)]
                            await self._join_holder(keys, [holder, cutoff, at, *floors], client=pipe)
                        else:
                            await self._join_block(self.keys(room)[:2], ["1", at, *floors], client=pipe)
                    if self._wait:
                        pipe.execute_command("WAIT", 1, self._wait)
                    replies = await pipe.execute()
                    numbers += [int(reply) for reply in replies[: len(replies) - (1 if self._wait else 0)]]
                self._saw(room, issued=max(numbers, default=0))
            return numbers

    async def claim(self, room: str, number: int, place: int, now: float, kept: float) -> bool:
        with _unavailable_on_error():
            return bool(await self._claim(self.keys(room), [str(int(place)), repr(now - kept)]))

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        with _unavailable_on_error():
            await self._client.zadd(self.keys(room)[3], {pass_id: expires})

    async def advance(self, room: str, count: int, now: float) -> int:
        with _unavailable_on_error():
            args = [str(max(0, int(count))), repr(now), *self.floors(room)]
            serving = int(await self._written(self._advance, self.keys(room), args))
            self._saw(room, serving=serving)
            return serving

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        with _unavailable_on_error():
            args = [repr(float(rate)), repr(now), *self.floors(room)]
            serving = int(await self._written(self._advance_clocked, self.keys(room), args))
            self._saw(room, serving=serving)
            return serving

    async def passed_at(self, room: str, place: int) -> float | None:
        with _unavailable_on_error():
            reply = await self._when(self.keys(room), [str(int(place))])
            return None if reply is None else float(reply)

    async def state(self, room: str, now: float) -> RoomState:
        with _unavailable_on_error():
            reply = await self._state(self.keys(room), [repr(now), *self.floors(room)])
            state = _room_state(reply[: len(_FIELDS)], passes=int(reply[-1]))
            self._saw(room, state.issued, state.serving)
            return state

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
        """Returns the settings with ``passes`` at 0, as ``MemoryStore`` does: it depends on a time
        this method is not given."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        changes: list[str] = []
        if mode is not None:
            changes += ["mode", mode]
        if rate is not None:
            changes += ["rate", repr(float(rate))]
        if queueing is not None:
            changes += ["queueing", "1" if queueing else "0"]
        if event_start is not None:
            changes += ["event_start", repr(float(event_start)), "prequeue", "-1"]
        if event_seed is not None:
            changes += ["event_seed", event_seed]
        with _unavailable_on_error():
            reply = await self._written(self._configure, self.keys(room)[:1], changes)
            return _room_state(reply, passes=0)

    async def start_event(self, room: str) -> int:
        with _unavailable_on_error():
            return int(await self._written(self._start_event, self.keys(room)[:1], []))

    async def sweep(self, room: str, now: float, history: float) -> int:
        """Forgets checkpoints in bounded batches (each one script). Each batch also cleans the next
        ``HOLDER_BUCKETS_PER_SWEEP`` holder buckets, forgetting accounts whose place expired: the
        whole table is cleaned over successive sweeps (the rotation is per process; several workers
        sweeping just go round faster), and ``join`` ignores a stale entry meanwhile, since it
        checks the place itself."""
        with _unavailable_on_error():
            keys = self.keys(room)
            args = [repr(now), repr(now - history), str(SWEEP_BATCH)]
            lapsed = 0
            while True:
                first, self._next_bucket = self._next_bucket, self._next_bucket + HOLDER_BUCKETS_PER_SWEEP
                buckets = [self._bucket(room, first + i) for i in range(HOLDER_BUCKETS_PER_SWEEP)]
                dropped, more = await self._sweep([*keys, *buckets], args)
                lapsed += int(dropped)
                if not int(more):
                    return lapsed

    async def report(self, room: str, worker: str, view: str, now: float) -> None:
        with _unavailable_on_error():
            await self._client.hset(self._workers(room), worker, f"{now!r} {view}")

    async def reports(self, room: str, now: float, fresh: float) -> dict[str, str]:
        with _unavailable_on_error():
            found = await self._client.hgetall(self._workers(room))
            kept: dict[str, str] = {}
            stale: list[str] = []
            for key, entry in found.items():  # strings: the client decodes responses
                worker = str(key)
                at, _, view = str(entry).partition(" ")
                if now - float(at) <= fresh:
                    kept[worker] = view
                else:
                    stale.append(worker)
            if stale:
                await self._client.hdel(self._workers(room), *stale)
            return kept

    def _workers(self, room: str) -> str:
        return self.keys(room)[0].removesuffix("meta") + "workers"

    async def ping(self) -> None:
        with _unavailable_on_error():
            await self._client.ping()

    async def close(self) -> None:
        with _unavailable_on_error():
            await disconnect(self._client)


def _room_state(fields: Sequence[Any], *, passes: int) -> RoomState:
    """Parse the meta hash (strings, or None for fields never written) in ``_FIELDS`` order.

    A hash we cannot read (edited by hand, or written by a newer Haven) makes the store unavailable:
    better per-process protection than admitting people on numbers we do not understand."""
    values = dict(zip(_FIELDS, fields, strict=True))
    mode = values["mode"] or "auto"
    try:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        return _parsed(values, passes, cast(Mode, mode))
    except ValueError as error:
        raise StoreUnavailable(f"Redis store: unreadable room state: {error}") from error


def _parsed(values: dict[str, Any], passes: int, mode: Mode) -> RoomState:
    issued, serving = int(values["issued"] or 0), int(values["serving"] or 0)
    return RoomState(
        issued=issued,
        serving=serving,
        waiting=issued - serving,
        passes=passes,
        claimed=int(values["claimed"] or 0),
        lapsed=int(values["lapsed"] or 0),
        mode=mode,
        rate=float(values["rate"] or 0.0),
        queueing=values["queueing"] == "1",
        event_start=float(values["event_start"] or 0.0),
        event_seed=values["event_seed"] or "",
        prequeue=int(values["prequeue"] or -1),
        event_base=int(values["event_base"] or 0),
        expired=int(values["expired"] or 0),
    )
