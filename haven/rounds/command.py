"""``haven rounds``: the operators' command line for rounds of invitations.

    haven rounds draw --size N [--program fsw|cec|fst|pnp] [--category KEY] [--at ISO-DATETIME]
                      [--id ROUND-ID] [--dry-run]
    haven rounds list
    haven rounds sweep

``draw`` prints one JSON object (``id``, ``kind``, ``size``, ``invited``, ``cutoff``, ``tie_break``,
``rules_version``, and more); ``--dry-run`` adds who would be invited and invites nobody. ``list``
prints every round as one JSON array. ``sweep`` scores again the pool entries whose facts changed by
today, takes expired profiles out of the pool and queues the "your profile expires in a month" emails
(the server runs the same sweep every few minutes). Bad
arguments exit with 2 and say which; a round id used before for another round exits with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

from haven.rules.common import RulesError
from haven.rules.rounds import RoundError

if TYPE_CHECKING:
    from haven.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    draw = actions.add_parser("draw", help="Run a round of invitations (or, with --dry-run, show it).")
    draw.add_argument("--size", type=int, required=True, help="How many people to invite.")
    draw.add_argument("--program", help="A program-specific round: fsw, cec, fst or pnp.")
    draw.add_argument("--category", help="A category-based round: the category's key (e.g. french).")
    draw.add_argument(
        "--at", help="The round's date and time with a time zone (default: now), e.g. 2026-12-03T14:00Z."
    )
    draw.add_argument("--id", dest="round_id", help="The round's id (default: its time and kind).")
    draw.add_argument("--dry-run", action="store_true", help="Show who would be invited; invite nobody.")
    actions.add_parser("list", help="Every round, the latest first, as JSON.")
    actions.add_parser(
        "sweep", help="Re-score what changed today, expire old profiles, send the month-before notices."
    )


def _moment(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RoundError("at", f"--at: {text!r} is not a date and time like 2026-12-03T14:00Z.") from None
    if moment.tzinfo is None:
        raise RoundError("at", "--at: give the time zone too, e.g. 2026-12-03T14:00Z or -05:00.")
    return moment


def rounds_command(settings: Settings, args: argparse.Namespace) -> int:
    from haven.rounds.service import RoundConflict

    try:
        return asyncio.run(_run(settings, args))
    except (RoundError, RulesError) as error:  # a date before Haven's rules, say
        print(f"haven rounds: {error.message}", file=sys.stderr)
        return 2
    except RoundConflict:
        print(
            f"haven rounds: round {args.round_id!r} was already run with other parameters; give another --id",
            file=sys.stderr,
        )
        return 1


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: ``haven --help`` and the other commands never load the database layer.
    from haven.db import Database, create_engine
    from haven.rounds.service import Rounds, round_day, utc_text
    from haven.rules.rounds import spec

    engine = create_engine(settings)
    database = Database(engine)
    try:
        rounds = Rounds(database, settings)
        now = dt.datetime.now(dt.UTC)
        if args.action == "list":
            print(json.dumps([record.as_json() for record in await rounds.all()], indent=2))
            return 0
        if args.action == "sweep":
            rescored = await rounds.refresh(round_day(now), skip_locked=True)
            removed, notices = await rounds.sweep(now)
            print(json.dumps({"rescored": rescored, "expired": removed, "notices": notices}))
            return 0
        at = _moment(args.at)
        round_spec = spec(args.size, at, round_day(at), program=args.program, category=args.category)
        result = await rounds.draw(round_spec, args.round_id, now=now, dry_run=args.dry_run)
        out: dict[str, Any] = {
            **result.round.as_json(),
            "dry_run": result.dry_run,
            "already_run": result.existing,
            "rescored": result.refreshed,
        }
        if result.dry_run:
            out["would_invite"] = [
                {
                    "number": person.number,
                    "score": person.score,
                    "submitted_at": utc_text(person.submitted_at),
                }
                for person in result.chosen
            ]
        print(json.dumps(out, indent=2))
        return 0
    finally:
        await database.close()
