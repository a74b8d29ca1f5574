"""A surge run, written down: ``summary.json`` for machines and ``report.html`` with its plots for
people (the page a team shows its director)."""

from __future__ import annotations

import html
import json
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haven.surge.record import percentiles
from haven.surge.run import CPU_FLAG, LAG_FLAG_MS, LATE_SHARE_FLAG, Outcome

PLOTS = {
    "traffic.png": "Arrivals and admissions per second, and people in the waiting room",
    "latency.png": "Latency of the site's answers over time (50th and 99th percentiles)",
    "goodput.png": "Goodput: journeys completed and answers within the SLO, per second",
    "waits.png": "How long people waited in the queue",
}


def _pct(values: list[int], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1000


def summarise(outcome: Outcome, durability: dict[str, Any] | None) -> dict[str, Any]:
    plan, rec = outcome.plan, outcome.recorder
    window = max(plan.shape.duration, 1e-9)
    lag = percentiles(rec.lag)
    late_share = rec.late_arrivals / max(1, outcome.started)
    cpu_share = outcome.cpu_seconds / max(outcome.elapsed, 1e-9)
    flags = []
    if lag["p99"] > LAG_FLAG_MS:
        flags.append(
            f"arrivals started {lag['p99']} ms late at the 99th percentile (limit {LAG_FLAG_MS:g} ms)"
        )
    if late_share > LATE_SHARE_FLAG:
        flags.append(f"{late_share:.1%} of arrivals started over {rec.LATE * 1000:g} ms late")
    if cpu_share > CPU_FLAG:
        flags.append(f"the generator used {cpu_share:.0%} of a core: it may have been the bottleneck")
    journeys: dict[str, Any] = {}
    for kind, count in sorted(outcome.started_by_kind.items()):
        outcomes = {
            key.split(": ", 1)[1]: value for key, value in rec.outcomes.items() if key.startswith(f"{kind}: ")
        }
        journeys[kind] = {"started": count, "outcomes": dict(sorted(outcomes.items()))}
    completed_in_window = sum(s.completed for t, s in rec.seconds.items() if t < window)
    completed = sum(s.completed for s in rec.seconds.values())
    good = sum(s.good for t, s in rec.seconds.items() if t < window)
    waits = rec.queue_waits()
    return {
        "target": plan.target,
        "started_at": datetime.fromtimestamp(outcome.started_at, UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "system": platform.platform()},
        "shape": {"name": plan.shape.name, "points": [list(p) for p in plan.shape.points]},
        "mix": plan.mix,
        "seed": plan.seed,
        "slo_seconds": plan.slo,
        "behaviour": vars(plan.behaviour),
        "arrivals": {
            "expected": round(plan.shape.expected(), 1),
            "scheduled": outcome.scheduled,
            "started": outcome.started,
            "by_journey": dict(sorted(outcome.started_by_kind.items())),
        },
        "generator": {
            "arrival_lag_ms": lag,
            "late_arrivals": rec.late_arrivals,
            "event_loop_lag_ms": outcome.loop_lag,
            "cpu_share": round(cpu_share, 3),
            "flagged": bool(flags),
            "flags": flags,
        },
        "requests": {
            "answered": sum(s.answered for s in rec.seconds.values()),
            "statuses": dict(sorted(rec.statuses.items())),
            "timeouts": rec.timeouts,
            "connection_errors": rec.errors,
        },
        "latency_ms": {
            "served": percentiles(rec.served),
            "waiting_room": percentiles(rec.room),
            "by_journey": {k: percentiles(h) for k, h in sorted(rec.by_class.items())},
            "by_step": {k: percentiles(h) for k, h in sorted(rec.by_step.items())},
        },
        "journeys": journeys,
        "goodput": {
            "window_seconds": round(window, 1),
            "journeys_per_second": round(completed_in_window / window, 3),
            "journeys_completed": completed,
            "journeys_completed_in_window": completed_in_window,
            "answers_within_slo_per_second": round(good / window, 2),
            "by_journey": {
                kind: round(sum(1 for at in times if at < window) / window, 3)
                for kind, times in sorted(rec.completed_at.items())
            },
        },
        "queue": {
            **rec.fairness(),
            "still_waiting_at_end": sum(1 for q in rec.queued if q.gave_up == -2.0),
            "wait_seconds": _summary(waits),
        },
        "eta": rec.eta(),
        "email_road": rec.email_road(),
        # One row per person who queued, so that anyone can recompute the figures above:
        # [arrived, joined, ticket, admitted (-1: never), gave up (-1: no; -2: still waiting at the
        # end), predicted low, predicted high], seconds from the start of the run.
        "queue_records": [
            [
                round(q.arrived, 3),
                round(q.joined, 3),
                q.ticket,
                round(q.admitted, 3),
                round(q.gave_up, 3),
                round(q.predicted_low, 1),
                round(q.predicted_high, 1),
            ]
            for q in rec.queued
        ],
        "durability": durability,
        "unfinished_at_end": dict(outcome.unfinished),
        "series": _series(outcome),
    }


def _summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(values),
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


def _series(outcome: Outcome) -> list[dict[str, float]]:
    rec = outcome.recorder
    last = max([*rec.seconds, 0])
    server = {round(row["t"]) - 1: row for row in outcome.server}
    rows = []
    for t in range(last + 1):
        s = rec.seconds.get(t)
        if s is None:
            continue
        row: dict[str, float] = {
            "t": t,
            "arrivals": s.arrivals,
            "admissions": s.admissions,
            "waiting": s.waiting,
            "completed": s.completed,
            "answered": s.answered,
            "within_slo": s.good,
            "p50_ms": _pct(s.latencies, 50),
            "p99_ms": _pct(s.latencies, 99),
        }
        for key, value in server.get(t, {}).items():
            if key != "t":
                row[f"server_{key}"] = value
        rows.append(row)
    return rows


def write(summary: dict[str, Any], folder: Path, waits: list[float]) -> Path:
    """Write summary.json, the plots and report.html into ``folder``; returns the report's path.
    ``waits``: the seconds each admitted visitor spent in the queue."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    plot(summary, folder, waits)
    page = folder / "report.html"
    page.write_text(render(summary))
    return page


def plot(summary: dict[str, Any], folder: Path, waits: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = summary["series"]
    t = [row["t"] for row in series]

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, [r["arrivals"] for r in series], label="arrivals/s", color="#1f77b4")
    ax.plot(t, [r["admissions"] for r in series], label="admitted from the queue/s", color="#2ca02c")
    ax.set_xlabel("seconds")
    ax.set_ylabel("people per second")
    ax2 = ax.twinx()
    ax2.plot(t, [r["waiting"] for r in series], label="in the waiting room", color="#d62728", linestyle="--")
    ax2.set_ylabel("people waiting")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper left")
    _save(fig, folder / "traffic.png", PLOTS["traffic.png"])

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, [max(r["p50_ms"], 0.1) for r in series], label="p50")
    ax.plot(t, [max(r["p99_ms"], 0.1) for r in series], label="p99")
    ax.axhline(summary["slo_seconds"] * 1000, color="grey", linestyle=":", label="SLO")
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("latency, ms (from the intended send time)")
    ax.legend(loc="upper left")
    _save(fig, folder / "latency.png", PLOTS["latency.png"])

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, [r["completed"] for r in series], label="journeys completed/s")
    ax.set_xlabel("seconds")
    ax.set_ylabel("journeys per second")
    ax2 = ax.twinx()
    ax2.plot(t, [r["within_slo"] for r in series], label="answers within the SLO/s", color="#9467bd")
    ax2.set_ylabel("answers per second")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper left")
    _save(fig, folder / "goodput.png", PLOTS["goodput.png"])

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.hist(waits or [0], bins=40, color="#8c564b")
    ax.set_xlabel("seconds in the queue")
    ax.set_ylabel("people")
    _save(fig, folder / "waits.png", PLOTS["waits.png"])


def _save(fig: Any, path: Path, title: str) -> None:
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _row(label: str, value: object) -> str:
    return f"<tr><th scope='row'>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"


def render(summary: dict[str, Any]) -> str:
    g, q, e, d = summary["goodput"], summary["queue"], summary["eta"], summary["durability"]
    served, gen, arrivals = summary["latency_ms"]["served"], summary["generator"], summary["arrivals"]
    headline = [
        ("Arrivals (scheduled / started)", f"{arrivals['scheduled']} / {arrivals['started']}"),
        ("Journeys completed per second (in the surge window)", g["journeys_per_second"]),
        ("Answers within the SLO per second", g["answers_within_slo_per_second"]),
        ("Site answers p50 / p99 / max (ms)", f"{served['p50']} / {served['p99']} / {served['max']}"),
        ("Timeouts", summary["requests"]["timeouts"]),
        ("Connection errors", summary["requests"]["connection_errors"]),
        ("Queued / let in from the queue / gave up",
         f"{q['queued']} / {q['admitted_from_queue']} / {q['gave_up_in_queue']}"),
        ("Fairness, the room's order: Kendall tau distance (0 = first come, first served)",
         q["kendall_tau_distance"]),
        ("Fairness, the order people got in (their own checks included)", q["kendall_tau_distance_entry"]),
        ("Median wait in the queue (s)", q["wait_seconds"].get("median", "–")),
        ("Median ETA error", e["median_error"] if e["median_error"] is not None else "–"),
        ("Waits inside the ETA range shown", "–" if e["within_range"] is None else e["within_range"]),
        ("Email road: left an address / got the email / got in through its link",
         f"{summary['email_road']['left_address']} / {summary['email_road']['got_mail']} / "
         f"{summary['email_road']['in_through_link']}"),
        ("Email road: median seconds from the turn to the email",
         summary["email_road"]["turn_to_mail_seconds"]["median"] or "–"),
        (
            "Durability: confirmed / stored once / missing / duplicated",
            "not checked"
            if d is None
            else f"{d['confirmed']} / {d['stored_once']} / {len(d['missing'])} / {len(d['duplicated'])}",
        ),
    ]  # fmt: skip
    flag = (
        "<div class='flag' role='alert'><h2>This run is flagged</h2><ul>"
        + "".join(f"<li>{html.escape(f)}</li>" for f in gen["flags"])
        + "</ul><p>The generator could not keep its schedule: treat the figures with care.</p></div>"
        if gen["flagged"]
        else "<p>The generator kept its schedule (arrival lag p99 "
        f"{gen['arrival_lag_ms']['p99']} ms, {gen['cpu_share']:.0%} of its core).</p>"
    )
    journeys = "".join(
        f"<tr><th scope='row'>{html.escape(kind)}</th><td>{j['started']}</td><td>"
        + "; ".join(f"{html.escape(k)}: {v}" for k, v in j["outcomes"].items())
        + "</td></tr>"
        for kind, j in summary["journeys"].items()
    )
    steps = "".join(
        f"<tr><th scope='row'>{html.escape(step)}</th><td>{p['count']}</td><td>{p['p50']}</td>"
        f"<td>{p['p99']}</td><td>{p['max']}</td></tr>"
        for step, p in summary["latency_ms"]["by_step"].items()
    )
    statuses = ", ".join(f"{k}: {v}" for k, v in summary["requests"]["statuses"].items())
    figures = "".join(
        f"<figure><img src='{name}' alt='{html.escape(text)}' width='900' height='400'>"
        f"<figcaption>{html.escape(text)}</figcaption></figure>"
        for name, text in PLOTS.items()
    )
    name, started = html.escape(summary["shape"]["name"]), html.escape(summary["started_at"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Haven surge report: {name}, {started}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
  color: #0b0c0c; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ text-align: left; padding: .3rem .8rem; border-bottom: 1px solid #b1b4b6; vertical-align: top; }}
.flag {{ border-left: 6px solid #d4351c; padding: .5rem 1rem; }}
img {{ max-width: 100%; height: auto; }}
</style></head><body><main>
<h1>Surge report: {name}</h1>
<p>Target {html.escape(summary["target"])}, started {started}, seed {summary["seed"]},
SLO {summary["slo_seconds"]} s. Latencies count from each request's intended send time.</p>
{flag}
<h2>Headline figures</h2>
<table>{"".join(_row(label, value) for label, value in headline)}</table>
<h2>Plots</h2>
{figures}
<h2>Journeys</h2>
<table><thead><tr><th scope="col">Journey</th><th scope="col">Started</th>
<th scope="col">Outcomes</th></tr></thead>
<tbody>{journeys}</tbody></table>
<h2>Latency by step (ms)</h2>
<table><thead><tr><th scope="col">Step</th><th scope="col">Answers</th><th scope="col">p50</th>
<th scope="col">p99</th><th scope="col">max</th></tr></thead><tbody>{steps}</tbody></table>
<h2>Answers by status</h2><p>{html.escape(statuses)}</p>
</main></body></html>
"""
