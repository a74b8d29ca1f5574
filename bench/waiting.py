"""``python -m bench.waiting`` (``haven bench waiting``, and ``make bench``): what waiting costs.

Writes ``bench/results/waiting.json`` (or ``--out``) with, in one run:

- **Capacity**: ``GET /en/account/sign-up`` (a form rendered for each request) by a visitor holding
  a pass, the room open: requests a second one worker answers with a 2xx (wrk ``-c16``). The
  simulation's origin is ``--origin-workers`` (4) such workers.
- **Polls through nginx**: ``GET /api/v1/waiting-room/state`` through nginx with
  ``deploy/nginx.conf``, and how many of those polls reached Haven (its own ``/metrics``, the
  ``room-state`` route); beside it, as the baseline of the same run, Haven's own personal status
  path ``GET /api/v1/waiting-room`` with a ticket, the room paused so that the ticket waits.
- **Joins per second per worker**, memory store and Redis: ``Room.join`` in-process (64 at a time,
  as a worker's requests come) and over HTTP (``GET /en/waiting-room`` without a ticket, the room
  paused, so every request takes a new place and renders the waiting page; a 503 by design).
- **Redis memory per queued person** with a million in line: ``RedisStore.join_many`` into a
  private ``redis-server``, ``INFO memory`` before and after; a million people with no account,
  then a second room with a share of signed-in people (each also an ``account -> ticket`` entry).
- **Election night in simulation** (``bench/election_night.py``): the real room, controller and ETA
  code on a virtual clock against an origin of the capacity measured above.

Pinning (two cores): Haven's single worker on core 0 and wrk on core 1 for the measures of Haven
itself; for the polls through nginx, nginx has core 0 to itself, and Haven (which nginx asks once a
second) shares core 1 with wrk. In-process measures run on core 0, their Redis on core 1. Each wrk
figure is the median of ``--runs`` runs after a warm-up, with every run and the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.content import wrk
from bench.election_night import ELECTION_NIGHT, Night
from bench.election_night import run as run_night
from bench.servers import pinned, private_redis
from bench.shield import UNLIMITED, admin, ticket_cookie
from haven.content.export import export_static
from haven.shield.room import Room, RoomSettings
from haven.shield.store import Store
from haven.shield.store.memory import MemoryStore
from haven.shield.store.redis import RedisStore
from haven.shield.tokens import Signer
from tests.conftest import make_settings
from tests.nginx import start_nginx
from tests.server import RunningServer, start_server

RESULTS = Path(__file__).resolve().parent / "results" / "waiting.json"
STATE = "/api/v1/waiting-room/state"
STATUS = "/api/v1/waiting-room"
JOIN = "/en/waiting-room"
DYNAMIC_PAGE = "/en/account/sign-up"
MILLION = 1_000_000
TARGETS = {
    "polls_per_second": 30_000,
    "origin_requests_per_second": 1.0,
    "joins_per_second_memory": 10_000,
    "joins_per_second_redis": 5_000,
    "redis_mb_per_million": 100,
    "eta_median_error": 0.25,
    "within_first_range": 0.70,
    "kendall_tau_within": 0.01,
}


# Haven and its figures --------------------------------------------------------------------------------


@contextmanager
def haven(root: Path, name: str, core: int, **env: str) -> Iterator[RunningServer]:
    base = {"HAVEN_WORKERS": "1", "HAVEN_LOG_LEVEL": "warning", **UNLIMITED, **env}
    with start_server(root / name, prefix=pinned(core), **base) as server:
        yield server


def route_requests(server: RunningServer, route: str) -> int:
    """Requests Haven's one worker answered on ``route`` so far, from its own /metrics."""
    text = httpx.get(server.base_url + "/metrics").text
    pattern = rf'^haven_http_requests_total\{{route="{re.escape(route)}",status="\d+"[^}}]*\}} ([0-9.e+]+)$'
    return sum(int(float(value)) for value in re.findall(pattern, text, re.MULTILINE))


def summary(
    samples: list[dict[str, float]], seconds: int, key: str = "requests_per_second"
) -> dict[str, Any]:
    rates = [sample[key] for sample in samples]
    median = statistics.median(rates)
    return {
        f"{key}_median": round(median, 1),
        f"{key}_runs": [round(rate, 1) for rate in rates],
        "spread": round((max(rates) - min(rates)) / median, 3) if median else None,
        "p99_ms_median": statistics.median(sample["p99_ms"] for sample in samples),
        "non_2xx": sum(sample["non_2xx"] for sample in samples),
        "seconds_per_run": seconds,
    }


def runs(url: str, headers: list[str], connections: int, seconds: int, count: int) -> list[dict[str, float]]:
    wrk(url, connections=connections, seconds=2, headers=headers)  # warm-up
    return [wrk(url, connections=connections, seconds=seconds, headers=headers) for _ in range(count)]


def capacity(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """2xx requests a second of one worker on a dynamic page, for a visitor let in."""
    with haven(root, "capacity", 0) as server:
        admin(server, root / "capacity", {"action": "open"})
        first = httpx.get(server.base_url + DYNAMIC_PAGE)
        first.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in first.cookies.items())
        # 16 connections keep the core busy without going past the limiter's limit: at 64 it sheds
        # (cheap 503s) and the 2xx a second fall, which would understate what the worker can serve.
        samples = runs(server.base_url + DYNAMIC_PAGE, [f"Cookie: {cookie}"], 16, args.seconds, args.runs)
    for sample in samples:
        sample["ok_per_second"] = sample["requests_per_second"] - sample["non_2xx"] / args.seconds
    return {
        "page": DYNAMIC_PAGE,
        "method": "one worker on core 0, wrk -c16 on core 1, the room open, a pass and its cookies",
        **summary(samples, args.seconds, "ok_per_second"),
        "requests_per_second_runs": [sample["requests_per_second"] for sample in samples],
    }


def polls(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The state document through nginx, and how many of those polls reached Haven."""
    with haven(root, "polls", 1) as server:
        export_static(make_settings(root / "polls", HAVEN_PORT=str(server.port)), root / "site")
        with start_nginx(root / "nginx", root / "site", server.port, prefix=pinned(0)) as nginx:
            url = nginx.base_url + STATE
            wrk(url, connections=args.connections, seconds=2, headers=[])
            samples, reached = [], []
            for _ in range(args.runs):
                before = route_requests(server, "room-state")
                started = time.monotonic()
                sample = wrk(url, connections=args.connections, seconds=args.seconds, headers=[])
                elapsed = time.monotonic() - started
                origin = route_requests(server, "room-state") - before
                sample["origin_requests"] = origin
                sample["origin_requests_per_second"] = origin / elapsed
                samples.append(sample)
                reached.append(origin)
            answer = httpx.get(url, headers={"Cookie": "haven_ticket=t; haven_pass=p"})
    polled = [sample["requests_per_second"] * args.seconds for sample in samples]
    return {
        "path": STATE,
        "method": (
            f"wrk -t1 -c{args.connections} -d{args.seconds}s through nginx (deploy/nginx.conf, one "
            "worker process) pinned to core 0; Haven (one worker) and wrk share core 1; polls that "
            "reached Haven from its /metrics (route room-state)"
        ),
        **summary(samples, args.seconds),
        "origin_requests_runs": reached,
        "origin_requests_per_second_median": round(
            statistics.median(sample["origin_requests_per_second"] for sample in samples), 2
        ),
        "polls_per_origin_request": round(sum(polled) / max(1, sum(reached))),
        "set_cookie": "set-cookie" in answer.headers,
        "cache_control": answer.headers.get("cache-control"),
    }


def personal_status(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The baseline: Haven's own personal status path, with a ticket, the room paused."""
    with haven(root, "status", 0) as server:
        admin(server, root / "status", {"action": "pause"})
        cookie = ticket_cookie(server)
        samples = runs(server.base_url + STATUS, [f"Cookie: {cookie}"], 64, args.seconds, args.runs)
        answer = httpx.get(server.base_url + STATUS, headers={"Cookie": cookie}).json()
    return {
        "path": STATUS,
        "method": "one worker on core 0, wrk -c64 on core 1, the room paused, one ticket",
        **summary(samples, args.seconds),
        "answer": answer,
    }


# Joins --------------------------------------------------------------------------------------------


class Idle:
    """An origin with room to spare: the controller's inputs do not matter to a join."""

    def pressure(self) -> float:
        return 0.0

    def utilization(self) -> float:
        return 0.0


async def joins_in_process(store: Store, count: int, concurrency: int = 64) -> float:
    """``Room.join`` calls a second (the join, the ETA of the place and the signed ticket)."""
    room = Room(store, Signer(["bench-waiting-joins"]), Idle(), RoomSettings())
    await room.stores.configure(room.name, mode="paused")
    await room.tick()
    share = count // concurrency

    async def joiner() -> None:
        for _ in range(share):
            await room.join("")

    started = time.perf_counter()
    await asyncio.gather(*(joiner() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await store.close()
    return share * concurrency / elapsed


def joins(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    affinity = os.sched_getaffinity(0)
    for name in ("memory", "redis"):
        context = private_redis(prefix=pinned(1)) if name == "redis" else nullcontext("")
        with context as url:
            os.sched_setaffinity(0, {0})
            try:
                rates = []
                for _ in range(args.runs):
                    store: Store = RedisStore(url) if url else MemoryStore()
                    rates.append(asyncio.run(joins_in_process(store, args.joins)))
            finally:
                os.sched_setaffinity(0, affinity)
            env = {"HAVEN_REDIS_URL": url} if url else {}
            with haven(root, f"joins-{name}", 0, **env) as server:
                admin(server, root / f"joins-{name}", {"action": "pause"})
                samples = runs(server.base_url + JOIN, [], 64, args.seconds, args.runs)
                token = (root / f"joins-{name}" / "admin_token").read_text().strip()
                state = httpx.get(
                    server.base_url + "/admin/api/room", headers={"Authorization": f"Bearer {token}"}
                ).json()
                check = httpx.get(server.base_url + JOIN)
        median = statistics.median(rates)
        results[name] = {
            "in_process": {
                "method": f"Room.join, {args.joins:,} joins 64 at a time, pinned to core 0"
                + (" (its redis-server on core 1)" if url else ""),
                "joins_per_second_median": round(median),
                "joins_per_second_runs": [round(rate) for rate in rates],
                "spread": round((max(rates) - min(rates)) / median, 3),
            },
            "http": {
                "method": (
                    "GET /en/waiting-room without a ticket, the room paused: each request takes a "
                    "place and renders the waiting page (a 503 by design, so wrk counts every join "
                    "in non_2xx); one worker on core 0, wrk -c64 on core 1"
                ),
                **summary(samples, args.seconds),
                "tickets_issued": state.get("issued"),
                "gives_a_place": check.status_code == 503
                and "haven_ticket" in check.headers.get("set-cookie", ""),
            },
        }
    return results


# Redis memory -------------------------------------------------------------------------------------


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


async def fill(url: str, room: str, holders: Sequence[str], batch: int = 20_000) -> float:
    store = RedisStore(url, timeout=30)
    now = time.time()
    started = time.perf_counter()
    try:
        for start in range(0, len(holders), batch):
            await store.join_many(room, holders[start : start + batch], now, 600.0)
        state = await store.state(room, now)
    finally:
        await store.close()
    if state.issued != len(holders):
        raise AssertionError(f"{len(holders)} joins but {state.issued} places issued")
    return time.perf_counter() - started


def redis_memory(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "method": (
            "a private redis-server (no persistence); INFO memory used_memory before and after "
            "RedisStore.join_many (the join scripts, pipelined), a million places in each room"
        ),
    }
    with private_redis() as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        results["redis"] = client.info("server")["redis_version"]
        crowds = {
            "anonymous": [""] * args.line,
            f"signed_in_{round(args.signed_in_share * 100)}_percent": [
                str(uuid.uuid4()) if index % round(1 / args.signed_in_share) == 0 else ""
                for index in range(args.line)
            ],
        }
        for name, holders in crowds.items():
            before = used_memory(client)
            seconds = asyncio.run(fill(url, name, holders))
            after = used_memory(client)
            per_person = (after - before) / len(holders)
            results[name] = {
                "people": len(holders),
                "signed_in": sum(1 for holder in holders if holder),
                "bytes_per_person": round(per_person, 1),
                "mb_per_million": round(per_person * MILLION / 1e6, 1),
                "within_target": per_person * MILLION / 1e6 <= TARGETS["redis_mb_per_million"],
                "pipelined_joins_per_second": round(len(holders) / seconds),
            }
        client.close()
    return results


# The simulation -----------------------------------------------------------------------------------


def simulation(ok_per_second: float, args: argparse.Namespace) -> dict[str, Any]:
    scale = args.night_scale
    profile = tuple((hour, arrivals * scale) for hour, arrivals in ELECTION_NIGHT)
    night = Night(capacity=ok_per_second * args.origin_workers * scale, profile=profile)
    figures = run_night(night)
    figures["origin"] = (
        f"{args.origin_workers} worker(s) of the capacity measured above ({ok_per_second:,.0f} 2xx/s each); "
        f"a visit of {night.visit_seconds / 60:.0f} minutes and {night.visit_requests:.0f} requests"
    )
    figures["scale"] = scale  # arrivals and origin alike; 1: the full-scale night
    return figures


# The report ---------------------------------------------------------------------------------------


def verdicts(report: dict[str, Any]) -> dict[str, Any]:
    poll = report["polls_through_nginx"]
    memory, redis_ = report["joins"]["memory"], report["joins"]["redis"]
    night = report["election_night"]
    line = report["redis_memory"]
    return {
        "polls_per_second": poll["requests_per_second_median"] >= TARGETS["polls_per_second"],
        "origin_about_one_request_per_second": poll["origin_requests_per_second_median"] <= 1.5,
        "personal_status_below_polls": (
            report["personal_status_baseline"]["requests_per_second_median"]
            < poll["requests_per_second_median"]
        ),
        "joins_memory_in_process": memory["in_process"]["joins_per_second_median"]
        >= TARGETS["joins_per_second_memory"],
        "joins_memory_http": memory["http"]["requests_per_second_median"]
        >= TARGETS["joins_per_second_memory"],
        "joins_redis_in_process": redis_["in_process"]["joins_per_second_median"]
        >= TARGETS["joins_per_second_redis"],
        "joins_redis_http": redis_["http"]["requests_per_second_median"] >= TARGETS["joins_per_second_redis"],
        "redis_memory_anonymous": line["anonymous"]["within_target"],
        "eta_median_error": 0 <= night["eta_median_error"] <= TARGETS["eta_median_error"],
        "within_first_range": night["within_first_range"] >= TARGETS["within_first_range"],
        "kendall_tau": night["kendall_tau"] >= 1 - TARGETS["kendall_tau_within"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per figure (medians)")
    parser.add_argument("--connections", type=int, default=128, help="wrk connections for the polls")
    parser.add_argument("--joins", type=int, default=64_000, help="in-process joins per run")
    parser.add_argument("--line", type=int, default=MILLION, help="people in line for Redis memory")
    parser.add_argument("--signed-in-share", type=float, default=0.2)
    parser.add_argument("--origin-workers", type=int, default=4, help="workers in the simulated origin")
    parser.add_argument("--night-scale", type=float, default=1.0, help="scale of the simulated night")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="haven-bench-waiting-") as tmp:
        root = Path(tmp)
        measured = capacity(root, args)
        print(f"capacity: {measured['ok_per_second_median']:,.0f} 2xx/s on {DYNAMIC_PAGE}", flush=True)
        poll = polls(root, args)
        print(
            f"polls through nginx: {poll['requests_per_second_median']:,.0f}/s, "
            f"origin {poll['origin_requests_per_second_median']}/s",
            flush=True,
        )
        baseline = personal_status(root, args)
        print(f"personal status: {baseline['requests_per_second_median']:,.0f}/s", flush=True)
        joined = joins(root, args)
        for name, figures in joined.items():
            print(
                f"joins, {name}: {figures['in_process']['joins_per_second_median']:,}/s in-process, "
                f"{figures['http']['requests_per_second_median']:,.0f}/s over HTTP",
                flush=True,
            )
    line = redis_memory(args)
    print(f"redis: {line['anonymous']['mb_per_million']} MB per million", flush=True)
    night = simulation(measured["ok_per_second_median"], args)
    report: dict[str, Any] = {
        "benchmark": "waiting: polls at the edge, joins, Redis memory, election night in simulation",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python -m bench.waiting", *(sys.argv[1:] if argv is None else argv)]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "pinned": bool(pinned(0)) and (os.cpu_count() or 1) >= 2,
        "targets": TARGETS,
        "capacity": measured,
        "polls_through_nginx": poll,
        "personal_status_baseline": baseline,
        "joins": joined,
        "redis_memory": line,
        "election_night": night,
    }
    report["meets_target"] = verdicts(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["meets_target"], indent=2))
    print(
        f"election night: ETA median error {night['eta_median_error']:.1%}, "
        f"{night['within_first_range']:.0%} within the first range, tau {night['kendall_tau']:.4f}, "
        f"peak queue {night['peak_queue']:,}, drained {night['drain_hours']:.1f} h after the peak; "
        f"{night['wall_seconds']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
