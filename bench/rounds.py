"""Ranking a large pool and inviting a round, on SQLite and on PostgreSQL: ``python -m bench.rounds``
writes ``bench/results/rounds.json``.

For each database and pool size (100,000 and 1,000,000 profiles by default) a fresh database is
migrated and seeded with a synthetic pool (accounts, submitted profiles and their pool entries, with
scores, programs and categories drawn at random from a fixed seed), and then, each ``--runs`` times,
with a new round id:

- the pool's stale entries re-scored (``--stale`` real profiles, whose stored scores changed since),
  timed on its own: what a round does first;
- a general round of 5,000, timed from the call to its commit: the ranking read off the index, the
  invitations, profile updates, pool removals and 5,000 emails in one transaction;
- a category-based round (STEM) and a program-specific round (CEC) of 5,000, the same way;
- a dry run of a general round (the ranking alone);
- the baseline: the general ranking as one SQL query, once as the rounds run it (off the index) and
  once with the index out of play (the score sorted as an expression); ``index_speedup`` is the
  ratio of the two medians.

Each figure is given with its median and its spread (min–max). The database server and the
benchmark are pinned to different cores where ``taskset`` exists. The query plan of the general
ranking on PostgreSQL is kept in the results, to show the index is what answers it.

The seeded profiles carry no answers (their facts are stored as already worked out); only the
``--stale`` real ones are re-scored. Seeding is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, text

from bench.servers import pinned
from haven import settings as settings_module
from haven.db import Database, create_engine, migrate
from haven.profiles.sections import BY_KEY, job_reading
from haven.rounds import entries, pool
from haven.rounds.service import ACCOUNTS, PROFILES, Rounds, ranking
from haven.rules.rounds import RoundProgram, spec
from haven.surge.persona import ANSWERS, JOB

CATEGORY_SHARES = {"french": 0.08, "healthcare_social": 0.10, "stem": 0.12, "trades": 0.06, "education": 0.03}
PROGRAM_SHARES = {"fsw": 0.60, "cec": 0.35, "fst": 0.05}
BATCH = 10_000
OUT = Path("bench/results/rounds.json")
_WHERE = "SELECT profile_id FROM pool_entries WHERE eligible AND expires_at > :at AND submitted_at <= :at "
RANKINGS = {
    "ranking_indexed": text(_WHERE + "ORDER BY score DESC, submitted_at, number LIMIT 5000"),
    "ranking_without_index": text(_WHERE + "ORDER BY score + 0 DESC, submitted_at, number LIMIT 5000"),
}


def persona_answers(dob: str) -> dict[str, Any]:
    """The persona's complete answers, born on ``dob`` (so scores differ)."""
    day = dt.date(2026, 11, 27)
    answers: dict[str, Any] = {}
    for key, given in ANSWERS.items():
        reading = BY_KEY[key].read(given, {}, lambda words: words, day)
        kept = dict(reading.answers)
        kept.pop("passport_number", None)
        answers[key] = kept
    answers["personal"]["dob"] = dob
    answers["work"] = {"jobs": [job_reading(JOB, lambda words: words, day).answers]}
    answers["_complete"] = sorted([*ANSWERS, "work"])
    return answers


def seed_pool(
    connection: Connection, count: int, day: dt.date, *, rng: random.Random, stale: int = 0, start: int = 0
) -> None:
    """``count`` synthetic people in the pool, ``stale`` of them real profiles scored before ``day``
    (re-scored by the next round). Written in batches inside the caller's transaction."""
    now = dt.datetime.combine(day, dt.time(12), dt.UTC)
    for first in range(start, start + count, BATCH):
        accounts, profiles, pool_rows, category_rows = [], [], [], []
        for index in range(first, min(start + count, first + BATCH)):
            account_id, profile_id = uuid.uuid4(), uuid.uuid4()
            submitted = now - dt.timedelta(
                seconds=rng.randrange(300 * 86400), microseconds=rng.randrange(10**6)
            )
            number = f"HV-B{index:011d}"
            real = index - start < stale
            answers = (
                persona_answers(f"{1975 + rng.randrange(25)}-0{1 + rng.randrange(9)}-15") if real else {}
            )
            accounts.append(
                {
                    "id": account_id,
                    "email": f"pool{index}@example.org",
                    "password_hash": "-",
                    "language": "fr" if index % 5 == 0 else "en",
                    "created_at": submitted,
                    "email_verified_at": submitted,
                    "password_changed_at": submitted,
                }
            )
            profiles.append(
                {
                    "id": profile_id,
                    "account_id": account_id,
                    "state": "submitted",
                    "number": number,
                    "answers": answers,
                    "create_key": f"bench-{index}",
                    "created_at": submitted,
                    "updated_at": submitted,
                    "submitted_at": submitted,
                    "crs_score": 0,
                    "rules_version": "bench",
                }
            )
            if real:
                facts = pool.facts(answers, day - dt.timedelta(days=400))
                valid_until = day - dt.timedelta(days=1)  # stale by the round's day
            else:
                programs = {name for name, share in PROGRAM_SHARES.items() if rng.random() < share}
                if rng.random() < 0.02:
                    programs.add(RoundProgram.PNP)
                score = max(200, min(880, int(rng.gauss(460, 55))))
                if RoundProgram.PNP in programs:
                    score = min(1200, score + 600)
                categories = (
                    frozenset(key for key, share in CATEGORY_SHARES.items() if rng.random() < share)
                    if programs - {RoundProgram.PNP}
                    else frozenset()
                )
                facts = pool.Facts(score, "bench", frozenset(programs), categories)
                valid_until = day + dt.timedelta(days=365)
            entry, cats = entries.row(profile_id, account_id, number, submitted, facts, day, valid_until)
            pool_rows.append(entry)
            category_rows += cats
        connection.execute(insert(ACCOUNTS), accounts)
        connection.execute(insert(PROFILES), profiles)
        connection.execute(insert(entries.ENTRIES), pool_rows)
        if category_rows:
            connection.execute(insert(entries.CATEGORIES), category_rows)


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def _pin(core: int) -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


async def _measure(settings: settings_module.Settings, size: int, runs: int, stale: int) -> dict[str, Any]:
    engine = create_engine(settings)
    database = Database(engine)
    rounds = Rounds(database, settings)
    day = dt.date(2026, 12, 3)
    at = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)
    rng = random.Random(2016)
    figures: dict[str, Any] = {"pool": size, "stale_per_round": stale}
    try:
        started = time.perf_counter()
        await database.write(lambda connection: seed_pool(connection, size, day, rng=rng))
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        figures["seed_seconds"] = round(time.perf_counter() - started, 1)
        timings: dict[str, list[float]] = {
            "rescore_stale": [],
            "general": [],
            "stem": [],
            "cec": [],
            "dry_run_general": [],
        }
        invited: dict[str, list[int]] = {key: [] for key in timings if key != "rescore_stale"}
        rescored: list[int] = []
        for run in range(runs):
            # A few hundred real profiles whose stored scores went stale: the round re-scores them.
            first = size + run * stale

            def add_stale(connection: Connection, first: int = first) -> None:
                seed_pool(connection, stale, day, rng=rng, stale=stale, start=first)

            await database.write(add_stale)
            began = time.perf_counter()
            rescored.append(await rounds.refresh(day))
            timings["rescore_stale"].append(time.perf_counter() - began)
            for key, options in (
                ("general", {}),
                ("stem", {"category": "stem"}),
                ("cec", {"program": "cec"}),
                ("dry_run_general", {}),
            ):
                round_spec = spec(5000, at + dt.timedelta(minutes=run), day, **options)
                began = time.perf_counter()
                result = await rounds.draw(
                    round_spec,
                    f"bench-{key}-{run}",
                    now=at,
                    dry_run=key.startswith("dry_run"),
                )
                timings[key].append(time.perf_counter() - began)
                invited[key].append(len(result.chosen))
        # The baseline: the same ranking with the index out of play (the score sorted as an
        # expression), against the ranking as the rounds run it.
        for label, query in RANKINGS.items():
            timings[label] = []
            for _run in range(runs):

                def rank_once(connection: Connection, query: Any = query) -> None:
                    list(connection.execute(query, {"at": at}))

                began = time.perf_counter()
                await database.read(rank_once)
                timings[label].append(time.perf_counter() - began)
        figures["seconds"] = {key: _spread(values) for key, values in timings.items()}
        figures["index_speedup"] = round(
            statistics.median(timings["ranking_without_index"])
            / statistics.median(timings["ranking_indexed"]),
            1,
        )
        figures["invited"] = invited
        figures["rescored_before_each_run"] = rescored
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                plan = await connection.run_sync(_plan, at, day)
            figures["postgresql_plan_general"] = plan
    finally:
        await database.close()
    return figures


def _plan(connection: Connection, at: dt.datetime, day: dt.date) -> list[str]:
    """PostgreSQL's plan of a general round's ranking, run (and rolled back)."""
    compiled = ranking(spec(5000, at, day)).compile(dialect=connection.dialect)
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", parameters)
    plan = [row[0] for row in rows]
    connection.rollback()
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="Pool sizes, comma-separated.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stale", type=int, default=300, help="Real, stale profiles added before each run.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from tests.databases import PrivatePostgres, execute
    from tests.server import free_port

    report: dict[str, Any] = {
        "what": "One round of invitations of 5,000 on a pool of N profiles (seconds, median and min-max).",
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count()},
        "results": {},
    }
    _pin(1)
    for database in args.databases.split(","):
        for size in (int(value) for value in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="haven-rounds-bench-") as folder:
                env = {"HAVEN_VAR_DIR": folder, "HAVEN_SECRET_KEY": "x" * 40}
                postgres = None
                if database == "postgresql":
                    postgres = PrivatePostgres.create(free_port())
                    postgres.start(pin=pinned(0))
                    asyncio.run(execute(postgres.admin_url, 'CREATE DATABASE "haven"'))
                    env["HAVEN_DATABASE_URL"] = postgres.admin_url.rsplit("/", 1)[0] + "/haven"
                try:
                    settings = settings_module.load(env)
                    migrate(settings)
                    print(f"rounds bench: {database}, {size:,} profiles ...", flush=True)
                    figures = asyncio.run(_measure(settings, size, args.runs, args.stale))
                    report["results"][f"{database}_{size}"] = figures
                    print(json.dumps(figures["seconds"]), flush=True)
                finally:
                    if postgres is not None:
                        postgres.remove()
                    shutil.rmtree(folder, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"rounds bench: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
