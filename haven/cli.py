"""The ``haven`` command: serve the portal, export the static site, migrate the database, steer the
waiting room, replay a surge."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from haven import settings as settings_module

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    # Each handler loads the settings it needs (`settings` needs none, so it answers whatever the
    # environment holds); a refusal anywhere is reported the same way, as a message and not a traceback.
    try:
        return handler(args)
    except settings_module.SettingsError as error:
        print(f"haven: cannot start: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="haven", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Serve the portal with Granian.")
    serve.add_argument("--host", help="Overrides HAVEN_HOST.")
    serve.add_argument("--port", type=int, help="Overrides HAVEN_PORT.")
    serve.add_argument("--workers", type=int, help="Overrides HAVEN_WORKERS.")
    serve.set_defaults(handler=handle_serve)

    export = commands.add_parser("export-static", help="Write the public site as files for nginx or a CDN.")
    export.add_argument("directory", type=Path, help="Folder to write (created if missing).")
    export.set_defaults(handler=handle_export_static)

    commands.add_parser("migrate", help="Create or upgrade the database schema.").set_defaults(
        handler=handle_migrate
    )
    commands.add_parser(
        "check", help="Build the whole site once and report any content or template error, then exit."
    ).set_defaults(handler=handle_check)

    listing = commands.add_parser("settings", help="List every HAVEN_* setting with its help.")
    listing.add_argument("--markdown", action="store_true", help="Print the README's settings table.")
    listing.set_defaults(handler=handle_settings)

    room = commands.add_parser("room", help="Read or steer the waiting room of a running Haven.")
    room.add_argument(
        "--url", help="Haven's address (default: HAVEN_PUBLIC_URL, or http://HAVEN_HOST:HAVEN_PORT)."
    )
    room.set_defaults(handler=handle_room)
    actions = room.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="The room's counters, mode and this worker's controller.")
    actions.add_parser("pause", help="Let nobody more in from the queue.")
    actions.add_parser("resume", help="Back to the safety net: queue only when the origin is at capacity.")
    actions.add_parser("open", help="No queue: let everyone waiting in.")
    rate = actions.add_parser("rate", help="Let people in at a fixed rate, whatever the origin's health.")
    rate.add_argument("per_second", type=float, help="People per second.")
    schedule = actions.add_parser("schedule", help="Schedule an event: arrivals before START are shuffled.")
    schedule.add_argument("start", help="Date and time with a time zone, e.g. 2026-11-03T21:00-05:00.")
    schedule.add_argument(
        "--seed", help="Seed of the draw (default: random; published in status after the start)."
    )
    shuffle = actions.add_parser("shuffle", help="Recompute an event's draw from its seed (an audit).")
    shuffle.add_argument("--seed", required=True)
    shuffle.add_argument("--size", type=int, required=True, help="Tickets in the pre-queue.")

    rounds = commands.add_parser("rounds", help="Run Express Entry rounds of invitations, or list them.")
    from haven.rounds.command import add_arguments as add_round_arguments

    add_round_arguments(rounds)
    rounds.set_defaults(handler=handle_rounds)

    prune = commands.add_parser(
        "prune", help="Delete the data Haven no longer keeps, now (the server does it every hour)."
    )
    prune.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
    prune.set_defaults(handler=handle_prune)

    operator = commands.add_parser("operator", help="Add, list or disable the console's operators.")
    from haven.console.command import add_arguments as add_operator_arguments

    add_operator_arguments(operator)
    operator.set_defaults(handler=handle_operator)

    surge = commands.add_parser(
        "surge", help="Replay a crowd (election night by default) against a running Haven."
    )
    from haven.surge.arguments import add_arguments

    add_arguments(surge)
    surge.set_defaults(handler=handle_surge)
    return parser


def handle_settings(args: argparse.Namespace) -> int:
    # Reads no setting, so it answers even when the environment is wrong: the error sends people here.
    from haven import settings_doc

    print(settings_doc.markdown_table() if args.markdown else settings_doc.listing(), end="")
    return 0


def handle_serve(args: argparse.Namespace) -> int:
    overrides = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("workers", args.workers))
        if value is not None
    }
    return serve_forever(settings_module.load().with_(**overrides))


def handle_export_static(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.content.export import export_static

    count = export_static(settings, args.directory)
    print(f"haven: wrote {count} files to {args.directory}")
    return 0


def handle_migrate(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.db import migrate

    migrate(settings)
    print("haven: database is up to date")
    return 0


def handle_check(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    import asyncio

    from haven.app import create_app
    from haven.db import schema_status

    create_app(settings)
    schema = asyncio.run(schema_status(settings))
    if schema == "behind":
        print("haven: cannot start: the database schema is not current; run `haven migrate`", file=sys.stderr)
        return 1
    if schema == "unreachable":
        print("haven: warning: the database does not answer; public pages will be served, accounts will not")
    print("haven: settings, content and templates are fine")
    return 0


def handle_room(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.shield.command import room_command

    return room_command(settings, args)


def handle_rounds(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.rounds.command import rounds_command

    return rounds_command(settings, args)


def handle_prune(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.retention import prune_command

    return prune_command(settings, dry_run=args.dry_run)


def handle_operator(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.console.command import operator_command

    return operator_command(settings, args)


def handle_surge(args: argparse.Namespace) -> int:
    settings = settings_module.load()
    from haven.surge.arguments import missing_extra

    missing = missing_extra()
    if missing:
        print(
            f"haven surge needs the surge extra ({', '.join(missing)} missing): pip install 'haven[surge]'",
            file=sys.stderr,
        )
        return 2
    from haven.surge.command import surge_command

    return surge_command(settings, args)


def serve_forever(settings: settings_module.Settings) -> int:
    """Run Granian. Workers build the app themselves (``haven.app:build``) from the same
    environment, so every HAVEN_* value reaches them; the overrides are passed on the same way."""
    import os
    import resource
    import subprocess

    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops

    # Build the site once, in a short-lived process, so a content or template error stops start-up
    # with its message before any worker is spawned (a worker failing to build would be respawned
    # forever), and this supervising process never holds a copy of the site in memory.
    if subprocess.run([sys.executable, "-m", "haven", "check"], check=False).returncode != 0:
        return 1
    os.environ.update({"HAVEN_HOST": settings.host, "HAVEN_PORT": str(settings.port)})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # every open connection is a file: take what the system allows
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < settings.connections + 64:
        print(
            f"haven: warning: the system allows {hard} open files, fewer than HAVEN_CONNECTIONS "
            f"({settings.connections}); raise `ulimit -n`",
            file=sys.stderr,
        )
    server = Granian(
        "haven.app:build",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,  # Haven speaks RSGI to Granian: see haven/web/rsgi.py
        workers=settings.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,  # HTTP/2 is for the TLS terminator in front (nginx, a CDN)
        websockets=False,
        log_access=False,  # addresses of calculators carry answers; Haven never logs them
        respawn_failed_workers=True,
        # Granian's backpressure caps *open connections* per worker (by default 1024). A crowd in
        # the waiting room holds thousands of idle keep-alive connections between checks; at the
        # default, new visitors would not even be accepted. The shield limits the work instead.
        backlog=4096,
        backpressure=settings.connections,
    )
    print(f"haven: serving on http://{settings.host}:{settings.port}", flush=True)
    server.serve()
    return 0
