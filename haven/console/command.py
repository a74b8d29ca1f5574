"""``haven operator``: the operators of the console, from the server's command line.

    haven operator add NAME [--password-file FILE]
    haven operator list
    haven operator disable NAME

``add`` asks for the password twice (or reads the first line of FILE, for automation; ``-`` is
standard input), then prints the new operator's TOTP secret and its ``otpauth://`` address, once:
put either in an authenticator app. To replace a lost phone or password, ``disable`` the operator
and ``add`` them again under a new name. Bad arguments exit with 2 and say why.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haven.console.operators import Operators
    from haven.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="Add an operator; prints their authenticator secret once.")
    add.add_argument("name", help="What they sign in with: lowercase letters, digits, . _ -")
    add.add_argument(
        "--password-file", help="Read the password from the first line of this file (- for standard input)."
    )
    actions.add_parser("list", help="Every operator, and whether they can sign in.")
    disable = actions.add_parser("disable", help="Stop an operator signing in, and end their sessions.")
    disable.add_argument("name")


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        source = args.password_file
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return text.splitlines()[0] if text else ""
    first = getpass.getpass("Password: ")
    if getpass.getpass("The same password again: ") != first:
        raise ValueError("the two passwords are not the same")
    return first


def operator_command(settings: Settings, args: argparse.Namespace) -> int:
    from haven.console.operators import OperatorError

    try:
        password = _password(args) if args.action == "add" else ""
        return asyncio.run(_run(settings, args, password))
    except (OperatorError, ValueError, OSError) as error:
        print(f"haven operator: {error}", file=sys.stderr)
        return 2


async def _run(settings: Settings, args: argparse.Namespace, password: str) -> int:
    # Imported here: ``haven --help`` and the other commands never load the database layer.
    from haven.accounts.service import Passwords
    from haven.console.operators import Operators
    from haven.db import Database, create_engine
    from haven.web.clock import SystemClock
    from haven.web.security import Sealer

    engine = create_engine(settings)
    try:
        operators = Operators(
            Database(engine), Passwords.from_settings(settings), Sealer(settings.data_key), SystemClock()
        )
        return await _act(operators, args, password)
    finally:
        await engine.dispose()


async def _act(operators: Operators, args: argparse.Namespace, password: str) -> int:
    if args.action == "add":
        added = await operators.add(args.name, password)
        print(f"haven: operator {added.name} added. Put this in their authenticator app (shown once):")
        print(f"  secret: {added.secret}")
        print(f"  address: {added.uri}")
        return 0
    if args.action == "disable":
        await operators.disable(args.name)
        print(f"haven: operator {args.name.strip().lower()} can no longer sign in; their sessions ended")
        return 0
    for name, created, disabled in await operators.listing():
        status = f"disabled {disabled:%Y-%m-%d}" if disabled else "active"
        print(f"{name}\tadded {created:%Y-%m-%d}\t{status}")
    return 0
