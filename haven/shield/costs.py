"""What each kind of request costs the origin, in milliseconds of one core: the one table admission
weighs requests by. Measured, not guessed: ``python -m bench.costs`` runs each kind against a real
worker and writes the medians to ``bench/results/costs.json``; the figures below are copied from that
file (the run of the date in ``MEASURED``), rounded up. A test checks that every kind admission uses
is here and that the table matches the measured file within rounding.

Finished bytes (content pages, assets, the room's public state, query pages already rendered) are not
in the table: they cost a dictionary lookup and are never admitted.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["page", "save", "submit", "password", "query_miss", "api", "room"]

MEASURED: Final = "2026-12-03"
COSTS_MS: Final[dict[Kind, float]] = {
    "page": 1.9,  # a dynamic page of someone already in (the account home, a profile section)
    "save": 3.2,  # a profile section saved ("save and continue")
    "submit": 2.2,  # a profile submitted: scored, sealed, committed, confirmed
    "password": 26.9,  # a POST that hashes a password (argon2id); it takes the hash lane
    "query_miss": 1.9,  # a calculator or eligibility-check page rendered on a cache miss
    "api": 1.4,  # one call of the JSON API
    "room": 0.7,  # a personal waiting-room request: a join, a status check, a claimed turn
}

UNIT_MS: Final = COSTS_MS["page"]  # the limiter counts in dynamic pages


def cost_ms(kind: Kind) -> float:
    return COSTS_MS[kind]


def weight(kind: Kind) -> float:
    """A kind's cost in the limiter's unit (one dynamic page)."""
    return COSTS_MS[kind] / UNIT_MS
