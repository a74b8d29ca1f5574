"""Content pages through Haven against the same page served by nginx from ``haven export-static``.

Both servers run one worker pinned to core 0; wrk runs on core 1 (``taskset``), with the same
connections and duration, three runs each, alternating, medians reported. Two scenarios: the plain
page (what the target is set on) and the gzip variant browsers ask for. Writes
``bench/results/content.json``. Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from haven.content.export import export_static
from tests.conftest import make_settings
from tests.nginx import start_nginx
from tests.server import pinned, start_server

RESULTS = Path(__file__).resolve().parent / "results" / "content.json"
PAGE = "/en/immigrate/express-entry"
TARGET_RATIO = 0.6


def wrk(
    url: str, *, connections: int, seconds: int, headers: Sequence[str], extra: Sequence[str] = ()
) -> dict[str, float]:
    command = [
        *pinned(1),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        *[arg for header in headers for arg in ("-H", header)],
        *extra,
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests_per_second": requests,
        "p50_ms": _latency(output, "50%"),
        "p99_ms": _latency(output, "99%"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 0.0 if socket_errors is None else 1.0,
    }


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([0-9.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _session_processes(session_leader: int) -> list[Path]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session_leader:
                    found.append(entry)
            except (OSError, ProcessLookupError):
                continue
    return found


def cpu_seconds(session_leader: int) -> float:
    """User and system CPU time used so far by every process in the session."""
    ticks = 0
    for entry in _session_processes(session_leader):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def resident_bytes(session_leader: int) -> list[int]:
    """Resident memory of each process in the leader's session (Granian's main, then its workers)."""
    sizes = []
    for entry in sorted(_session_processes(session_leader), key=lambda entry: int(entry.name)):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)) * 1024)
    return sizes


def run(connections: int, seconds: int, runs: int) -> dict[str, Any]:
    scenarios = {"plain": [], "gzip": ["Accept-Encoding: gzip"]}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        root = Path(tmp)
        env = {"HAVEN_WORKERS": "1", "HAVEN_LOG_LEVEL": "warning"}
        with start_server(root / "var", prefix=pinned(0), **env) as haven:
            export_static(make_settings(root / "var", HAVEN_PORT=str(haven.port)), root / "site")
            with start_nginx(root / "nginx", root / "site", haven.port, prefix=pinned(0)) as nginx:
                targets = {"haven": haven.base_url + PAGE, "nginx": nginx.base_url + PAGE}
                leaders = {"haven": haven.process.pid, "nginx": nginx.process.pid}
                for name, headers in scenarios.items():
                    for url in targets.values():  # warm up both
                        wrk(url, connections=connections, seconds=2, headers=headers)
                    samples: dict[str, list[dict[str, float]]] = {"haven": [], "nginx": []}
                    for _ in range(runs):
                        for server, url in targets.items():
                            before, started = cpu_seconds(leaders[server]), time.monotonic()
                            sample = wrk(url, connections=connections, seconds=seconds, headers=headers)
                            elapsed = time.monotonic() - started
                            # A server below ~90 % of its core was not the bottleneck: wrk was.
                            sample["server_cpu"] = (cpu_seconds(leaders[server]) - before) / elapsed
                            samples[server].append(sample)
                            time.sleep(1)
                    results[name] = _summarise(samples)
                haven_rss = resident_bytes(haven.process.pid)
                results["haven_rss_bytes"] = sum(haven_rss)
                results["haven_rss_bytes_per_process"] = haven_rss
                results["nginx_rss_bytes"] = sum(resident_bytes(nginx.process.pid))
    return results


def _summarise(samples: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for server, runs in samples.items():
        rates = [run["requests_per_second"] for run in runs]
        summary[server] = {
            "requests_per_second_median": statistics.median(rates),
            "requests_per_second_runs": rates,
            "spread": (max(rates) - min(rates)) / statistics.median(rates),
            "p50_ms_median": statistics.median(run["p50_ms"] for run in runs),
            "p99_ms_median": statistics.median(run["p99_ms"] for run in runs),
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "server_cpu_median": statistics.median(run["server_cpu"] for run in runs),
        }
    summary["ratio_haven_to_nginx"] = (
        summary["haven"]["requests_per_second_median"] / summary["nginx"]["requests_per_second_median"]
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    pinned_ok = bool(pinned(0)) and (os.cpu_count() or 1) >= 2
    results = run(args.connections, args.seconds, args.runs)
    report = {
        "benchmark": "content page: Haven vs nginx serving the static export",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "page": PAGE,
        "method": (
            f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.runs} runs per server "
            "alternating, medians; one worker each; server on core 0, wrk on core 1"
        ),
        "pinned": pinned_ok,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "target_ratio": TARGET_RATIO,
        **results,
        "meets_target": results["plain"]["ratio_haven_to_nginx"] >= TARGET_RATIO,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    plain = results["plain"]
    print(
        f"plain: Haven {plain['haven']['requests_per_second_median']:.0f} req/s, "
        f"nginx {plain['nginx']['requests_per_second_median']:.0f} req/s, "
        f"ratio {plain['ratio_haven_to_nginx']:.2f} (target ≥ {TARGET_RATIO})"
    )
    gz = results["gzip"]
    print(
        f"gzip:  Haven {gz['haven']['requests_per_second_median']:.0f} req/s, "
        f"nginx {gz['nginx']['requests_per_second_median']:.0f} req/s, "
        f"ratio {gz['ratio_haven_to_nginx']:.2f}"
    )
    shown = RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS
    print(f"Haven resident memory: {results['haven_rss_bytes'] / 2**20:.1f} MiB; written to {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
