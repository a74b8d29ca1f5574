"""``haven surge``: replay a crowd against a running Haven and write the report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from haven import settings as settings_module
from haven.surge.journeys import KINDS, Behaviour
from haven.surge.run import Outcome, Plan, run
from haven.surge.shapes import ShapeError, named


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in KINDS:
            raise ValueError(f"unknown journey {name!r} in --mix: use {', '.join(KINDS)}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"--mix: the weight of {name} must be a number") from None
        if mix[name] < 0:
            raise ValueError(f"--mix: the weight of {name} must be 0 or more")
    if not any(mix.values()):
        raise ValueError("--mix: at least one journey needs a weight above 0")
    return {name: weight for name, weight in mix.items() if weight > 0}


def plan_from(args: argparse.Namespace, settings: settings_module.Settings) -> Plan:
    shape = named(
        args.shape, base=args.base, multiple=args.multiple, duration=args.duration, speed=args.speed
    )
    mix = parse_mix(args.mix)
    mail_dir = args.mail_dir or settings.var_dir / "mail"
    if not 0.0 <= args.leave_email <= 1.0:
        raise ValueError("--leave-email: a share between 0 and 1")
    return Plan(
        target=args.target.rstrip("/"),
        shape=shape,
        mix=mix,
        behaviour=Behaviour(
            think=args.think, patience=args.patience, timeout=args.timeout, leave_email=args.leave_email
        ),
        seed=args.seed,
        slo=args.slo,
        mail_dir=mail_dir if "applicant" in mix or args.leave_email > 0 else None,
        poisson=not args.even,
        drain=args.drain,
        forwarded=args.forwarded,
    )


async def durability(settings: settings_module.Settings, outcome: Outcome) -> dict[str, Any]:
    from haven.db import Database, create_engine
    from haven.surge.durability import check

    engine = create_engine(settings)
    try:
        return await check(Database(engine), outcome.recorder.confirmations)
    finally:
        await engine.dispose()


async def surge(
    plan: Plan, settings: settings_module.Settings | None
) -> tuple[Outcome, dict[str, Any] | None]:
    outcome = await run(plan)
    checked = None
    if settings is not None and "applicant" in plan.mix:
        checked = await durability(settings, outcome)
    return outcome, checked


def run_loop(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; this is for odd platforms
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def surge_command(settings: settings_module.Settings, args: argparse.Namespace) -> int:
    from haven.surge.report import summarise, write

    try:
        plan = plan_from(args, settings)
    except (ShapeError, ValueError) as error:
        print(f"haven surge: {error}", file=sys.stderr)
        return 2
    out = args.out or settings.var_dir / "surge" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    print(
        f"haven surge: {plan.shape.name}, about {plan.shape.expected():.0f} visitors over "
        f"{plan.shape.duration:.0f} s (peak {plan.shape.peak:g}/s) against {plan.target}"
    )
    outcome, checked = run_loop(surge(plan, None if args.no_durability_check else settings))
    summary = summarise(outcome, checked)
    page = write(summary, out, outcome.recorder.queue_waits())
    print(digest(summary))
    print(f"haven surge: report in {page}")
    if checked is not None and not checked["ok"]:
        print(
            "haven surge: DURABILITY FAILED: a confirmed submission is missing or duplicated", file=sys.stderr
        )
        return 1
    return 0


def digest(summary: dict[str, Any]) -> str:
    g, q, served = summary["goodput"], summary["queue"], summary["latency_ms"]["served"]
    lines = [
        f"  arrivals {summary['arrivals']['started']}; journeys completed {g['journeys_completed']} "
        f"({g['journeys_per_second']}/s in the window)",
        f"  site answers p50 {served['p50']} ms, p99 {served['p99']} ms; "
        f"timeouts {summary['requests']['timeouts']}",
        f"  queued {q['queued']}, let in {q['admitted_from_queue']}, gave up {q['gave_up_in_queue']}; "
        f"Kendall tau distance {q['kendall_tau_distance']} (entry {q['kendall_tau_distance_entry']}); "
        f"median ETA error {summary['eta']['median_error']}",
    ]
    road = summary["email_road"]
    if road["left_address"]:
        lines.append(
            f"  email road: {road['left_address']} left an address, {road['got_mail']} got the email, "
            f"{road['in_through_link']} got in through its link; turn to mail median "
            f"{road['turn_to_mail_seconds']['median']} s"
        )
    if summary["durability"] is not None:
        d = summary["durability"]
        lines.append(
            f"  durability: {d['confirmed']} confirmed, {d['stored_once']} stored once, "
            f"{len(d['missing'])} missing, {len(d['duplicated'])} duplicated"
        )
    for flag in summary["generator"]["flags"]:
        lines.append(f"  FLAGGED: {flag}")
    return "\n".join(lines)
