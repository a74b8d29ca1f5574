"""The options of ``haven surge``, and what it needs installed. Kept apart from the simulator so that
every other ``haven`` command builds its parser without loading the simulator's libraries."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

# The ``surge`` extra (``pip install 'haven[surge]'``): the latency histograms and the report's plots.
EXTRA_MODULES = ("hdrh", "matplotlib")


def missing_extra() -> list[str]:
    """The modules of the surge extra that are not installed."""
    return [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", default="http://127.0.0.1:8000", help="Haven's address (default: %(default)s)."
    )
    parser.add_argument(
        "--shape",
        default="election-night",
        help="election-night, step, constant, or a CSV file of (seconds, arrivals per second) "
        "(default: %(default)s).",
    )
    parser.add_argument(
        "--base", type=float, default=2.0, help="Arrivals per second before the surge (default: %(default)s)."
    )
    parser.add_argument(
        "--multiple",
        type=float,
        default=50.0,
        help="The peak as a multiple of the base (default: %(default)s).",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="Plays election-night (or a CSV shape) this many times faster than real time "
        "(default: %(default)s: the 3 h 40 min night in under 4 minutes).",
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="Seconds, for step and constant (default: %(default)s)."
    )
    parser.add_argument(
        "--mix",
        default="reader=60,checker=25,applicant=15",
        help="Weights of the journeys (default: %(default)s).",
    )
    parser.add_argument(
        "--think", type=float, default=3.0, help="Mean think time between pages, s (default: %(default)s)."
    )
    parser.add_argument(
        "--patience", type=float, default=600.0, help="Mean patience in the queue, s (default: %(default)s)."
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="A page slower than this is a timeout, s (default: %(default)s).",
    )
    parser.add_argument(
        "--slo",
        type=float,
        default=1.0,
        help="An answer within this many seconds is good (default: %(default)s).",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="Seconds after the last arrival for journeys to end (default: %(default)s).",
    )
    parser.add_argument(
        "--seed", type=int, default=2016, help="Seed of the arrivals and choices (default: %(default)s)."
    )
    parser.add_argument(
        "--leave-email",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="Share (0-1) of the people in the queue who leave an email address on the waiting page, "
        "close it and come back through the link in the email (read from --mail-dir) "
        "(default: %(default)s).",
    )
    parser.add_argument("--even", action="store_true", help="Evenly spaced arrivals instead of Poisson.")
    parser.add_argument(
        "--forwarded",
        action="store_true",
        help="Give each visitor an address of their own in X-Forwarded-For "
        "(for a Haven with HAVEN_BEHIND_PROXY).",
    )
    parser.add_argument(
        "--mail-dir",
        type=Path,
        help="Where the target writes its emails (default: HAVEN_VAR_DIR/mail); "
        "applicants confirm their address from it.",
    )
    parser.add_argument(
        "--no-durability-check",
        action="store_true",
        help="Skip checking the target's database (HAVEN_DATABASE_URL or HAVEN_VAR_DIR) "
        "for every confirmed submission.",
    )
    parser.add_argument("--out", type=Path, help="Report folder (default: HAVEN_VAR_DIR/surge/<time>).")
