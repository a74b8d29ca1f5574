"""Redis memory per queued visitor in the shared waiting room. Writes ``bench/results/room_memory.json``.

The target: a million people waiting in under 200 MB of Redis. A private ``redis-server`` (nothing saved
to disk) is filled through ``RedisStore.join_many``, which pipelines the very Lua script that
``RedisStore.join`` runs, and ``INFO memory``'s ``used_memory`` is read before and after.

Two crowds, in two rooms of one server:

- anonymous visitors (no account), the flash crowd: ``--visitors`` of them, a million by default;
- signed-in visitors, who also cost an ``account -> ticket`` entry: ``--signed-in`` of them (200,000
  by default, to keep the run near a minute), extrapolated linearly to a million. Per-ticket memory is
  linear once a sorted set is past its small listpack encoding (128 entries), so the straight line is
  a fair reading for tickets; for accounts it errs on the high side (a million fill the same 16,384
  holder buckets five times fuller, so each bucket's fixed overhead is shared by more accounts). The
  output says which figures are extrapolated.

Usage: ``python -m bench.room_memory [--visitors N] [--signed-in N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from bench.servers import private_redis
from haven.shield.store.redis import RedisStore

RESULTS = Path(__file__).resolve().parent / "results" / "room_memory.json"
TARGET_BYTES_PER_MILLION = 200_000_000  # "under 200 MB": decimal megabytes, the stricter reading
MILLION = 1_000_000
TTL = 600.0
BATCH = 20_000  # visitors per join_many call; it pipelines them a thousand at a time


# Measuring -------------------------------------------------------------------------------------------


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def holder_buckets_bytes(client: redis.Redis, pattern: str) -> int:
    total = 0
    for key in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


async def fill(url: str, room: str, holders: Sequence[str]) -> float:
    """Join every holder; returns the seconds it took."""
    store = RedisStore(url, timeout=30)  # the bench waits for Redis; Haven does not
    now = time.time()
    started = time.perf_counter()
    try:
        for start in range(0, len(holders), BATCH):
            await store.join_many(room, holders[start : start + BATCH], now, TTL)
    finally:
        await store.close()
    return time.perf_counter() - started


def crowd(url: str, client: redis.Redis, room: str, visitors: int, signed_in: bool) -> dict[str, Any]:
    holders = [str(uuid.uuid4()) for _ in range(visitors)] if signed_in else [""] * visitors
    before = used_memory(client)
    seconds = asyncio.run(fill(url, room, holders))
    after = used_memory(client)
    keys = RedisStore(url).keys(room)
    issued = int(client.hget(keys[0], "issued") or 0)
    if issued != visitors:
        raise AssertionError(f"{visitors} joins but {issued} tickets issued")
    per_visitor = (after - before) / visitors
    return {
        "visitors": visitors,
        "account": "a UUID per visitor" if signed_in else "none",
        "used_memory_before": before,
        "used_memory_after": after,
        "bytes_per_visitor": round(per_visitor, 1),
        "per_million_bytes": round(per_visitor * MILLION),
        "per_million_mb": round(per_visitor * MILLION / 1e6, 1),
        "extrapolated": visitors != MILLION,
        "within_target": per_visitor * MILLION < TARGET_BYTES_PER_MILLION,
        "keys_bytes": {
            **{key.rsplit(":", 1)[1]: int(client.memory_usage(key, samples=0) or 0) for key in keys},
            "holders": holder_buckets_bytes(client, keys[0].rsplit(":", 1)[0] + ":holders:*"),
        },
        "joins_per_second": round(visitors / seconds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=MILLION, help="anonymous visitors to queue")
    parser.add_argument("--signed-in", type=int, default=200_000, help="signed-in visitors to queue")
    args = parser.parse_args(argv)
    with private_redis() as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        info = client.info("server")
        anonymous = crowd(url, client, "anonymous", args.visitors, signed_in=False)
        signed_in = crowd(url, client, "signed-in", args.signed_in, signed_in=True)
        client.close()
    report: dict[str, Any] = {
        "benchmark": "shared waiting room: Redis memory per queued visitor",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "redis": info["redis_version"],
        },
        "method": (
            "a private redis-server (no persistence); INFO memory used_memory before and after N "
            "RedisStore joins (the join script, pipelined); per-visitor figures extrapolated linearly "
            "to a million where fewer were queued"
        ),
        "target_bytes_per_million": TARGET_BYTES_PER_MILLION,
        "anonymous": anonymous,
        "signed_in": signed_in,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for name, figures in (("anonymous", anonymous), ("signed-in", signed_in)):
        how = f"extrapolated from {figures['visitors']:,}" if figures["extrapolated"] else "measured"
        print(
            f"{name}: {figures['bytes_per_visitor']:.1f} bytes per queued visitor; a million: "
            f"{figures['per_million_mb']:.1f} MB ({how}; target 200 MB); "
            f"{figures['joins_per_second']:,}/s joins"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
