"""``python -m bench.costs``: what each kind of request costs the origin, in milliseconds of one core
— the figures of ``haven/shield/costs.py``. Writes ``bench/results/costs.json``.

Method: Haven runs as one worker pinned to core 0 (SQLite, the shield on, per-client rate limits
lifted: every request comes from 127.0.0.1); this process, pinned to core 1, sends ``N`` requests of
one kind over a few keep-alive connections (few, so that the shield admits them all rather than shed
some). The server's CPU seconds, read from /proc for its whole process group, less the idle server's
over the same wall time, ÷ the requests answered as expected, is the kind's cost. A warm-up batch
(not counted) first, which also sizes ``N`` so that each run is about ``--cpu-seconds`` of server
CPU; then ``--repeats`` runs: the median and the spread (min–max) are reported.

The kinds:

- ``page``: a dynamic page GET by a signed-in person with a pass (the account home and a profile
  section page, alternately);
- ``save``: a profile section POST, "save and continue" (the persona's sections in turn);
- ``submit``: the profile submission POST (a complete draft, each submitted once);
- ``password``: a sign-in POST of an existing account (one argon2id verification, Haven's defaults);
- ``query_miss``: the CRS calculator's result page, each time with answers not asked before, so
  that every request misses the page cache;
- ``api``: a POST of a CRS calculation to ``/api/v1/crs`` (answers vary);
- ``room``: a personal waiting-room request, the room paused so that everyone queues: ``room_join``
  is the first GET of a dynamic page without a pass (a new place, the waiting page), and
  ``room_status`` a status check with a ticket (``/api/v1/waiting-room``); ``room`` is the larger.

The applicants (confirmed, signed in, with a complete draft and a pass) are written straight into the
database beforehand (``tests/profiles/crowd.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.accounts import form_post, keeps_alive, on_core, read_response, sign_in_again
from bench.overload import UNLIMITED, group_cpu_seconds, idle_cpu_per_second
from bench.servers import RunningServer, pinned, start_server
from haven import settings as settings_module
from haven.checker.calculators import CRS_CALCULATOR
from haven.db import migrate
from haven.shield.pages import STATUS_PATH
from haven.surge.persona import ANSWERS, BASE, CRS_ANSWERS, SECTIONS
from haven.web.i18n import Language
from tests.databases import TEST_DATA_KEY
from tests.profiles.crowd import Submitter, prepare

RESULTS = Path(__file__).resolve().parent / "results" / "costs.json"
SECRET = "bench-secret-key-0123456789abcdef0123456789"  # noqa: S105 - a throwaway server's key
KINDS = ("page", "save", "submit", "password", "query_miss", "api", "room")
TICKET_COOKIE = "haven_ticket"
ANONYMOUS_SHARE = 0.3  # of a core: the shield's anonymous budget is 50 % while the worker has room
ROOM_SHARE = 0.4  # and the newcomers' (joins, status checks) 60 %
WARM_UP_RATE = 100.0  # requests a second of budgeted work before its cost is known


# A small keep-alive HTTP/1.1 client --------------------------------------------------------------


@dataclass
class Answers:
    elapsed: float
    statuses: Counter[int] = field(default_factory=Counter)
    tickets: int = 0  # answers that set a waiting-room ticket (a new place)


async def _read(reader: asyncio.StreamReader) -> tuple[int, bool, bool]:
    """One response read to its end: its status, whether it set a ticket, whether the connection
    stays open."""
    status, lines = await read_response(reader)
    ticket = any(name == "set-cookie" and value.startswith(TICKET_COOKIE + "=") for name, value in lines)
    return status, ticket, keeps_alive(dict(lines))


async def send_all(port: int, requests: Sequence[bytes], connections: int, rate: float = 0.0) -> Answers:
    """Every request once, over ``connections`` keep-alive connections; at most ``rate`` a second
    when it is set (request ``i`` is not sent before ``i / rate`` seconds)."""
    answers = Answers(0.0)
    work = iter(enumerate(requests))
    origin = time.perf_counter()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index, request in work:  # one shared iterator: each request is sent exactly once
                if rate > 0:
                    await asyncio.sleep(max(0.0, origin + index / rate - time.perf_counter()))
                writer.write(request)
                status, ticket, keep_alive = await _read(reader)
                answers.statuses[status] += 1
                answers.tickets += ticket
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    answers.elapsed = time.perf_counter() - origin
    return answers


def get(port: int, path: str, cookie: str = "") -> bytes:
    cookies = f"Cookie: {cookie}\r\n" if cookie else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookies}\r\n".encode()


def json_post(port: int, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


# The kinds ---------------------------------------------------------------------------------------


@dataclass
class Kind:
    """How to make ``n`` requests of one kind, and which answers count as done."""

    name: str
    make: Callable[[int], list[bytes]]
    expected: tuple[int, ...]
    warm_up: int
    most: int  # at most this many requests per run (distinct applicants, say)
    tickets: bool = False  # each answer must set a ticket (a join)
    # Work the shield admits from a CPU budget (the API, calculator misses, the room's paths) is
    # offered at this share of a core, under its budget, so that none of it is shed: None, as fast
    # as the connections go.
    share: float | None = None


def pool(items: Sequence[Submitter]) -> Iterator[Submitter]:
    return itertools.cycle(items)


def crs_queries() -> Iterator[dict[str, str]]:
    """CRS answers never asked before (age × Canadian work × reading score: 3,360 of them)."""
    for age, cwork, reading in itertools.product(range(18, 98), range(6), (6, 6.5, 7, 7.5, 8, 8.5, 9)):
        yield {**CRS_ANSWERS, "age": str(age), "cwork": str(cwork), "s1r": f"{reading:g}"}


def crs_bodies() -> Iterator[dict[str, Any]]:
    from haven.checker.schemas import CRS_EXAMPLE

    for age, work, reading in itertools.product(range(18, 98), range(11), (6, 6.5, 7, 7.5, 8, 8.5, 9)):
        language = {**CRS_EXAMPLE["first_language"], "reading": reading}
        yield {**CRS_EXAMPLE, "age": age, "foreign_work_years": work, "first_language": language}


def kinds(port: int, people: Sequence[Submitter], submitters: Sequence[Submitter], secret: str) -> list[Kind]:
    """The kinds before the room is paused (the room's own come after: ``room_kinds``)."""
    lang: Language = "en"
    readers = pool(people)
    page_paths = itertools.cycle(("/en/account", f"{BASE[lang]}/{{id}}/{SECTIONS[lang]['personal']}"))

    def pages(n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            person, path = next(readers), next(page_paths)
            out.append(get(port, path.format(id=person.profile_id), person.cookie_header()))
        return out

    savers = pool(people)
    sections = itertools.cycle(ANSWERS.items())

    def saves(n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            person, (key, answers) = next(savers), next(sections)
            path = f"{BASE[lang]}/{person.profile_id}/{SECTIONS[lang][key]}"
            fields = {"csrf": person.csrf, **answers, "action": "continue"}
            out.append(form_post(port, path, fields, person.cookie_header()))
        return out

    unsubmitted = iter(submitters)

    def submits(n: int) -> list[bytes]:
        out = []
        for person in itertools.islice(unsubmitted, n):
            fields = {"csrf": person.csrf, "submit_key": person.submit_key, "declaration": "yes"}
            path = f"{BASE[lang]}/{person.profile_id}/submit"
            out.append(form_post(port, path, fields, person.cookie_header()))
        return out

    signers = pool(people)

    def sign_ins(n: int) -> list[bytes]:
        return [sign_in_again(port, next(signers), secret) for _ in range(n)]

    queries = crs_queries()

    result = CRS_CALCULATOR.result_path(lang)

    def misses(n: int) -> list[bytes]:
        return [get(port, f"{result}?{urlencode(q)}") for q in itertools.islice(queries, n)]

    bodies = crs_bodies()

    def calls(n: int) -> list[bytes]:
        return [json_post(port, "/api/v1/crs", body) for body in itertools.islice(bodies, n)]

    return [
        Kind("page", pages, (200,), 100, 5000),
        Kind("save", saves, (303,), 60, 5000),
        Kind("submit", submits, (303,), 30, max(1, (len(submitters) - 30) // 3)),
        Kind("password", sign_ins, (303,), 6, 200),
        Kind("query_miss", misses, (200,), 60, 1000, share=ANONYMOUS_SHARE),
        Kind("api", calls, (200,), 100, 2000, share=ANONYMOUS_SHARE),
    ]


def room_kinds(port: int, ticket: str) -> list[Kind]:
    def joins(n: int) -> list[bytes]:
        return [get(port, "/en/account") for _ in range(n)]

    def checks(n: int) -> list[bytes]:
        return [get(port, STATUS_PATH, ticket) for _ in range(n)]

    return [
        Kind("room_join", joins, (503,), 200, 20000, tickets=True, share=ROOM_SHARE),
        Kind("room_status", checks, (200,), 200, 20000, share=ROOM_SHARE),
    ]


# Measuring ---------------------------------------------------------------------------------------


def batch(
    server: RunningServer, kind: Kind, n: int, connections: int, idle: float, rate: float = 0.0
) -> dict[str, Any]:
    requests = kind.make(n)
    before = group_cpu_seconds(server.process.pid)
    with on_core(1):
        answers = asyncio.run(send_all(server.port, requests, connections, rate))
    cpu = group_cpu_seconds(server.process.pid) - before - idle * answers.elapsed
    done = sum(answers.statuses[status] for status in kind.expected)
    if kind.tickets:
        done = min(done, answers.tickets)
    return {
        "requests": len(requests),
        "done": done,
        "statuses": {str(k): v for k, v in sorted(answers.statuses.items())},
        "seconds": round(answers.elapsed, 3),
        "rate_per_second": round(rate, 1) if rate else None,
        "server_cpu_seconds": round(cpu, 3),
        "cpu_ms": round(1000 * cpu / done, 3) if done else None,
    }


def measure(server: RunningServer, kind: Kind, args: argparse.Namespace, idle: float) -> dict[str, Any]:
    """A warm-up that sizes the runs, then ``args.repeats`` runs of the same size."""
    warm = batch(server, kind, kind.warm_up, args.connections, idle, WARM_UP_RATE if kind.share else 0.0)
    estimate = max(warm["cpu_ms"] or 1.0, 0.05)
    n = max(20, min(kind.most, math.ceil(1000 * args.cpu_seconds / estimate)))
    rate = 1000 * kind.share / estimate if kind.share else 0.0
    runs = [batch(server, kind, n, args.connections, idle, rate) for _ in range(args.repeats)]
    figures = [run["cpu_ms"] for run in runs if run["cpu_ms"] is not None]
    unexpected = sum(run["requests"] - run["done"] for run in runs)
    result = {
        "median_ms": round(statistics.median(figures), 3) if figures else None,
        "min_ms": min(figures) if figures else None,
        "max_ms": max(figures) if figures else None,
        "requests_per_run": n,
        "not_as_expected": unexpected,
        "warm_up": warm,
        "runs": runs,
    }
    spread = f"{result['min_ms']}–{result['max_ms']}"
    print(
        f"{kind.name:12} {result['median_ms']} ms ({spread}; {n} a run; not as expected: {unexpected})",
        flush=True,
    )
    return result


def admin(server: RunningServer, var: Path, body: dict[str, Any]) -> None:
    token = (var / "admin_token").read_text().strip()
    answer = httpx.post(
        server.base_url + "/admin/api/room", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    answer.raise_for_status()


def take_ticket(server: RunningServer) -> str:
    answer = httpx.get(server.base_url + "/en/waiting-room")
    value = answer.cookies.get(TICKET_COOKIE)
    if not value:
        raise RuntimeError(f"the paused room gave no ticket: {answer.status_code}")
    return f"{TICKET_COOKIE}={value}"


def costs(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    env = {
        "HAVEN_WORKERS": "1",
        "HAVEN_LOG_LEVEL": "warning",
        "HAVEN_SHIELD": "true",
        "HAVEN_SECRET_KEY": SECRET,
        "HAVEN_DATA_KEY": TEST_DATA_KEY,
        **UNLIMITED,
    }
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="haven-bench-costs-") as folder:
        var = Path(folder) / "var"
        var.mkdir()
        env["HAVEN_DATABASE_URL"] = f"sqlite:///{var / 'haven.sqlite3'}"
        settings = settings_module.load({"HAVEN_VAR_DIR": str(var), **env})
        migrate(settings)
        crowd = asyncio.run(prepare(settings, args.people + args.submitters))
        people, submitters = crowd[: args.people], crowd[args.people :]
        with start_server(var, prefix=pinned(0), **env) as server:
            time.sleep(1)
            idle = idle_cpu_per_second(server, args.idle_seconds)
            print(f"idle server: {idle * 1000:.1f} ms of CPU a second", flush=True)
            for kind in kinds(server.port, people, submitters, SECRET):
                if kind.name in args.kinds:
                    measured[kind.name] = measure(server, kind, args, idle)
            if "room" in args.kinds:
                admin(server, var, {"action": "pause"})
                ticket = take_ticket(server)
                for kind in room_kinds(server.port, ticket):
                    measured[kind.name] = measure(server, kind, args, idle)
    table: dict[str, Any] = {}
    for name in KINDS:
        if name == "room" and "room_join" in measured:
            parts = [measured["room_join"], measured["room_status"]]
            larger = max(parts, key=lambda part: part["median_ms"] or 0.0)
            table["room"] = {key: larger[key] for key in ("median_ms", "min_ms", "max_ms")}
            table["room"]["from"] = "room_join" if larger is parts[0] else "room_status"
        elif name in measured:
            table[name] = {key: measured[name][key] for key in ("median_ms", "min_ms", "max_ms")}
    return {
        "benchmark": "costs: server CPU milliseconds per request of each kind (haven/shield/costs.py)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "pinned": bool(pinned(0)),
        },
        "method": (
            f"one worker on core 0 (SQLite, shield on, rate limits lifted), the client on core 1 over "
            f"{args.connections} keep-alive connections; server CPU from /proc less the idle server's "
            f"({idle * 1000:.1f} ms/s), ÷ requests answered as expected; a warm-up, then {args.repeats} "
            f"runs of about {args.cpu_seconds:g} s of server CPU each: median and min–max"
        ),
        "argon2": {"time_cost": settings.argon2_time_cost, "memory_kib": settings.argon2_memory_kib},
        "costs_ms": table,
        "kinds": measured,
        "elapsed_seconds": round(time.time() - started, 1),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{'kind':12} {'median ms':>10} {'min':>8} {'max':>8}")
    rows = dict(result["costs_ms"])
    for name in ("room_join", "room_status"):
        if name in result["kinds"]:
            rows[f"  {name}"] = result["kinds"][name]
    for name, row in rows.items():
        low, high = _fmt(row.get("min_ms")), _fmt(row.get("max_ms"))
        print(f"{name:12} {_fmt(row.get('median_ms')):>10} {low:>8} {high:>8}")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-seconds", type=float, default=2.0, help="Server CPU a run aims at.")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--people", type=int, default=200, help="Signed-in applicants for page/save/sign-in.")
    parser.add_argument("--submitters", type=int, default=1500, help="Complete drafts, each submitted once.")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument(
        "--kinds", default=",".join(KINDS), type=lambda text: set(text.split(",")), help="Which kinds."
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = costs(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"wrote {args.out} in {result['elapsed_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
