"""The waiting room's state in Redis, shared by every worker on every host (``HAVEN_REDIS_URL``).

Same semantics as ``MemoryStore``; each operation that reads and then writes is one Lua script, so two
workers can never both take ticket 42 or both count the same claim.

Layout, per room (``{room}`` is a hash tag: a Redis Cluster keeps all of a room's keys in one slot,
which a script touching several keys requires):

- ``<prefix>{room}:meta``     HASH  issued, serving, claimed, lapsed, the operator's settings, prequeue,
                                    the shared clock of ``advance_clocked`` (``clocked``, ``carry``)
                                    and how far tickets were moved to ``reached`` (``moved``)
- ``<prefix>{room}:seen``       ZSET  ticket number -> last check-in, for tickets above ``moved``
- ``<prefix>{room}:reached``    ZSET  the same, for tickets at or below ``moved`` (reached, not claimed)
- ``<prefix>{room}:claims``     ZSET  ticket number -> first claim
- ``<prefix>{room}:passes``     ZSET  pass id -> expiry
- ``<prefix>{room}:holders:B``  HASH  account -> ticket number, for the accounts in bucket B
                                      (CRC-32 of the account, modulo ``HOLDER_BUCKETS``)

Why two sets of tickets: ``waiting`` counts tickets that are both above ``serving`` and live, a question
about numbers *and* times that one sorted set cannot answer by counting. So a ticket lives in ``seen``
while it waits and moves to ``reached`` when ``serving`` passes it: ``waiting`` is then one ZCOUNT by
time over ``seen``, O(log n). ``advance`` pays for the move, once per ticket in the room's lifetime
(O(1) amortised per ticket), in batches of ``SETTLE_BATCH`` numbers so that no script holds Redis for
more than a few milliseconds even when the operator opens the gates to a million people at once.
``moved`` is how far that move has got; between two batches of one big advance, tickets between
``moved`` and ``serving`` are still in ``seen`` and every script looks for them there.

Memory (the target: a million people waiting in under 200 MB). Members are decimal ticket numbers and
scores doubles, with no key per ticket: a sorted-set entry costs about 110 bytes in Redis 7. Accounts are
spread over ``HOLDER_BUCKETS`` small hashes rather than one big one: a hash of up to 128 short entries
is stored as a listpack (about 45 bytes per account, UUID included) where one big hash would cost
about 100. ``python -m bench.room_memory`` measures both.

Fail-fast on purpose: short socket timeouts and no automatic retry. A retried script may already have
run (a timeout says nothing about whether Redis executed it), and running ``join`` or ``advance`` twice
would hand out a second ticket or admit people twice. Any failure is ``StoreUnavailable``, on which the
gate falls back to per-process protection.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from haven.shield.store import MODES, Mode, RoomState, StoreUnavailable

DEFAULT_PREFIX: Final = "haven:room:"
DEFAULT_TIMEOUT: Final = 0.5  # seconds; a slow store is treated as a missing one
DEFAULT_MAX_CONNECTIONS: Final = 64  # per process; Redis serves scripts one at a time anyway
SETTLE_BATCH: Final = 1_000  # ticket numbers moved from ``seen`` to ``reached`` per script call
SWEEP_BATCH: Final = 10_000  # entries dropped per sorted set per sweep script call
HOLDER_BUCKETS: Final = 16_384  # a million accounts make ~61 per bucket, inside the listpack's 128
HOLDER_BUCKETS_PER_SWEEP: Final = 64  # buckets a sweep script call cleans (~4,000 accounts at a million)
PIPELINE_BATCH: Final = 1_000  # joins sent in one round trip by ``join_many``

# Keys, in this order, for every script: KEYS[1] meta, [2] seen, [3] reached, [4] claims, [5] passes,
# then any holder buckets the script needs. Every key is passed in KEYS, as Redis Cluster requires.
# Times arrive as Python's repr of a float (exact round trip), cut-offs already computed in Python so
# that they are the same doubles MemoryStore compares against.

# Moves tickets passed by ``serving`` from ``seen`` to ``reached``, at most ``limit`` numbers, a chunk
# of numbers per call (ZMSCORE, then one ZREM and one ZADD): a call per ticket would cost three times
# as much Redis time. Returns serving and the new ``moved``.
_SETTLE = """
local function settle(limit)
  local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
  local moved = tonumber(redis.call('HGET', KEYS[1], 'moved') or '0')
  local upto = math.min(serving, moved + limit)
  local first = moved + 1
  while first <= upto do
    local last = math.min(upto, first + 499)
    local numbers = {}
    for n = first, last do numbers[#numbers + 1] = n end
    local scores = redis.call('ZMSCORE', KEYS[2], unpack(numbers))
    local found, moves = {}, {}
    for i, n in ipairs(numbers) do
      if scores[i] then
        found[#found + 1] = n
        moves[#moves + 1] = scores[i]
        moves[#moves + 1] = n
      end
    end
    if #found > 0 then
      redis.call('ZREM', KEYS[2], unpack(found))
      redis.call('ZADD', KEYS[3], unpack(moves))
    end
    first = last + 1
  end
  if upto > moved then
    redis.call('HSET', KEYS[1], 'moved', upto)
    moved = upto
  end
  return serving, moved
end
"""

# Which set holds ticket ``n``: ``reached`` once the move has passed it, else ``seen``.
_TICKETS = """
local function tickets(n)
  local moved = tonumber(redis.call('HGET', KEYS[1], 'moved') or '0')
  if tonumber(n) <= moved then return KEYS[3] end
  return KEYS[2]
end
"""

# ARGV: holder, now, cutoff
_JOIN = (
    _TICKETS
    + """
local holder, now, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
if holder ~= '' then
  local n = redis.call('HGET', KEYS[6], holder)
  if n then
    local key = tickets(n)
    local s = redis.call('ZSCORE', key, n)
    if s and tonumber(s) >= cutoff then
      redis.call('ZADD', key, now, n)
      return tonumber(n)
    end
    local c = redis.call('ZSCORE', KEYS[4], n)
    if c and tonumber(c) >= cutoff then return tonumber(n) end
  end
end
local n = redis.call('HINCRBY', KEYS[1], 'issued', 1)
redis.call('ZADD', KEYS[2], now, n)
if holder ~= '' then redis.call('HSET', KEYS[6], holder, n) end
return n
"""
)

# ARGV: number, now, cutoff
_CHECK_IN = (
    _TICKETS
    + """
local n, now, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = tickets(n)
local s = redis.call('ZSCORE', key, n)
if s and tonumber(s) >= cutoff then
  redis.call('ZADD', key, 'XX', now, n)
  return 1
end
local c = redis.call('ZSCORE', KEYS[4], n)
if c and tonumber(c) >= cutoff then return 1 end
return 0
"""
)

# ARGV: number, place, now, cutoff
_CLAIM = (
    _TICKETS
    + """
local n, place, now, cutoff = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
if place > serving then return 0 end
if redis.call('ZSCORE', KEYS[4], n) then return 0 end
local key = tickets(n)
local s = redis.call('ZSCORE', key, n)
if not s or tonumber(s) < cutoff then return 0 end
redis.call('ZREM', key, n)
redis.call('ZADD', KEYS[4], now, n)
redis.call('HINCRBY', KEYS[1], 'claimed', 1)
return 1
"""
)

# Moves ``serving`` forward by ``count`` (never past ``issued``), then settles; returns {serving, moved}.
_ADVANCE_FUNCTION = """
local function advance(count, limit)
  local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
  local serving = tonumber(redis.call('HGET', KEYS[1], 'serving') or '0')
  local target = math.min(issued, serving + math.max(0, count))
  if target > serving then redis.call('HSET', KEYS[1], 'serving', target) end
  local now_serving, moved = settle(limit)
  return {now_serving, moved}
end
"""

# ARGV: count, limit.
_ADVANCE = _SETTLE + _ADVANCE_FUNCTION + "return advance(tonumber(ARGV[1]), tonumber(ARGV[2]))\n"

# ARGV: rate, now, limit. The clock (``clocked``) and the fraction carried (``carry``) live in the meta
# hash, written with 17 significant digits: Lua's own tostring keeps 14, which would drift.
_ADVANCE_CLOCKED = (
    _SETTLE
    + _ADVANCE_FUNCTION
    + """
local rate, now, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local elapsed = now - tonumber(redis.call('HGET', KEYS[1], 'clocked') or '0')
redis.call('HSET', KEYS[1], 'clocked', ARGV[2])
if not (elapsed > 0 and elapsed <= 10) then
  redis.call('HSET', KEYS[1], 'carry', '0')
  return advance(0, limit)
end
local wanted = rate * elapsed + tonumber(redis.call('HGET', KEYS[1], 'carry') or '0')
local count
if wanted >= 0 then count = math.floor(wanted) else count = math.ceil(wanted) end
redis.call('HSET', KEYS[1], 'carry', string.format('%.17g', wanted - count))
return advance(count, limit)
"""
)

# ARGV: limit. Returns {serving, moved}.
_SETTLE_ONLY = (
    _SETTLE
    + """
local serving, moved = settle(tonumber(ARGV[1]))
return {serving, moved}
"""
)

_FIELDS: Final = (
    "issued", "serving", "claimed", "lapsed", "mode", "rate", "queueing",
    "event_start", "event_seed", "prequeue", "event_base",
)  # fmt: skip
_HMGET = "redis.call('HMGET', KEYS[1], " + ", ".join(f"'{f}'" for f in _FIELDS) + ")"

# ARGV: now, cutoff, limit. Returns the meta fields, then waiting and passes.
_STATE = (
    _SETTLE
    + f"""
settle(tonumber(ARGV[3]))
local out = {_HMGET}
out[{len(_FIELDS) + 1}] = redis.call('ZCOUNT', KEYS[2], ARGV[2], '+inf')
out[{len(_FIELDS) + 2}] = redis.call('ZCOUNT', KEYS[5], '(' .. ARGV[1], '+inf')
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

# KEYS[6...]: holder buckets to clean. ARGV: now, cutoff, limit. Returns {lapsed, more}: ``more`` is 1
# when a set still holds entries older than the cut-off (the caller runs the script again).
_SWEEP = (
    _SETTLE
    + _TICKETS
    + """
local now, cutoff, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
settle(limit)
local more = 0
local function drop(key, before)
  local older = redis.call('ZCOUNT', key, '-inf', '(' .. before)
  if older == 0 then return 0 end
  if older > limit then
    more = 1
    older = limit
  end
  return redis.call('ZREMRANGEBYRANK', key, 0, older - 1)
end
local lapsed = drop(KEYS[2], cutoff) + drop(KEYS[3], cutoff)
drop(KEYS[4], cutoff)
drop(KEYS[5], now)
if lapsed > 0 then redis.call('HINCRBY', KEYS[1], 'lapsed', lapsed) end
for k = 6, #KEYS do
  local entries = redis.call('HGETALL', KEYS[k])
  for i = 1, #entries, 2 do
    local n = entries[i + 1]
    if not redis.call('ZSCORE', tickets(n), n) and not redis.call('ZSCORE', KEYS[4], n) then
      redis.call('HDEL', KEYS[k], entries[i])
    end
  end
end
return {lapsed, more}
"""
)


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
        prefix: str = DEFAULT_PREFIX,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.prefix = prefix
        # A blocking pool: in a flash crowd, requests beyond ``max_connections`` wait (up to
        # ``timeout``) for a connection instead of failing at once, as redis-py's default pool does.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # see the module docstring: a script must not run twice
        )
        self._client = redis.asyncio.Redis.from_pool(pool)
        self._keys: dict[str, list[str]] = {}
        self._next_bucket = 0  # the next holder bucket ``sweep`` cleans
        register = self._client.register_script
        self._join: AsyncScript = register(_JOIN)
        self._check_in: AsyncScript = register(_CHECK_IN)
        self._claim: AsyncScript = register(_CLAIM)
        self._advance: AsyncScript = register(_ADVANCE)
        self._advance_clocked: AsyncScript = register(_ADVANCE_CLOCKED)
        self._settle: AsyncScript = register(_SETTLE_ONLY)
        self._state: AsyncScript = register(_STATE)
        self._configure: AsyncScript = register(_CONFIGURE)
        self._start_event: AsyncScript = register(_START_EVENT)
        self._sweep: AsyncScript = register(_SWEEP)

    def keys(self, room: str) -> list[str]:
        """The room's keys, in the order the scripts expect them (holder buckets aside)."""
        found = self._keys.get(room)
        if found is None:
            if "{" in room or "}" in room:
                # A brace would move the hash tag and scatter the room's keys over cluster slots.
                raise ValueError(f"room names cannot contain braces: {room!r}")
            base = f"{self.prefix}{{{room}}}:"
            found = [base + part for part in ("meta", "seen", "reached", "claims", "passes")]
            self._keys[room] = found
        return found

    def holder_bucket(self, room: str, holder: str) -> str:
        """The hash that keeps ``holder``'s ticket number (see the module docstring: memory)."""
        return self._bucket(room, zlib.crc32(holder.encode()))

    def _bucket(self, room: str, index: int) -> str:
        return f"{self.prefix}{{{room}}}:holders:{index % HOLDER_BUCKETS}"

    async def join(self, room: str, holder: str, now: float, ttl: float) -> int:
        with _unavailable_on_error():
            keys = self._join_keys(room, holder)
            return int(await self._join(keys, [holder, repr(now), repr(now - ttl)]))

    def _join_keys(self, room: str, holder: str) -> list[str]:
        if not holder:
            return self.keys(room)
        return [*self.keys(room), self.holder_bucket(room, holder)]

    async def join_many(self, room: str, holders: Sequence[str], now: float, ttl: float) -> list[int]:
        """``join`` for each holder, pipelined (the surge simulator and benchmarks fill rooms with
        it). Each join is still its own script, so other clients' operations may run between them;
        pipelines of ``PIPELINE_BATCH`` keep each round trip well inside the socket timeout."""
        with _unavailable_on_error():
            times = [repr(now), repr(now - ttl)]
            numbers: list[int] = []
            for start in range(0, len(holders), PIPELINE_BATCH):
                async with self._client.pipeline(transaction=False) as pipe:
                    for holder in holders[start : start + PIPELINE_BATCH]:
                        await self._join(self._join_keys(room, holder), [holder, *times], client=pipe)
                    numbers += [int(reply) for reply in await pipe.execute()]
            return numbers

    async def check_in(self, room: str, number: int, now: float, ttl: float) -> bool:
        with _unavailable_on_error():
            args = [str(int(number)), repr(now), repr(now - ttl)]
            return bool(await self._check_in(self.keys(room), args))

    async def claim(self, room: str, number: int, place: int, now: float, ttl: float) -> bool:
        with _unavailable_on_error():
            args = [str(int(number)), str(int(place)), repr(now), repr(now - ttl)]
            return bool(await self._claim(self.keys(room), args))

    async def hold_pass(self, room: str, pass_id: str, expires: float) -> None:
        with _unavailable_on_error():
            await self._client.zadd(self.keys(room)[4], {pass_id: expires})

    async def advance(self, room: str, count: int) -> int:
        """Moves ``serving`` at once (one script), then finishes moving the tickets it passed, one
        bounded script at a time. If this worker dies in between, the next script of any worker
        carries on from ``moved``."""
        with _unavailable_on_error():
            keys = self.keys(room)
            reply = await self._advance(keys, [str(max(0, int(count))), str(SETTLE_BATCH)])
            return await self._settled(keys, reply)

    async def advance_clocked(self, room: str, rate: float, now: float) -> int:
        with _unavailable_on_error():
            keys = self.keys(room)
            reply = await self._advance_clocked(keys, [repr(float(rate)), repr(now), str(SETTLE_BATCH)])
            return await self._settled(keys, reply)

    async def _settled(self, keys: list[str], reply: Sequence[Any]) -> int:
        serving, moved = int(reply[0]), int(reply[1])
        while moved < serving:
            moved = int((await self._settle(keys, [str(SETTLE_BATCH)]))[1])
        return serving

    async def state(self, room: str, now: float, ttl: float) -> RoomState:
        with _unavailable_on_error():
            reply = await self._state(self.keys(room), [repr(now), repr(now - ttl), str(SETTLE_BATCH)])
            return _room_state(reply[: len(_FIELDS)], waiting=int(reply[-2]), passes=int(reply[-1]))

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
        """Returns the settings with ``waiting`` and ``passes`` at 0, as ``MemoryStore`` does: they
        depend on a time this method is not given."""
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
            reply = await self._configure(self.keys(room)[:1], changes)
            return _room_state(reply, waiting=0, passes=0)

    async def start_event(self, room: str) -> int:
        with _unavailable_on_error():
            return int(await self._start_event(self.keys(room)[:1], []))

    async def sweep(self, room: str, now: float, ttl: float) -> int:
        """Drops in bounded batches (each one script), so a million tickets lapsing at once never hold
        Redis for long. Each batch also cleans the next ``HOLDER_BUCKETS_PER_SWEEP`` holder buckets,
        forgetting accounts whose ticket is gone: the whole table is cleaned over successive sweeps
        (the rotation is per process; several workers sweeping just go round faster), and ``join``
        ignores a stale entry meanwhile, since it checks the ticket itself."""
        with _unavailable_on_error():
            keys = self.keys(room)
            args = [repr(now), repr(now - ttl), str(SWEEP_BATCH)]
            lapsed = 0
            while True:
                first, self._next_bucket = self._next_bucket, self._next_bucket + HOLDER_BUCKETS_PER_SWEEP
                buckets = [self._bucket(room, first + i) for i in range(HOLDER_BUCKETS_PER_SWEEP)]
                dropped, more = await self._sweep([*keys, *buckets], args)
                lapsed += int(dropped)
                if not int(more):
                    return lapsed

    async def ping(self) -> None:
        with _unavailable_on_error():
            await self._client.ping()

    async def close(self) -> None:
        with _unavailable_on_error():
            await self._client.aclose()


def _room_state(fields: Sequence[Any], *, waiting: int, passes: int) -> RoomState:
    """Parse the meta hash (strings, or None for fields never written) in ``_FIELDS`` order.

    A hash we cannot read (edited by hand, or written by a newer Haven) makes the store unavailable:
    better per-process protection than admitting people on numbers we do not understand."""
    values = dict(zip(_FIELDS, fields, strict=True))
    mode = values["mode"] or "auto"
    try:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        return _parsed(values, waiting, passes, cast(Mode, mode))
    except ValueError as error:
        raise StoreUnavailable(f"Redis store: unreadable room state: {error}") from error


def _parsed(values: dict[str, Any], waiting: int, passes: int, mode: Mode) -> RoomState:
    return RoomState(
        issued=int(values["issued"] or 0),
        serving=int(values["serving"] or 0),
        waiting=waiting,
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
    )
