"""``python -m bench.cluster``: Haven on a cluster of network namespaces, a surge, three faults.

Run as root on Linux (namespaces, bridges and netem need it). Writes ``bench/results/cluster.json``
(or ``--out``) and a report folder (``--report``) with the surge's plots and the faults marked on
them. ``--quick`` plays a shorter surge (under five minutes on a 2-core machine, set-up included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster.cluster import HARNESS_CORES, Cluster, Layout, cpu_seconds
from bench.cluster.hosts import NetemUnavailable, Network
from bench.cluster.report import page, plot
from bench.cluster.run import Crowd, Scheduled, figures, surge, write_json
from haven import settings as settings_module
from haven.surge.command import durability
from haven.surge.report import summarise, write
from haven.surge.shapes import constant, election_night

RESULTS = Path(__file__).resolve().parents[1] / "results"
MIX = {"reader": 60.0, "checker": 25.0, "applicant": 15.0}


def schedule(quick: bool) -> tuple[Crowd, list[Scheduled]]:
    """The surge and its faults. Election night played fast: the peak runs from 40/220 to 100/220
    of the surge; the faults fall in the peak, far enough apart that their windows never overlap."""
    if quick:
        crowd = Crowd(shape=election_night(1.0, 20.0, speed=150.0), mix=MIX, think=1.5, drain=60.0)
        return crowd, [Scheduled("app", 18, back_after=8), Scheduled("redis", 34, back_after=8),
                       Scheduled("postgres", 48)]  # fmt: skip
    crowd = Crowd(shape=election_night(1.0, 25.0, speed=60.0), mix=MIX, think=3.0, drain=90.0)
    return crowd, [Scheduled("app", 45, back_after=15), Scheduled("redis", 75, back_after=20),
                   Scheduled("postgres", 105)]  # fmt: skip


async def _drained(cluster: Cluster, limit: float = 60.0) -> None:
    """Wait (up to ``limit``) until nobody is in line, so that a phase starts on an empty room."""
    import httpx

    deadline = time.time() + limit
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.time() < deadline:
            try:
                state = (await client.get(cluster.target + "/api/v1/waiting-room/state")).json()
                if int(state["waiting"]) == 0 and not state["queueing"]:
                    return
            except Exception:  # noqa: S110 - a host coming back; ask again
                pass
            await asyncio.sleep(1.0)


def compare(cluster: Cluster, quick: bool) -> dict[str, Any]:
    """The same constant crowd on all app hosts, then on one: journeys per second and server CPU
    seconds per journey (on two cores every host shares one core: overhead, not scale)."""
    duration = 20.0 if quick else 40.0
    crowd = Crowd(shape=constant(3.0, duration), mix=MIX, think=1.0, drain=30.0, seed=7)
    out: dict[str, Any] = {}
    for label in ("all_hosts", "one_host"):
        if label == "one_host":
            for host in cluster.apps[1:]:
                cluster.app_procs[host.name].proc.terminate()
            while any(cluster.server_states().get(h.name) == "UP" for h in cluster.apps[1:]):
                time.sleep(0.2)
        asyncio.run(_drained(cluster))
        before = cpu_seconds(list(cluster.network.hosts.values()))
        surged = asyncio.run(surge(cluster, crowd, [], f"{label}-{secrets.token_hex(3)}"))
        spent = cpu_seconds(list(cluster.network.hosts.values())) - before
        completed = sum(len(times) for times in surged.outcome.recorder.completed_at.values())
        out[label] = {
            "app_hosts": len(cluster.apps) if label == "all_hosts" else 1,
            "journeys_completed": completed,
            "journeys_per_second": round(completed / duration, 3),
            "server_cpu_seconds": round(spent, 2),
            "server_cpu_seconds_per_journey": round(spent / completed, 4) if completed else None,
            "timeouts": surged.outcome.recorder.timeouts,
        }
    every, one = out["all_hosts"], out["one_host"]
    out["throughput_ratio_all_to_one"] = (
        round(every["journeys_per_second"] / one["journeys_per_second"], 3)
        if one["journeys_per_second"]
        else None
    )
    out["cpu_per_journey_ratio_all_to_one"] = (
        round(every["server_cpu_seconds_per_journey"] / one["server_cpu_seconds_per_journey"], 3)
        if every["server_cpu_seconds_per_journey"] and one["server_cpu_seconds_per_journey"]
        else None
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A shorter surge (under five minutes).")
    parser.add_argument("--out", type=Path, help="The figures (default: bench/results/cluster[-quick].json).")
    parser.add_argument("--report", type=Path, help="The report folder (default: beside --out).")
    parser.add_argument("--no-compare", action="store_true", help="Skip the three-hosts-against-one run.")
    args = parser.parse_args(argv)
    if sys.platform != "linux" or os.geteuid() != 0:
        print("bench.cluster: run as root on Linux (it builds network namespaces)", file=sys.stderr)
        return 2
    out = args.out or RESULTS / ("cluster-quick.json" if args.quick else "cluster.json")
    report = args.report or out.with_suffix("")
    os.sched_setaffinity(0, {int(core) for core in HARNESS_CORES.split(",")})
    layout, netem = Layout(), "on"
    try:  # the links' delay needs the kernel's netem, which some kernels are built without
        with Network(layout.prefix, layout.subnet, layout.delay_ms):
            pass
    except NetemUnavailable as error:
        print(f"bench.cluster: {error}; running without a delay between hosts", file=sys.stderr)
        layout, netem = replace(layout, delay_ms=0.0), "not in this kernel: no delay between hosts"
    crowd, faults = schedule(args.quick)
    started = time.time()
    with (
        tempfile.TemporaryDirectory(prefix="haven-cluster-") as work,
        Network(layout.prefix, layout.subnet, layout.delay_ms) as network,
    ):
        Path(work).chmod(0o711)  # PostgreSQL and PgBouncer run as their own user and must reach it
        cluster = Cluster(network, layout, Path(work))
        print(
            f"bench.cluster: building {layout.app_hosts} app hosts, the load balancer, Redis and PostgreSQL"
        )
        cluster.start()
        print(f"bench.cluster: up in {time.time() - started:.0f} s; surge and faults on {cluster.target}")
        surged = asyncio.run(surge(cluster, crowd, faults, f"faults-{secrets.token_hex(3)}"))
        checked = asyncio.run(durability(check_settings(cluster, Path(work)), surged.outcome))
        summary = summarise(surged.outcome, checked)
        surge_page = write(summary, report / "surge", surged.outcome.recorder.queue_waits())
        result = figures(surged, summary, crowd.timeout)
        if not args.no_compare:
            print("bench.cluster: the same crowd on every app host, then on one")
            result["throughput"] = compare(cluster, args.quick)
    result = {
        "quick": args.quick,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "took_seconds": round(time.time() - started, 1),
        "layout": {**vars(layout), "quorum": layout.quorum, "netem": netem},
        "surge": {"shape": summary["shape"], "mix": MIX, "arrivals": summary["arrivals"]},
        **result,
        "report": str(report.name),
    }
    plot(summary, result, report / "cluster.png", surged.outcome.recorder.timed_out)
    (report / "index.html").write_text(
        page(result, str(surge_page.relative_to(report)), "cluster.png"), encoding="utf-8"
    )
    write_json(out, result)
    print(digest(result))
    print(f"bench.cluster: figures in {out}, report in {report / 'index.html'}")
    return 0


def check_settings(cluster: Cluster, work: Path) -> settings_module.Settings:
    """Settings that reach the cluster's database directly, for the durability check."""
    return settings_module.load(
        {
            "HAVEN_DATABASE_URL": cluster.direct_url,
            "HAVEN_VAR_DIR": str(work / "var" / "check"),
            "HAVEN_SECRET_KEY": cluster.secret,
            "HAVEN_DATA_KEY": cluster.app_env(cluster.apps[0])["HAVEN_DATA_KEY"],
        }
    )


def digest(result: dict[str, Any]) -> str:
    lines = [
        f"  {f['kind']:<9} at {f['at_seconds']:>6} s: recovered in {f['recovery_seconds']} s "
        f"(target {f['target_seconds']} s{'' if f['met'] else ', MISSED'})"
        for f in result["faults"]
    ]
    lines.append(
        f"  acknowledged {result['acknowledged']}, lost {result['lost']}, duplicated {result['duplicated']}; "
        f"timeouts {result['timeouts']} ({result['timeouts_outside_recovery']} outside the windows); "
        f"Kendall tau {result['kendall_tau']}; serving went back: {result['serving_went_back']}"
    )
    if "throughput" in result:
        t = result["throughput"]
        lines.append(
            f"  all hosts / one host: throughput {t['throughput_ratio_all_to_one']}×, "
            f"CPU per journey {t['cpu_per_journey_ratio_all_to_one']}×"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
