"""The checker's speed: CRS scores per second in-process on one core, and ``/api/v1/crs`` requests per
second through the whole stack (Granian, the shield, FastAPI, pydantic, the rules), beside a CRS result
page answered from the query-page cache. Writes ``bench/results/checker.json``.

In-process: 2,000 varied, valid profiles (fixed seed), scored round after round for at least two
seconds, five rounds, median; the process is pinned to core 0. Through the stack: the server pinned
to core 0 and wrk to core 1, three runs of ten seconds, medians.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.content import cpu_seconds, wrk
from bench.servers import pinned
from haven.checker.schemas import CRS_EXAMPLE
from haven.rules import crs
from haven.rules.common import ABILITIES, Education, Language, LanguageLevels
from tests.server import start_server

RESULTS = Path(__file__).resolve().parent / "results" / "checker.json"
TARGET_SCORES_PER_SECOND = 100_000
TODAY = dt.date(2026, 11, 27)
PINNING = "server on core 0, wrk on core 1"
API_BODY = CRS_EXAMPLE
RESULT_PAGE = (
    "/en/immigrate/express-entry/crs-calculator/result?age=29&education=bachelor&cedu=none&t1=ielts_general"
    "&s1r=7.5&s1w=7&s1l=8&s1s=7&t2=none&cwork=0&fwork=3&partner=none"
)


def profiles(count: int, seed: int = 2016) -> list[crs.CrsProfile]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):

        def levels(language: Language) -> LanguageLevels:
            return LanguageLevels(language, {ability: rng.randint(0, 12) for ability in ABILITIES})

        first = levels(rng.choice(list(Language)))
        other = Language.FRENCH if first.language is Language.ENGLISH else Language.ENGLISH
        spouse = None
        if rng.random() < 0.4:
            spouse = crs.Spouse(
                accompanying=rng.random() < 0.8,
                canadian_citizen_or_pr=rng.random() < 0.1,
                education=rng.choice(list(Education)),
                language=levels(rng.choice(list(Language))) if rng.random() < 0.7 else None,
                canadian_work_years=rng.randint(0, 6),
            )
        made.append(
            crs.CrsProfile(
                age=rng.randint(17, 50),
                education=rng.choice(list(Education)),
                first_language=first,
                second_language=levels(other) if rng.random() < 0.3 else None,
                canadian_work_years=rng.randint(0, 6),
                foreign_work_years=rng.randint(0, 5),
                certificate_of_qualification=rng.random() < 0.1,
                provincial_nomination=rng.random() < 0.05,
                sibling_in_canada=rng.random() < 0.1,
                spouse=spouse,
            )
        )
    return made


def scores_per_second(rounds: int, minimum_seconds: float) -> list[float]:
    batch = profiles(2000)
    score = crs.score
    rates = []
    for _ in range(rounds):
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < minimum_seconds:
            for profile in batch:
                score(profile, as_of=TODAY)
            done += len(batch)
        rates.append(done / elapsed)
    return rates


def through_the_stack(seconds: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        script = Path(tmp) / "crs.lua"
        body = json.dumps(API_BODY).replace("\\", "\\\\").replace('"', '\\"')
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n'
        )
        env = {"HAVEN_WORKERS": "1", "HAVEN_LOG_LEVEL": "warning"}
        with start_server(Path(tmp) / "var", prefix=pinned(0), **env) as haven:
            scenarios = {
                "api_crs": (haven.base_url + "/api/v1/crs", ["-s", str(script)]),
                "crs_result_page": (haven.base_url + RESULT_PAGE, []),
            }
            for name, (url, extra) in scenarios.items():
                wrk(url, connections=64, seconds=2, headers=[], extra=extra)  # warm up
                samples = []
                for _ in range(runs):
                    before, started = cpu_seconds(haven.process.pid), time.monotonic()
                    sample = wrk(url, connections=64, seconds=seconds, headers=[], extra=extra)
                    sample["server_cpu"] = (cpu_seconds(haven.process.pid) - before) / (
                        time.monotonic() - started
                    )
                    samples.append(sample)
                rates = [sample["requests_per_second"] for sample in samples]
                results[name] = {
                    "requests_per_second_median": statistics.median(rates),
                    "requests_per_second_runs": rates,
                    "p99_ms_median": statistics.median(sample["p99_ms"] for sample in samples),
                    "non_2xx": sum(sample["non_2xx"] for sample in samples),
                    "server_cpu_median": statistics.median(sample["server_cpu"] for sample in samples),
                }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    affinity = os.sched_getaffinity(0)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    rates = scores_per_second(rounds=5, minimum_seconds=2.0)
    os.sched_setaffinity(0, affinity)
    stack = through_the_stack(args.seconds, args.runs)
    median = statistics.median(rates)
    report = {
        "benchmark": "checker: CRS scores in-process, and through the whole stack",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "in_process": {
            "method": "2,000 varied profiles, rounds of at least 2 s, 5 rounds, median; pinned to core 0",
            "scores_per_second_median": median,
            "scores_per_second_rounds": rates,
            "spread": (max(rates) - min(rates)) / median,
            "target": TARGET_SCORES_PER_SECOND,
            "meets_target": median >= TARGET_SCORES_PER_SECOND,
        },
        "through_the_stack": {
            "method": f"wrk -t1 -c64 -d{args.seconds}s, {args.runs} runs, medians; {PINNING}",
            **stack,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    api = stack["api_crs"]
    page = stack["crs_result_page"]
    print(f"CRS in-process: {median:,.0f} scores/s on one core (target ≥ {TARGET_SCORES_PER_SECOND:,})")
    print(f"POST /api/v1/crs: {api['requests_per_second_median']:,.0f} req/s, p99 {api['p99_ms_median']} ms")
    print(f"GET CRS result page (cached): {page['requests_per_second_median']:,.0f} req/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
