"""``python -m bench.overload`` (and ``make bench``): the headline experiment. The same crowd against
Haven with the shield on and with it off (the naive site, what fell over in 2016), at 0.5× to 50× of
the site's capacity.

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
- Goodput is journeys completed per second of the window, for all journeys and for applicants (the
  journey the shield gates: readers and checkers are served from the page cache, never queued).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.servers import RunningServer, pinned, start_server
from haven import settings as settings_module
from haven.surge.command import parse_mix, run_loop, surge
from haven.surge.journeys import Behaviour
from haven.surge.report import summarise
from haven.surge.run import Outcome, Plan
from haven.surge.shapes import constant

LEVELS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
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
    outcome, checked = run_loop(surge(plan, settings))
    cpu = group_cpu_seconds(server.process.pid) - cpu_before
    summary = summarise(outcome, checked)
    summary["server_cpu_seconds"] = round(cpu, 2)
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


def level_figures(summary: dict[str, Any], outcome: Outcome, settle: float) -> dict[str, Any]:
    """A level's figures; goodput counts completions from ``settle`` s to the end of the window
    (the steady state: the first journeys take that long to finish)."""
    window = float(summary["goodput"]["window_seconds"])
    span = max(window - settle, 1e-9)
    done = outcome.recorder.completed_at

    def per_second(kinds: list[str]) -> float:
        return round(sum(1 for k in kinds for at in done.get(k, []) if settle <= at < window) / span, 3)

    served = summary["latency_ms"]["served"]
    return {
        "offered_per_second": round(summary["arrivals"]["started"] / window, 2),
        "goodput": per_second(list(done)),
        "applicant_goodput": per_second(["applicant"]),
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
)  # fmt: skip


def overload(args: argparse.Namespace) -> dict[str, Any]:
    levels = [float(x) for x in args.levels.split(",")]
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="haven-overload-") as folder:
        root = Path(folder)
        capacity = measure_capacity(root, args)
        print(
            f"capacity: {capacity['arrivals_per_second']} arrivals/s "
            f"({capacity['cpu_seconds_per_arrival']} s CPU each)"
        )
        modes = [mode for mode in ("on", "off") if mode in args.modes.split(",")]
        if not modes:
            raise SystemExit("--modes: give on, off or on,off")
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
                    figures = level_figures(summary, outcome, args.settle)
                    runs[mode].setdefault(f"{level:g}", []).append(figures)
                    print(
                        f"shield {mode:3} {level:>4g}x: goodput {figures['goodput']}/s "
                        f"(applicants {figures['applicant_goodput']}/s), p99 {figures['served_p99_ms']} ms, "
                        f"timeouts {figures['timeouts']}, tau {figures['kendall_tau_distance']}, "
                        f"eta err {figures['eta_median_error']}, in range {figures['eta_within_range']}"
                    )
    table = {
        mode: {
            level: {key: spread([r[key] for r in repeats]) for key in SPREAD_KEYS}
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
        },
        "capacity": capacity,
        "summary": table,
        "runs": runs,
        "elapsed_seconds": round(time.time() - started, 1),
    }


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
        "--out", type=Path, default=Path("bench/results"), help="Folder for overload.json and plots."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    add_arguments(parser)
    return write_results(parser.parse_args(argv))


def write_results(args: argparse.Namespace) -> int:
    result = overload(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overload.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out)
    print(f"wrote {args.out / 'overload.json'} and {args.out / 'overload.png'}")
    return 0


def plot(result: dict[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode, style in (("on", "-o"), ("off", "--s")):
        rows = result["summary"].get(mode)
        if not rows:
            continue
        levels = sorted(rows, key=float)
        x = [float(level) for level in levels]
        for key, label in (("goodput", "all journeys"), ("applicant_goodput", "applicants")):
            y = [rows[level][key]["median"] or 0.0 for level in levels]
            low = [y[i] - (rows[level][key]["min"] or 0.0) for i, level in enumerate(levels)]
            high = [(rows[level][key]["max"] or 0.0) - y[i] for i, level in enumerate(levels)]
            left.errorbar(x, y, yerr=[low, high], fmt=style, capsize=3, label=f"shield {mode}: {label}")
        y = [max(rows[level]["served_p99_ms"]["median"] or 0.1, 0.1) for level in levels]
        right.plot(x, y, style, label=f"shield {mode}")
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel("offered load, × measured capacity")
        axis.legend(fontsize=8)
    left.set_ylabel("goodput, journeys completed per second")
    left.set_title("Goodput against offered load")
    right.set_yscale("log")
    right.set_ylabel("p99 of the site's answers, ms")
    right.set_title("p99 latency against offered load")
    fig.tight_layout()
    fig.savefig(folder / "overload.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
