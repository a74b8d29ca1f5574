"""Accounts and profiles under load. Writes ``bench/results/accounts.json``.

- Acknowledged profile submissions per second, on SQLite and on PostgreSQL, with the shield in front
  and without it (the origin alone): complete drafts of distinct applicants, each submitted once (a
  POST answered 303 only after its transaction has committed; a 503 is sent again after the seconds
  its ``Retry-After`` asks, and counts once the 303 comes). Baseline in the same run: bare durable
  commits per second on the same database (one single-row UPDATE per transaction, the same
  durability settings), which no submission path can beat. After each run the database must hold
  exactly as many submitted profiles as were acknowledged.
- Sign-ins per second at argon2id's real cost (the defaults Haven ships with). Baseline in the same
  run: argon2id verifications per second in-process on one core, which is what a sign-in costs at
  least.

Haven runs one worker pinned to core 0 (and PostgreSQL, a private instance started for the run,
shares that core); the load generator is this process, pinned to core 1: a small keep-alive HTTP/1.1
client on asyncio that sends pre-built requests over N connections, obeys ``Retry-After``, and times
each answer. Three runs per scenario, medians reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from sqlalchemy import func, select

from bench.servers import pinned
from haven import settings as settings_module
from haven.accounts.service import Passwords
from haven.db import Database, create_engine, migrate
from haven.profiles.models import Profile
from haven.web.cookies import CSRF_COOKIE, SESSION_COOKIE
from haven.web.security import new_token, sign
from tests.databases import TEST_DATA_KEY, PrivatePostgres, execute
from tests.profiles.crowd import PASSWORD, Submitter, prepare
from tests.server import free_port, start_server

RESULTS = Path(__file__).resolve().parent / "results" / "accounts.json"
PINNING = "Haven (one worker) and PostgreSQL on core 0; the load generator on core 1"
SECRET = "bench-secret-key-0123456789abcdef0123456789"  # noqa: S105 - a throwaway server's key


# A small HTTP/1.1 load generator ---------------------------------------------------------------


RETRY_CAP = 30.0  # the longest a Retry-After is obeyed for; the shield asks for seconds, not minutes
RETRIES = 20  # sheds one request takes before its last answer counts as its answer


@dataclass
class Load:
    elapsed: float
    statuses: list[int]
    latencies: list[float] = field(repr=False)
    retries: int = 0  # 503/429 answers obeyed (waited for, then sent again)

    def count(self, status: int) -> int:
        return sum(1 for found in self.statuses if found == status)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def sign_in_again(port: int, person: Submitter, secret: str) -> bytes:
    """A sign-in POST of a person already let in (their pass, a fresh CSRF token, no session): a
    newcomer's sign-in would wait in the waiting room first, the room's figure, not the sign-in's."""
    csrf = new_token()
    cookies = {**person.cookies, CSRF_COOKIE: sign(csrf, secret, CSRF_COOKIE)}
    cookies.pop(SESSION_COOKIE, None)
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    fields = {"csrf": csrf, "email": person.email, "password": PASSWORD}
    return form_post(port, "/en/account/sign-in", fields, cookie)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    """One HTTP/1.1 response read to its end (the body dropped): its status and its header lines,
    names in lower case."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    lines = [(name.lower(), value.strip()) for name, _, value in (line.partition(":") for line in head[1:])]
    headers = dict(lines)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, lines


def keeps_alive(headers: dict[str, str]) -> bool:
    return headers.get("connection", "").lower() != "close"


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, float | None]:
    """The status of one response; whether the connection stays open; and the seconds its
    ``Retry-After`` asks for (None without one)."""
    status, lines = await read_response(reader)
    headers = dict(lines)
    try:
        retry_after: float | None = float(headers["retry-after"])
    except (KeyError, ValueError):
        retry_after = None
    return status, keeps_alive(headers), retry_after


async def fire(port: int, requests: Sequence[bytes], connections: int) -> Load:
    """Send every request over ``connections`` keep-alive connections, as people do: a 503 or 429
    with ``Retry-After`` is sent again after the seconds it asks for (the same request: a submission
    is idempotent by its key), and the answer that counts is the last one. Each request is timed from
    its first sending to that answer."""
    statuses = [0] * len(requests)
    latencies = [0.0] * len(requests)
    retries = 0
    work = iter(enumerate(requests))

    async def connection() -> None:
        nonlocal retries
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index, request in work:  # one shared iterator: each request is someone's, once
                started = time.perf_counter()
                for attempt in range(RETRIES + 1):
                    writer.write(request)
                    status, keep_alive, retry_after = await _read_response(reader)
                    if not keep_alive:
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    if status not in (429, 503) or retry_after is None or attempt == RETRIES:
                        break
                    retries += 1
                    await asyncio.sleep(min(RETRY_CAP, max(0.0, retry_after)))
                statuses[index] = status
                latencies[index] = time.perf_counter() - started
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return Load(time.perf_counter() - started, statuses, latencies, retries)


def summary(name: str, samples: Sequence[Load]) -> dict[str, Any]:
    """Answers with a 303 (done, committed) per second, and latency, over the measured runs."""
    rates = [load.count(303) / load.elapsed for load in samples]
    return {
        f"{name}_per_second_median": statistics.median(rates),
        f"{name}_per_second_runs": rates,
        "p50_ms_median": statistics.median(load.percentile(0.5) for load in samples),
        "p99_ms_median": statistics.median(load.percentile(0.99) for load in samples),
    }


def form_post(port: int, path: str, fields: dict[str, str], cookie: str) -> bytes:
    body = urlencode(fields).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@contextmanager
def on_core(core: int) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# Submissions ------------------------------------------------------------------------------------


def submission(port: int, submitter: Submitter) -> bytes:
    fields = {"csrf": submitter.csrf, "submit_key": submitter.submit_key, "declaration": "yes"}
    path = f"/en/account/profiles/{submitter.profile_id}/submit"
    return form_post(port, path, fields, submitter.cookie_header())


async def submitted(settings: settings_module.Settings) -> int:
    engine = create_engine(settings)
    try:
        async with Database(engine).transaction() as session:
            query = select(func.count()).select_from(Profile).where(Profile.state == "submitted")
            return int(await session.scalar(query) or 0)
    finally:
        await engine.dispose()


def submissions(
    env: dict[str, str], var_dir: Path, per_run: int, runs: int, connections: int
) -> dict[str, Any]:
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir), **env})
    migrate(settings)
    crowd = asyncio.run(prepare(settings, per_run * (runs + 1)))
    samples = []
    with start_server(var_dir, prefix=pinned(0), **env) as haven:
        batches = [crowd[i * per_run : (i + 1) * per_run] for i in range(runs + 1)]
        for number, batch in enumerate(batches):  # the first batch warms up
            before = asyncio.run(submitted(settings))
            with on_core(1):
                load = asyncio.run(fire(haven.port, [submission(haven.port, s) for s in batch], connections))
            stored = asyncio.run(submitted(settings)) - before
            acknowledged = load.count(303)
            if acknowledged != stored:
                raise AssertionError(f"{acknowledged} submissions acknowledged but {stored} stored")
            if number:
                samples.append(load)
    return {
        **summary("submissions", samples),
        "not_acknowledged": sum(len(load.statuses) - load.count(303) for load in samples),
        "retried_after_503_per_run": [load.retries for load in samples],
        "profile_ids": [str(s.profile_id) for s in crowd[:per_run]],  # drafts the baseline may touch
    }


def sqlite_commits(path: Path, profile_ids: Sequence[str], rounds: int) -> list[float]:
    """Bare durable commits per second on SQLite, Haven's settings (WAL, synchronous=FULL)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    ids = [uuid.UUID(pid).hex for pid in profile_ids]
    rates = []
    try:
        with on_core(0):
            for _ in range(rounds):
                started = time.perf_counter()
                for pid in ids:
                    connection.execute("BEGIN IMMEDIATE")
                    connection.execute("UPDATE profiles SET create_key = ? WHERE id = ?", (new_token(), pid))
                    connection.execute("COMMIT")
                rates.append(len(ids) / (time.perf_counter() - started))
    finally:
        connection.close()
    return rates


async def postgres_commits(
    url: str, profile_ids: Sequence[str], rounds: int, connections: int
) -> list[float]:
    """Bare durable commits per second on PostgreSQL over ``connections`` connections at once."""
    pool = await asyncpg.create_pool(
        url.replace("postgresql+asyncpg://", "postgresql://"), min_size=connections, max_size=connections
    )
    ids = [uuid.UUID(pid) for pid in profile_ids]
    rates = []
    try:
        for _ in range(rounds):

            async def worker(work: Iterator[uuid.UUID]) -> None:
                async with pool.acquire() as connection:
                    for pid in work:
                        await connection.execute(
                            "UPDATE profiles SET create_key = $1 WHERE id = $2", new_token(), pid
                        )

            started = time.perf_counter()
            shared = iter(ids)
            await asyncio.gather(*(worker(shared) for _ in range(connections)))
            rates.append(len(ids) / (time.perf_counter() - started))
    finally:
        await pool.close()
    return rates


# Sign-ins -------------------------------------------------------------------------------------


def sign_ins(env: dict[str, str], var_dir: Path, per_run: int, runs: int, connections: int) -> dict[str, Any]:
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir), **env})
    migrate(settings)
    crowd = asyncio.run(prepare(settings, connections * 4, prefix="signer"))
    samples = []
    with start_server(var_dir, prefix=pinned(0), **env) as haven:
        for number in range(runs + 1):  # the first run warms up
            requests = []
            for index in range(per_run):
                requests.append(sign_in_again(haven.port, crowd[index % len(crowd)], settings.secret_key))
            with on_core(1):
                load = asyncio.run(fire(haven.port, requests, connections))
            # 503: shed by the shield even after RETRIES waits, which is its job; the figure is the
            # sign-ins done per second, with the retries and the sheds beside it.
            unexpected = sorted({status for status in load.statuses if status not in (303, 503)})
            if unexpected:
                raise AssertionError(f"sign-ins answered {unexpected}")
            if number:
                samples.append(load)
    return {
        **summary("sign_ins", samples),
        "shed_503_per_run": [load.count(503) for load in samples],
        "retried_after_503_per_run": [load.retries for load in samples],
    }


def argon2_verifications(rounds: int, per_round: int) -> list[float]:
    hasher = Passwords.from_settings(settings_module.Settings()).hasher
    stored = hasher.hash(PASSWORD)
    rates = []
    with on_core(0):
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(per_round):
                hasher.verify(stored, PASSWORD)
            rates.append(per_round / (time.perf_counter() - started))
    return rates


# The report -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=2000, help="submissions per run")
    parser.add_argument("--sign-ins", type=int, default=120, help="sign-ins per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--shield",
        choices=("on", "off", "both"),
        default="both",
        help="submissions with the shield in front (on), the origin alone (off), or both; "
        "sign-ins run with the first",
    )
    args = parser.parse_args(argv)
    common = {
        "HAVEN_WORKERS": "1",
        "HAVEN_LOG_LEVEL": "warning",
        "HAVEN_SECRET_KEY": SECRET,
        "HAVEN_DATA_KEY": TEST_DATA_KEY,
        # One load generator stands for many people: lift the per-client limits.
        "HAVEN_RATE_PER_ADDRESS": "1000000",
        "HAVEN_RATE_PER_VISITOR": "1000000",
        "HAVEN_JOINS_PER_ADDRESS": "1000000",
    }
    report: dict[str, Any] = {
        "benchmark": "accounts: acknowledged profile submissions and sign-ins per second",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "method": f"{args.runs} runs after a warm-up, medians; {args.connections} connections; {PINNING}; "
        "a 503 or 429 is sent again after its Retry-After, and only a 303 counts as acknowledged",
    }
    modes = {"on": ("true",), "off": ("false",), "both": ("true", "false")}[args.shield]
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        # Cheap argon2 while preparing the crowd: submitting never hashes a password.
        cheap = {"HAVEN_ARGON2_TIME_COST": "1", "HAVEN_ARGON2_MEMORY_KIB": "8"}
        for shield in modes:
            # With the shield in front (as Haven is served), and without it (the origin alone).
            suffix = "" if shield == "true" else "_shield_off"
            common["HAVEN_SHIELD"] = shield
            # SQLite, the embedded default.
            var_dir = Path(tmp) / f"sqlite{suffix}"
            database = var_dir / "haven.sqlite3"
            env = {**common, "HAVEN_DATABASE_URL": f"sqlite:///{database}"}
            result = submissions({**env, **cheap}, var_dir, args.submissions, args.runs, args.connections)
            baseline = sqlite_commits(database, result.pop("profile_ids"), args.runs)
            report[f"submissions_sqlite{suffix}"] = _with_baseline(
                result, "submissions_per_second_median", baseline
            )

            # PostgreSQL: a private server on core 0, beside Haven.
            postgres = PrivatePostgres.create(free_port())
            postgres.start(pin=pinned(0))
            try:
                asyncio.run(execute(postgres.admin_url, 'CREATE DATABASE "haven"'))
                url = postgres.admin_url.rsplit("/", 1)[0] + "/haven"
                env = {**common, **cheap, "HAVEN_DATABASE_URL": url}
                result = submissions(
                    env, Path(tmp) / f"pg{suffix}", args.submissions, args.runs, args.connections
                )
                with on_core(1):
                    baseline = asyncio.run(
                        postgres_commits(url, result.pop("profile_ids"), args.runs, args.connections)
                    )
                report[f"submissions_postgresql{suffix}"] = _with_baseline(
                    result, "submissions_per_second_median", baseline
                )
            finally:
                postgres.remove()
        common["HAVEN_SHIELD"] = modes[0]

        # Sign-ins at the real argon2 cost, on SQLite.
        var_dir = Path(tmp) / "sign-in"
        env = {**common, "HAVEN_DATABASE_URL": f"sqlite:///{var_dir / 'haven.sqlite3'}"}
        result = sign_ins(env, var_dir, args.sign_ins, args.runs, min(8, args.connections))
        baseline = argon2_verifications(args.runs, 30)
        report["sign_ins"] = _with_baseline(result, "sign_ins_per_second_median", baseline)
        report["sign_ins"]["argon2"] = {
            "time_cost": settings_module.Settings().argon2_time_cost,
            "memory_kib": settings_module.Settings().argon2_memory_kib,
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for name in [key for key in report if key.startswith("submissions_")]:
        figures = report[name]
        print(
            f"{name}: {figures['submissions_per_second_median']:,.0f}/s acknowledged "
            f"(p99 {figures['p99_ms_median']:.0f} ms); bare commits {figures['baseline_median']:,.0f}/s; "
            f"ratio {figures['ratio']:.2f}"
        )
    figures = report["sign_ins"]
    print(
        f"sign-ins: {figures['sign_ins_per_second_median']:,.1f}/s (p99 {figures['p99_ms_median']:.0f} ms); "
        f"argon2id alone {figures['baseline_median']:,.1f}/s on one core; ratio {figures['ratio']:.2f}"
    )
    return 0


def _with_baseline(result: dict[str, Any], key: str, baseline: list[float]) -> dict[str, Any]:
    median = statistics.median(baseline)
    return {**result, "baseline_median": median, "baseline_runs": baseline, "ratio": result[key] / median}


if __name__ == "__main__":
    raise SystemExit(main())
