"""``python -m bench.overload`` (and ``make bench``): the headline experiment. The same crowd against
Haven with the shield on and with it off (the naive site, what fell over in 2016), at 0.5× to 100× of
the site's capacity, reported for each journey class (reader, checker, applicant).

Method:

- Haven runs as one worker pinned to core 0 (SQLite, the embedded default; per-client rate limits
  lifted, since every simulated visitor comes from 127.0.0.1); the generator runs on core 1.
- **Capacity** is measured, not assumed: a light constant load of the mix (shield off) gives the
  server CPU seconds one arrival costs; capacity = one core ÷ that cost, in arrivals per second.
- Each load level is a constant arrival rate, the multiple of capacity, for the window; goodput is
  counted from ``settle`` seconds on (the steady state), and journeys may finish for ``drain``
  seconds after the window. Every level runs with
  the shield on and off, on a fresh server each time, and the whole ladder is repeated; the report
  gives the median and the spread (min–max) of the repeats.
- Goodput is journeys completed per second of the window, for all journeys and for each class; the
  p99 of *admitted* requests (answered 2xx or 3xx by the site, not by the waiting room) and the
  timeouts are given per class too.
- **CPU per journey**: first, each class alone, shield on, at a light constant load (0.5 arrivals a
  second for 60 s): server CPU seconds, less the idle server's, ÷ journeys completed
  (``class_cpu_ms_per_journey``). Then, at each level, server CPU ÷ journeys completed overall.
- ``targets``: the issue's ratios worked out from the medians (goodput at 10×, 50×, 100× ÷ at 1×,
  p99 of admitted requests ÷ at 0.5×, timeouts, lost or duplicated submissions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from hdrh.histogram import HdrHistogram

from bench.servers import RunningServer, pinned, start_server
from haven import settings as settings_module
from haven.surge import run as run_module
from haven.surge.command import parse_mix, run_loop, surge
from haven.surge.journeys import Behaviour
from haven.surge.record import LOWEST_US, Recorder, histogram, percentiles
from haven.surge.report import summarise
from haven.surge.run import Outcome, Plan
from haven.surge.shapes import constant

LEVELS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
CLASSES = ("reader", "checker", "applicant")
TARGET_GOODPUT_RATIO = 0.9  # of the goodput at 1×, at 10×, 50× and 100×
TARGET_LEVELS = (10.0, 50.0, 100.0)
TARGET_P99_RATIO = 2.0  # of the p99 of admitted requests at 0.5×, at every level
TARGET_CPU_RATIO = 0.5  # of the CPU per applicant journey of the baseline, when one is given
QUICK = {
    "levels": "1,10",
    "repeats": 1,
    "duration": 30.0,
    "settle": 10.0,
    "drain": 10.0,
    "probe_seconds": 20.0,
    "class_probe_seconds": 20.0,
    "class_probe_idle": 5.0,
}
UNLIMITED = {
    "HAVEN_RATE_PER_ADDRESS": "1000000",
    "HAVEN_RATE_PER_VISITOR": "1000000",
    "HAVEN_JOINS_PER_ADDRESS": "1000000",
}
MIX = "reader=50,checker=20,applicant=30"


def group_cpu_seconds(leader: int) -> float:
    """CPU seconds used so far by every process in the server's process group (Granian and its
    worker), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


@contextmanager
def haven(root: Path, name: str, shield: bool) -> Iterator[tuple[RunningServer, Path]]:
    var = root / name
    env = {
        "HAVEN_WORKERS": "1",
        "HAVEN_LOG_LEVEL": "warning",
        "HAVEN_SHIELD": "true" if shield else "false",
        **UNLIMITED,
    }
    with start_server(var, prefix=pinned(0), **env) as server:
        yield server, var


@dataclass
class ClassRecorder(Recorder):
    """The surge's recorder, with what the benchmark reports per journey class besides: the latency
    of admitted requests (answered below 400 by the site, not by the waiting room) and timeouts."""

    admitted: HdrHistogram = field(default_factory=histogram)
    admitted_by_class: dict[str, HdrHistogram] = field(default_factory=lambda: defaultdict(histogram))
    timeouts_by_class: Counter[str] = field(default_factory=Counter)

    def answer(
        self, step: str, journey: str, status: int, intended: float, done: float, *, room: bool = False
    ) -> None:
        super().answer(step, journey, status, intended, done, room=room)
        if not room and status < 400:
            latency = max(LOWEST_US, int((done - intended) * 1e6))
            self.admitted.record_value(latency)
            self.admitted_by_class[journey].record_value(latency)

    def timeout(self, step: str, journey: str, sent: float, at: float) -> None:
        super().timeout(step, journey, sent, at)
        self.timeouts_by_class[journey] += 1


def one_run(
    server: RunningServer, var: Path, shape: Any, args: argparse.Namespace, seed: int
) -> tuple[dict[str, Any], Outcome]:
    plan = Plan(
        target=server.base_url,
        shape=shape,
        mix=parse_mix(args.mix),
        behaviour=Behaviour(think=args.think, patience=args.patience, timeout=args.timeout),
        seed=seed,
        slo=args.slo,
        mail_dir=var / "mail",
        drain=args.drain,
    )
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var)})
    cpu_before = group_cpu_seconds(server.process.pid)
    with mock.patch.object(run_module, "Recorder", ClassRecorder):
        outcome, checked = run_loop(surge(plan, settings))
    cpu = group_cpu_seconds(server.process.pid) - cpu_before
    summary = summarise(outcome, checked)
    summary["server_cpu_seconds"] = round(cpu, 2)
    recorder = outcome.recorder
    if isinstance(recorder, ClassRecorder):
        summary["latency_ms"]["admitted"] = percentiles(recorder.admitted)
        summary["latency_ms"]["admitted_by_journey"] = {
            kind: percentiles(h) for kind, h in sorted(recorder.admitted_by_class.items())
        }
        summary["requests"]["timeouts_by_journey"] = dict(sorted(recorder.timeouts_by_class.items()))
    return summary, outcome


def measure_capacity(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Server CPU per arrival of the mix under a light load, with the shield off."""
    rate, seconds = args.probe_rate, args.probe_seconds
    with haven(root, "capacity", shield=False) as (server, var):
        summary, _ = one_run(server, var, constant(rate, seconds), args, seed=1)
    arrivals = summary["arrivals"]["started"]
    per_arrival = summary["server_cpu_seconds"] / max(1, arrivals)
    return {
        "probe_rate": rate,
        "probe_seconds": seconds,
        "arrivals": arrivals,
        "completed": summary["goodput"]["journeys_completed"],
        "server_cpu_seconds": summary["server_cpu_seconds"],
        "cpu_seconds_per_arrival": round(per_arrival, 4),
        "arrivals_per_second": round(1.0 / per_arrival, 3),
    }


def idle_cpu_per_second(server: RunningServer, seconds: float) -> float:
    """The idle server's CPU seconds per second (its timers and housekeeping)."""
    if seconds <= 0:
        return 0.0
    before = group_cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (group_cpu_seconds(server.process.pid) - before) / seconds


def measure_class_cpu(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Server CPU per journey of each class alone, shield on, under a light constant load; the idle
    server's CPU over the same wall time is taken off."""
    found: dict[str, Any] = {}
    if args.class_probe_seconds <= 0:
        return found
    for kind in parse_mix(args.mix):
        # Every journey started is given time to finish: the CPU is divided by those completed.
        alone = argparse.Namespace(**{**vars(args), "mix": f"{kind}=100", "drain": args.class_probe_drain})
        with haven(root, f"class-{kind}", shield=True) as (server, var):
            time.sleep(2)
            idle = idle_cpu_per_second(server, args.class_probe_idle)
            started = time.monotonic()
            summary, _ = one_run(
                server, var, constant(args.class_probe_rate, args.class_probe_seconds), alone, seed=7
            )
            wall = time.monotonic() - started
        done = int(summary["goodput"]["journeys_completed"])
        cpu = max(0.0, float(summary["server_cpu_seconds"]) - idle * wall)
        found[kind] = {
            "started": summary["arrivals"]["started"],
            "journeys_completed": done,
            "server_cpu_seconds": summary["server_cpu_seconds"],
            "idle_cpu_per_second": round(idle, 4),
            "wall_seconds": round(wall, 1),
            "cpu_ms_per_journey": round(1000 * cpu / done, 2) if done else None,
        }
        print(
            f"class {kind}: {found[kind]['cpu_ms_per_journey']} ms of server CPU per journey "
            f"({done} of {summary['arrivals']['started']} completed)",
            flush=True,
        )
    return found


def level_figures(
    summary: dict[str, Any], outcome: Outcome, settle: float, classes: Sequence[str] = CLASSES
) -> dict[str, Any]:
    """A level's figures; goodput counts completions from ``settle`` s to the end of the window
    (the steady state: the first journeys take that long to finish)."""
    window = float(summary["goodput"]["window_seconds"])
    span = max(window - settle, 1e-9)
    done = outcome.recorder.completed_at

    def per_second(kinds: list[str]) -> float:
        return round(sum(1 for k in kinds for at in done.get(k, []) if settle <= at < window) / span, 3)

    served = summary["latency_ms"]["served"]
    admitted = summary["latency_ms"].get("admitted", {})
    admitted_by = summary["latency_ms"].get("admitted_by_journey", {})
    timeouts_by = summary["requests"].get("timeouts_by_journey", {})
    completed = int(summary["goodput"]["journeys_completed"])
    durability = summary["durability"]
    per_class: dict[str, Any] = {}
    for kind in classes:
        per_class[f"{kind}_goodput"] = per_second([kind])
        per_class[f"{kind}_admitted_p99_ms"] = admitted_by.get(kind, {}).get("p99")
        per_class[f"{kind}_timeouts"] = int(timeouts_by.get(kind, 0))
        per_class[f"{kind}_started"] = int(summary["arrivals"]["by_journey"].get(kind, 0))
    return {
        "offered_per_second": round(summary["arrivals"]["started"] / window, 2),
        "goodput": per_second(list(done)),
        "applicant_goodput": per_second(["applicant"]),
        **per_class,
        "admitted_p99_ms": admitted.get("p99"),
        "journeys_completed": completed,
        "cpu_ms_per_journey": round(1000 * summary["server_cpu_seconds"] / completed, 2)
        if completed
        else None,
        "lost_submissions": len(durability["missing"]) if durability else 0,
        "duplicated_submissions": len(durability["duplicated"]) + len(durability["confirmed_twice"])
        if durability
        else 0,
        "journeys": summary["journeys"],
        "served_p50_ms": served["p50"],
        "served_p99_ms": served["p99"],
        "applicant_p99_ms": summary["latency_ms"]["by_journey"].get("applicant", {}).get("p99"),
        "within_slo_per_second": summary["goodput"]["answers_within_slo_per_second"],
        "timeouts": summary["requests"]["timeouts"],
        "connection_errors": summary["requests"]["connection_errors"],
        "statuses": summary["requests"]["statuses"],
        "queued": summary["queue"]["queued"],
        "admitted_from_queue": summary["queue"]["admitted_from_queue"],
        "kendall_tau_distance": summary["queue"]["kendall_tau_distance"],
        "kendall_tau_distance_entry": summary["queue"]["kendall_tau_distance_entry"],
        "eta_median_error": summary["eta"]["median_error"],
        "eta_within_range": summary["eta"]["within_range"],
        "durability": summary["durability"],
        "generator_flags": summary["generator"]["flags"],
        "server_cpu_seconds": summary["server_cpu_seconds"],
    }


def spread(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(present), 4), "min": min(present), "max": max(present)}


SPREAD_KEYS = (
    "goodput", "applicant_goodput", "served_p99_ms", "applicant_p99_ms", "timeouts",
    "kendall_tau_distance", "kendall_tau_distance_entry", "eta_median_error", "eta_within_range",
    "offered_per_second",
    "admitted_p99_ms", "cpu_ms_per_journey", "journeys_completed", "server_cpu_seconds",
    "lost_submissions", "duplicated_submissions",
)  # fmt: skip


def spread_keys(classes: Sequence[str]) -> list[str]:
    per_class = [f"{kind}_{key}" for kind in classes for key in ("goodput", "admitted_p99_ms", "timeouts")]
    return [*SPREAD_KEYS, *(key for key in per_class if key not in SPREAD_KEYS)]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def median_at(rows: dict[str, Any], level: float, key: str) -> float | None:
    value = rows.get(f"{level:g}", {}).get(key, {}).get("median")
    return None if value is None else float(value)


def targets(
    summary: dict[str, Any],
    runs: dict[str, Any],
    class_cpu: dict[str, Any] | None = None,
    baseline_cpu: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The issue's targets, from the medians of each mode (only the shield's are meant to be met):
    goodput at 10×, 50× and 100× ÷ at 1× (applicants and all journeys), the p99 of admitted
    requests at each level ÷ at 0.5×, timeouts, lost and duplicated submissions over every run, and
    the CPU per applicant journey beside the baseline's when one is given."""
    found: dict[str, Any] = {}
    for mode, rows in summary.items():
        levels = sorted((float(level) for level in rows), key=float)
        applicant = {
            f"{level:g}": ratio(
                median_at(rows, level, "applicant_goodput"), median_at(rows, 1.0, "applicant_goodput")
            )
            for level in TARGET_LEVELS
            if f"{level:g}" in rows
        }
        overall = {
            f"{level:g}": ratio(median_at(rows, level, "goodput"), median_at(rows, 1.0, "goodput"))
            for level in TARGET_LEVELS
            if f"{level:g}" in rows
        }
        p99 = {
            f"{level:g}": ratio(
                median_at(rows, level, "admitted_p99_ms"), median_at(rows, 0.5, "admitted_p99_ms")
            )
            for level in levels
        }
        every_run = [run for repeats in runs.get(mode, {}).values() for run in repeats]
        timeouts = {f"{level:g}": median_at(rows, level, "timeouts") for level in levels}
        lost = sum(int(run.get("lost_submissions", 0)) for run in every_run)
        duplicated = sum(int(run.get("duplicated_submissions", 0)) for run in every_run)
        total_timeouts = sum(int(run.get("timeouts", 0)) for run in every_run)
        checks = {
            "applicant_goodput": _all_at_least(applicant, TARGET_GOODPUT_RATIO),
            "goodput": _all_at_least(overall, TARGET_GOODPUT_RATIO),
            "admitted_p99": _all_at_most(p99, TARGET_P99_RATIO),
            "zero_timeouts": total_timeouts == 0 if every_run else None,
            "nothing_lost_or_duplicated": lost == 0 and duplicated == 0 if every_run else None,
        }
        found[mode] = {
            "applicant_goodput_vs_1x": applicant,
            "goodput_vs_1x": overall,
            "admitted_p99_vs_0.5x": p99,
            "timeouts_median": timeouts,
            "timeouts_all_runs": total_timeouts,
            "lost_submissions": lost,
            "duplicated_submissions": duplicated,
            "met": checks,
        }
    if class_cpu:
        cpu: dict[str, Any] = {kind: figures.get("cpu_ms_per_journey") for kind, figures in class_cpu.items()}
        block: dict[str, Any] = {"cpu_ms_per_journey": cpu}
        if baseline_cpu:
            before = {kind: _cpu_of(figures) for kind, figures in baseline_cpu.items()}
            block["baseline_cpu_ms_per_journey"] = before
            block["vs_baseline"] = {kind: ratio(cpu.get(kind), before.get(kind)) for kind in cpu}
            applicant_ratio = block["vs_baseline"].get("applicant")
            block["met"] = None if applicant_ratio is None else applicant_ratio <= TARGET_CPU_RATIO
        found["class_cpu"] = block
    found["thresholds"] = {
        "goodput_vs_1x_at_least": TARGET_GOODPUT_RATIO,
        "at_levels": list(TARGET_LEVELS),
        "admitted_p99_vs_0.5x_at_most": TARGET_P99_RATIO,
        "applicant_cpu_vs_baseline_at_most": TARGET_CPU_RATIO,
    }
    return found


def _cpu_of(figures: Any) -> float | None:
    if isinstance(figures, dict):
        value = figures.get("cpu_ms_per_journey")
        return None if value is None else float(value)
    return None if figures is None else float(figures)


def _all_at_least(ratios: dict[str, float | None], floor: float) -> bool | None:
    present = [value for value in ratios.values() if value is not None]
    return all(value >= floor for value in present) if present else None


def _all_at_most(ratios: dict[str, float | None], ceiling: float) -> bool | None:
    present = [value for value in ratios.values() if value is not None]
    return all(value <= ceiling for value in present) if present else None


def load_baseline(path: Path | None) -> dict[str, Any] | None:
    """CPU per journey of each class from an earlier run: an ``overload.json`` (its
    ``class_cpu_ms_per_journey``) or a plain ``{class: {"cpu_ms_per_journey": …}}``."""
    if path is None:
        return None
    data = json.loads(path.read_text())
    found = data.get("class_cpu_ms_per_journey", data)
    return found if isinstance(found, dict) else None


def overload(args: argparse.Namespace) -> dict[str, Any]:
    levels = [float(x) for x in args.levels.split(",")]
    classes = list(parse_mix(args.mix))
    modes = [mode for mode in ("on", "off") if mode in args.modes.split(",")]
    if not modes:
        raise SystemExit("--modes: give on, off or on,off")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="haven-overload-") as folder:
        root = Path(folder)
        capacity = measure_capacity(root, args)
        print(
            f"capacity: {capacity['arrivals_per_second']} arrivals/s "
            f"({capacity['cpu_seconds_per_arrival']} s CPU each)",
            flush=True,
        )
        class_cpu = measure_class_cpu(root, args)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {mode: {} for mode in modes}
        for repeat in range(args.repeats):
            for level in levels:
                rate = level * capacity["arrivals_per_second"]
                for mode in modes:
                    name = f"{mode}-{level:g}-{repeat}"
                    with haven(root, name, shield=mode == "on") as (server, var):
                        summary, outcome = one_run(
                            server,
                            var,
                            constant(rate, args.duration),
                            args,
                            seed=1000 * repeat + int(level * 10),
                        )
                    figures = level_figures(summary, outcome, args.settle, classes)
                    runs[mode].setdefault(f"{level:g}", []).append(figures)
                    print(describe_level(mode, level, figures, classes), flush=True)
    keys = spread_keys(classes)
    table = {
        mode: {
            level: {key: spread([r.get(key) for r in repeats]) for key in keys}
            for level, repeats in by_level.items()
        }
        for mode, by_level in runs.items()
    }
    return {
        "what": "Haven with the shield on and off under the same crowd, at multiples of measured capacity",
        "machine": {
            "python": platform.python_version(),
            "system": platform.platform(),
            "cpus": os.cpu_count(),
            "pinned": bool(pinned(0)),
        },
        "method": {
            "server": "haven serve, 1 worker, SQLite, core 0; rate limits lifted",
            "generator": "haven surge (open model), core 1",
            "mix": args.mix,
            "classes": classes,
            "think_seconds": args.think,
            "patience_seconds": args.patience,
            "timeout_seconds": args.timeout,
            "slo_seconds": args.slo,
            "window_seconds": args.duration,
            "goodput_from_second": args.settle,
            "drain_seconds": args.drain,
            "repeats": args.repeats,
            "levels": levels,
            "modes": modes,
            "admitted": "answered 2xx or 3xx by the site (waiting-room pages and status checks apart)",
            "class_probe": {
                "shield": "on",
                "rate": args.class_probe_rate,
                "seconds": args.class_probe_seconds,
                "idle_seconds": args.class_probe_idle,
                "drain_seconds": args.class_probe_drain,
            },
        },
        "capacity": capacity,
        "class_cpu": class_cpu,
        "class_cpu_ms_per_journey": {kind: f["cpu_ms_per_journey"] for kind, f in class_cpu.items()},
        "summary": table,
        "targets": targets(table, runs, class_cpu, load_baseline(args.baseline)),
        "runs": runs,
        "elapsed_seconds": round(time.time() - started, 1),
    }


def describe_level(mode: str, level: float, figures: dict[str, Any], classes: Sequence[str]) -> str:
    per_class = ", ".join(
        f"{kind} {figures[f'{kind}_goodput']}/s p99 {figures[f'{kind}_admitted_p99_ms']} ms"
        for kind in classes
    )
    return (
        f"shield {mode:3} {level:>4g}x: goodput {figures['goodput']}/s ({per_class}); "
        f"admitted p99 {figures['admitted_p99_ms']} ms, served p99 {figures['served_p99_ms']} ms, "
        f"timeouts {figures['timeouts']}, CPU {figures['cpu_ms_per_journey']} ms/journey, "
        f"lost {figures['lost_submissions']}, doubled {figures['duplicated_submissions']}, "
        f"tau {figures['kendall_tau_distance']}, eta err {figures['eta_median_error']}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", default=",".join(f"{x:g}" for x in LEVELS), help="Multiples of capacity.")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default="on,off", help="Shield on, off, or both (on,off).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of arrivals per level.")
    parser.add_argument("--settle", type=float, default=25.0, help="Goodput counts from this second on.")
    parser.add_argument("--drain", type=float, default=20.0)
    parser.add_argument("--mix", default=MIX)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--patience", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--slo", type=float, default=1.0)
    parser.add_argument("--probe-rate", type=float, default=0.5, help="Arrivals/s of the capacity probe.")
    parser.add_argument("--probe-seconds", type=float, default=40.0)
    parser.add_argument(
        "--class-probe-rate", type=float, default=0.5, help="Arrivals/s of each class's CPU probe."
    )
    parser.add_argument(
        "--class-probe-seconds", type=float, default=60.0, help="Window of each class's probe (0: none)."
    )
    parser.add_argument(
        "--class-probe-drain",
        type=float,
        default=90.0,
        help="Seconds the probe's journeys may take to finish.",
    )
    parser.add_argument(
        "--class-probe-idle", type=float, default=10.0, help="Seconds of the idle server's CPU measured."
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="An earlier overload.json (or {class: {cpu_ms_per_journey}}) to set the CPU per journey beside.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Levels 1 and 10, one repeat, short windows (options given win)."
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="Folder for overload.json and plots."
    )


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options; ``--quick`` changes the defaults only, so that options given beside it win."""
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    add_arguments(parser)
    if "--quick" in (argv if argv is not None else sys.argv[1:]):
        parser.set_defaults(**QUICK)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return write_results(parse_arguments(argv))


def write_results(args: argparse.Namespace) -> int:
    result = overload(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overload.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out)
    print(f"wrote {args.out / 'overload.json'} and {args.out / 'overload.png'}")
    return 0


COLOURS = {"reader": "#1f77b4", "checker": "#ff7f0e", "applicant": "#2ca02c", "all": "#444444"}
STYLES = {"on": "-o", "off": "--s"}


def plot(result: dict[str, Any], folder: Path) -> Path:
    """overload.png: goodput against offered load for all journeys and for each class (shield on
    solid, off dashed, the spread of the repeats as error bars), the p99 of admitted requests per
    class, and the server CPU per journey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    classes = list(result["method"].get("classes") or CLASSES)
    panels = [("all", "goodput", "All journeys")] + [
        (k, f"{k}_goodput", f"{k.capitalize()}s") for k in classes
    ]
    columns = 3
    count = len(panels) + 2
    rows_n = -(-count // columns)
    fig, grid = plt.subplots(rows_n, columns, figsize=(5 * columns, 4 * rows_n), squeeze=False)
    axes = [axis for row in grid for axis in row]
    for axis in axes[count:]:
        axis.set_visible(False)
    for axis, (colour, key, title) in zip(axes, panels, strict=False):
        for mode, style in STYLES.items():
            levels, x, y, low, high = _series(result, mode, key)
            if levels:
                axis.errorbar(
                    x,
                    y,
                    yerr=[low, high],
                    fmt=style,
                    capsize=3,
                    color=COLOURS.get(colour),
                    label=f"shield {mode}",
                )
        axis.set_title(f"Goodput: {title.lower()}" if colour == "all" else f"Goodput: {title}")
        axis.set_ylabel("journeys completed per second")
    p99, cpu = axes[len(panels)], axes[len(panels) + 1]
    for kind in ["all", *classes]:
        key = "admitted_p99_ms" if kind == "all" else f"{kind}_admitted_p99_ms"
        for mode, style in STYLES.items():
            levels, x, y, _, _ = _series(result, mode, key)
            if levels:
                label = f"{'all' if kind == 'all' else kind}, shield {mode}"
                p99.plot(x, [max(v, 0.1) for v in y], style, color=COLOURS.get(kind), label=label)
    p99.set_yscale("log")
    p99.set_title("p99 of admitted requests")
    p99.set_ylabel("ms")
    for mode, style in STYLES.items():
        levels, x, y, low, high = _series(result, mode, "cpu_ms_per_journey")
        if levels:
            cpu.errorbar(
                x, y, yerr=[low, high], fmt=style, capsize=3, color=COLOURS["all"], label=f"shield {mode}"
            )
    for kind, value in (result.get("class_cpu_ms_per_journey") or {}).items():
        if value:
            cpu.axhline(value, color=COLOURS.get(kind), linestyle=":", label=f"{kind} alone, light load")
    cpu.set_yscale("log")
    cpu.set_title("Server CPU per journey completed")
    cpu.set_ylabel("ms")
    ticks = sorted({float(level) for rows in result["summary"].values() for level in rows})
    for axis in axes[:count]:
        axis.set_xscale("log")
        axis.set_xticks(ticks, [f"{tick:g}×" for tick in ticks])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("offered load, × measured capacity")
        axis.legend(fontsize=7)
    fig.tight_layout()
    path = folder / "overload.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _series(
    result: dict[str, Any], mode: str, key: str
) -> tuple[list[str], list[float], list[float], list[float], list[float]]:
    """Levels, x, the medians and their distances to the min and max, where the key has a value."""
    rows = result["summary"].get(mode) or {}
    levels = [
        level for level in sorted(rows, key=float) if rows[level].get(key, {}).get("median") is not None
    ]
    y = [float(rows[level][key]["median"]) for level in levels]
    low = [max(0.0, y[i] - float(rows[level][key]["min"])) for i, level in enumerate(levels)]
    high = [max(0.0, float(rows[level][key]["max"]) - y[i]) for i, level in enumerate(levels)]
    return levels, [float(level) for level in levels], y, low, high


if __name__ == "__main__":
    raise SystemExit(main())
