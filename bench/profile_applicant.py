"""``python -m bench.profile_applicant``: where an applicant journey's CPU goes. Writes
``bench/results/profile_applicant.txt``.

The journey is the surge's applicant, in one process: sign up, follow the confirmation link (it signs
in), start a profile, save every section, add a job, read the check page and submit. It runs
against the app through an in-process ASGI client (no sockets, no server), on SQLite, with Haven's
default argon2id parameters, ``--journeys`` times, under ``cProfile``. cProfile sees the event loop's
thread only: the argon2id hash and SQLite's writes run in worker threads, so the report gives the
process's CPU time beside the profiled time, and the hashes' CPU measured alone.

The client's own work (httpx building and reading requests) is in the profile too; the report lists
the functions by their own time, then Haven's modules by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sysconfig
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from haven import settings as settings_module
from haven.app import create_app
from haven.db import migrate
from tests.profiles.filling import fill_profile, start_profile
from tests.visitor import Visitor, csrf_of, hidden, started

PASSWORD = "correct horse battery"  # noqa: S105 - a benchmark account's password


async def journey(visitor: Visitor, number: int) -> None:
    email = f"applicant{number}@example.org"
    response = await visitor.submit("/en/account/sign-up", {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text[:300]
    link = await visitor.link_in_last_mail()
    page = await visitor.get(link)
    confirmed = await visitor.client.post(
        link.split("?")[0], data={"csrf": csrf_of(page.text), "token": hidden(page.text, "token")}
    )
    assert confirmed.status_code == 200
    task_list = await start_profile(visitor)
    await fill_profile(visitor, task_list)
    check = await visitor.get(f"{task_list}/check-answers")
    fields = {"csrf": hidden(check.text, "csrf"), "submit_key": hidden(check.text, "submit_key")}
    submitted = await visitor.client.post(f"{task_list}/submit", data={**fields, "declaration": "yes"})
    assert submitted.status_code == 303, submitted.text[:300]


def prepared(var: Path) -> settings_module.Settings:
    settings = settings_module.load(
        {
            "HAVEN_VAR_DIR": str(var),
            "HAVEN_RATE_PER_ADDRESS": "1000000",
            "HAVEN_RATE_PER_VISITOR": "1000000",
            "HAVEN_JOINS_PER_ADDRESS": "1000000",
        }
    )
    migrate(settings)
    return settings


async def run(
    settings: settings_module.Settings, journeys: int, profiler: cProfile.Profile
) -> tuple[float, float]:
    var = settings.var_dir
    app = create_app(settings)
    async with started(app):
        async with Visitor.of(app, settings.mail_dir or var / "mail") as warm:
            await journey(warm, 0)  # imports, caches and the first connections: not counted
        cpu, wall = time.process_time(), time.perf_counter()
        profiler.enable()
        for number in range(1, journeys + 1):
            async with Visitor.of(app, settings.mail_dir or var / "mail") as visitor:
                await journey(visitor, number)
        profiler.disable()
        return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_applicant", description=__doc__)
    parser.add_argument("--journeys", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/profile_applicant.txt"))
    args = parser.parse_args(argv)
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="haven-profile-") as tmp:
        cpu, wall = asyncio.run(run(prepared(Path(tmp)), args.journeys, profiler))
    defaults = settings_module.Settings()
    hasher = PasswordHasher(
        time_cost=defaults.argon2_time_cost, memory_cost=defaults.argon2_memory_kib, parallelism=1
    )
    started_at = time.process_time()
    for _ in range(10):
        hasher.hash(PASSWORD)
    hash_ms = (time.process_time() - started_at) * 100
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    profiled = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    text.write(
        f"{args.journeys} applicant journeys: process CPU {1000 * cpu / args.journeys:.1f} ms a journey "
        f"(wall {1000 * wall / args.journeys:.1f} ms), of which the event loop's thread as profiled "
        f"{1000 * profiled / args.journeys:.1f} ms; one argon2id hash alone "
        f"(m={defaults.argon2_memory_kib} KiB, t={defaults.argon2_time_cost}, p=1): {hash_ms:.1f} ms, "
        "one a journey (the sign-up; the confirmation link signs in).\n\n"
    )
    text.write("By own time:\n")
    stats.sort_stats("tottime").print_stats(25)
    text.write("Haven's functions by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(r"haven/", 30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = text.getvalue()
    for folder, name in (
        (sysconfig.get_paths()["purelib"], ""),
        (sysconfig.get_paths()["stdlib"], "<stdlib>"),
        (str(Path.cwd()), ""),
    ):  # no paths of this machine in the report
        report = report.replace(folder + "/", f"{name}/" if name else "")
    args.out.write_text(report)
    print(report[:3000])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
