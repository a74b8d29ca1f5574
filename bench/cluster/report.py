"""The cluster run's report: the surge's own report (its plots and tables), and a page of the
cluster's figures with a plot of the surge second by second, each fault's recovery window marked."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

COLOURS = {"app": "#d4351c", "redis": "#f47738", "postgres": "#1d70b8"}
LABELS = {"app": "app host killed", "redis": "Redis primary killed", "postgres": "PostgreSQL restarted"}


def plot(
    summary: dict[str, Any], figures: dict[str, Any], path: Path, timed_out: list[tuple[float, float]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = summary["series"]
    t = [row["t"] for row in series]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    top.plot(t, [row["arrivals"] for row in series], label="arrivals /s", color="#505a5f")
    top.plot(t, [row["answered"] for row in series], label="answers /s", color="#00703c")
    top.plot(t, [row["within_slo"] for row in series], label="answers within the SLO /s", color="#85994b")
    top.plot(t, [row["admissions"] for row in series], label="let in from the line /s", color="#4c2c92")
    top.set_ylabel("per second")
    bottom.plot(t, [row["waiting"] for row in series], label="people in line", color="#4c2c92")
    bottom.set_ylabel("people in line")
    ends = [end for _, end in timed_out]
    if ends:
        twin = bottom.twinx()
        twin.hist(ends, bins=max(1, int(max(t, default=1))), color="#d4351c", alpha=0.6, label="timeouts")
        twin.set_ylabel("timeouts (when given up)")
    for axis in (top, bottom):
        for fault in figures["faults"]:
            start, length = fault["at_seconds"], max(fault["recovery_seconds"], 0.3)
            colour = COLOURS.get(fault["kind"], "#000000")
            axis.axvspan(start, start + length, color=colour, alpha=0.25)
            axis.axvline(start, color=colour, linewidth=1)
        axis.grid(alpha=0.3)
    for fault in figures["faults"]:
        top.annotate(
            LABELS.get(fault["kind"], fault["kind"]),
            (fault["at_seconds"], top.get_ylim()[1] * 0.98),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=COLOURS.get(fault["kind"], "#000000"),
        )
    top.legend(loc="upper right", fontsize=8)
    bottom.set_xlabel("seconds into the surge (shaded: each fault until it was recovered from)")
    fig.suptitle("The surge on the cluster, with its faults")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def page(figures: dict[str, Any], surge_report: str, picture: str) -> str:
    rows = [
        ("Acknowledged submissions", figures["acknowledged"]),
        ("Lost / duplicated", f"{figures['lost']} / {figures['duplicated']}"),
        (
            "Timeouts (outside the recovery windows)",
            f"{figures['timeouts']} ({figures['timeouts_outside_recovery']})",
        ),
        (
            "Connection errors (outside the recovery windows)",
            f"{figures['connection_errors']} ({figures['connection_errors_outside_recovery']})",
        ),
        ("Kendall tau distance, ticket order vs arrival", figures["kendall_tau"]),
        ("… around the Redis failover", figures["kendall_tau_around_redis_failover"]),
        ("Serving number went back (any app host)", figures["serving_went_back"]),
        ("Serving number went back (through the load balancer)", figures["serving_through_lb_went_back"]),
        ("Journeys completed", figures["journeys_completed"]),
        ("Server CPU seconds per journey", figures["server_cpu_seconds_per_journey"]),
    ]
    faults = "".join(
        f"<tr><td>{html.escape(LABELS.get(f['kind'], f['kind']))}</td><td>{f['at_seconds']}</td>"
        f"<td>{f['recovery_seconds']}</td><td>{f['target_seconds']}</td>"
        f"<td>{'yes' if f['met'] else 'no'}</td>"
        f"<td><code>{html.escape(str(f['detail']))}</code></td></tr>"
        for f in figures["faults"]
    )
    table = "".join(
        f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    throughput = figures.get("throughput")
    extra = ""
    if throughput:
        extra = (
            "<h2>Three app hosts against one</h2><p>Same harness, same run, the same constant crowd. On a "
            "machine of two cores every host shares one core, so this measures the overhead of more "
            "hosts, not scale.</p><table>"
            + "".join(
                f"<tr><th scope='row'>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"
                for name, value in throughput.items()
            )
            + "</table>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Haven on a cluster: a surge with faults</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #b1b4b6;padding:.3rem .6rem;text-align:left}}
img{{max-width:100%}}</style></head>
<body><h1>Haven on a cluster: a surge with faults</h1>
<p><img src="{html.escape(picture)}" alt="Arrivals, answers and people in line per second, with each fault's
recovery window shaded"></p>
<h2>Faults</h2><table><tr><th>Fault</th><th>At (s)</th><th>Recovered in (s)</th><th>Target (s)</th>
<th>Met</th><th>Detail</th></tr>{faults}</table>
<h2>Figures</h2><table>{table}</table>{extra}
<p>The surge's own report, with its plots:
<a href="{html.escape(surge_report)}">{html.escape(surge_report)}</a>.</p>
</body></html>
"""
