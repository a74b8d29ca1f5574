"""The shield's own costs: what it adds to cached pages, and how many waiting-room requests a worker
answers on each store.

- **Overhead on cached pages** (target ≤ 10 %): the same page through Haven with the shield on and
  with ``HAVEN_SHIELD=false``, wrk ``-c64``, alternating runs, medians; the ratio is on/off.
- **Status checks per second per worker**: ``GET /api/v1/waiting-room`` with a ticket, the room
  paused so that everyone waits (each check verifies the ticket's signature and checks it in with the
  store), on the in-memory store and on Redis.
- **Joins per second per worker**: ``GET /en/waiting-room`` without a ticket, the room paused: each
  request takes a new ticket from the store and renders the waiting page (a 503 by design, so wrk
  counts every join in ``non_2xx``; ``tickets_issued`` is what the room counted).

One worker on core 0 (with its Redis), wrk on core 1; per-client rate limits are raised out of the
way (wrk is one client). Writes ``bench/results/shield.json``. Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

from bench.content import PAGE, wrk
from bench.servers import pinned, private_redis
from tests.server import RunningServer, start_server

RESULTS = Path(__file__).resolve().parent / "results" / "shield.json"
TARGET_OVERHEAD = 0.10
UNLIMITED = {
    "HAVEN_RATE_PER_ADDRESS": "1000000",
    "HAVEN_RATE_PER_VISITOR": "1000000",
    "HAVEN_JOINS_PER_ADDRESS": "1000000",
}


@contextmanager
def haven(root: Path, name: str, **env: str) -> Iterator[RunningServer]:
    base = {"HAVEN_WORKERS": "1", "HAVEN_LOG_LEVEL": "warning", **UNLIMITED, **env}
    with start_server(root / name, prefix=pinned(0), **base) as server:
        yield server


def admin(server: RunningServer, var: Path, body: dict[str, Any]) -> None:
    token = (var / "admin_token").read_text().strip()
    answer = httpx.post(
        server.base_url + "/admin/api/room", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    answer.raise_for_status()


def ticket_cookie(server: RunningServer) -> str:
    answer = httpx.get(server.base_url + "/en/waiting-room")
    match = re.search(r"haven_ticket=([^;]+)", answer.headers.get("set-cookie", ""))
    assert match, f"no ticket: {answer.status_code} {answer.headers}"
    return f"haven_ticket={match.group(1)}"


def median_of(samples: list[dict[str, float]]) -> dict[str, Any]:
    rates = [s["requests_per_second"] for s in samples]
    return {
        "requests_per_second_median": statistics.median(rates),
        "requests_per_second_runs": rates,
        "p99_ms_median": statistics.median(s["p99_ms"] for s in samples),
        "non_2xx": sum(s["non_2xx"] for s in samples),
    }


def overhead(root: Path, connections: int, seconds: int, runs: int) -> dict[str, Any]:
    with haven(root, "on") as on, haven(root, "off", HAVEN_SHIELD="false") as off:
        targets = {"shield_on": on.base_url + PAGE, "shield_off": off.base_url + PAGE}
        for url in targets.values():
            wrk(url, connections=connections, seconds=2, headers=[])
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(runs):
            for name, url in targets.items():
                samples[name].append(wrk(url, connections=connections, seconds=seconds, headers=[]))
                time.sleep(1)
    result: dict[str, Any] = {name: median_of(runs_) for name, runs_ in samples.items()}
    ratio = (
        result["shield_on"]["requests_per_second_median"] / result["shield_off"]["requests_per_second_median"]
    )
    result["overhead"] = 1 - ratio
    result["target"] = f"overhead <= {TARGET_OVERHEAD:.0%}"
    return result


def room_requests(root: Path, store: str, connections: int, seconds: int, runs: int) -> dict[str, Any]:
    context = private_redis() if store == "redis" else nullcontext("")
    with context as redis_url:
        env = {"HAVEN_REDIS_URL": redis_url} if redis_url else {}
        with haven(root, store, **env) as server:
            admin(server, root / store, {"action": "pause"})
            cookie = ticket_cookie(server)
            status_url = server.base_url + "/api/v1/waiting-room"
            join_url = server.base_url + "/en/waiting-room"
            # The waiting page answers 503 by design: wrk counts those as "non-2xx"; what matters
            # is that each is a waiting page, which the check after the runs confirms.
            wrk(status_url, connections=connections, seconds=2, headers=[f"Cookie: {cookie}"])
            statuses, joins = [], []
            for _ in range(runs):
                statuses.append(
                    wrk(status_url, connections=connections, seconds=seconds, headers=[f"Cookie: {cookie}"])
                )
                joins.append(wrk(join_url, connections=connections, seconds=seconds, headers=[]))
            check = httpx.get(join_url)
            assert check.status_code == 503
            assert "haven_ticket" in check.headers.get("set-cookie", "")
            state = httpx.get(
                server.base_url + "/admin/api/room",
                headers={"Authorization": "Bearer " + (root / store / "admin_token").read_text().strip()},
            ).json()
    return {
        "status_checks": median_of(statuses),
        "joins": {**median_of(joins), "tickets_issued": state["issued"]},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="haven-bench-shield-") as tmp:
        root = Path(tmp)
        results: dict[str, Any] = {
            "benchmark": "shield: overhead on cached pages, waiting-room status checks and joins per second",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": 2, "platform": platform.platform(), "python": platform.python_version()},
            "method": (
                f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.runs} runs after a warm-up, medians; "
                "one Haven worker (and its Redis) on core 0, wrk on core 1"
            ),
            "cached_page_overhead": overhead(root, args.connections, args.seconds, args.runs),
        }
        for store in ("memory", "redis"):
            results[f"room_{store}"] = room_requests(root, store, args.connections, args.seconds, args.runs)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
