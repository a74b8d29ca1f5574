"""Rounds of invitations (reference §H.1): who is in a round's pool, how the pool is ranked, and the
cut-off and tie-breaking rule a round publishes.

A round has a kind: general (everyone eligible for at least one Express Entry program),
program-specific (eligible for that program; for PNP, nominated by a province or territory and
eligible for a program, as everyone in the pool must be), or
category-based (eligible for a program and meeting the category's rule on the round's date). The pool
is ranked by CRS score, highest first; people with the same score are ranked by the date and time they
submitted their profile, earliest first; the profile number breaks the (practically impossible) tie of
the same instant, so a ranking is always one order. The cut-off is the score of the lowest-ranked
person invited and the tie-breaking rule the submission time of that person: everyone with a higher
score, and everyone at the cut-off who submitted at or before that time, is invited.

This is the rule in pure form, used by the tests to check the database's ranking and by dry runs on
small pools; the database ranks the same way with an index (``haven.rounds``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from haven.rules import crs, fsw
from haven.rules.categories import table_on


class Kind(StrEnum):
    GENERAL = "general"
    PROGRAM = "program"
    CATEGORY = "category"


class RoundProgram(StrEnum):
    """The programs a program-specific round can be for."""

    CEC = "cec"
    FSW = "fsw"
    FST = "fst"
    PNP = "pnp"


# Eligibility flags a pool entry carries (PNP: has a provincial nomination through Express Entry).
ROUND_PROGRAMS: Final = tuple(RoundProgram)
INVITATION_DAYS: Final = 60  # to apply for permanent residence (§F.3)
# The first day every table a round needs is known (the CRS and the settlement funds figures).
RULES_FROM: Final = max(crs.CRS.versions[0].effective, fsw.FUNDS.versions[0].effective)


class RoundError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RoundSpec:
    kind: Kind
    size: int
    at: dt.datetime  # aware
    program: RoundProgram | None = None
    category: str | None = None

    @property
    def key(self) -> str:
        """The kind in one word: general, cec, fsw, fst, pnp, or the category's key."""
        return self.program or self.category or "general"


def spec(
    size: int, at: dt.datetime, day: dt.date, *, program: str | None = None, category: str | None = None
) -> RoundSpec:
    """A round's kind from what an operator asked for, checked against the rules in force on ``day``
    (the round's date in Ottawa)."""
    if size < 1:
        raise RoundError("size", "A round invites at least 1 person.")
    if at.tzinfo is None:
        raise RoundError("at", "Give the round's date and time with its time zone, e.g. 2026-12-03T14:00Z.")
    if day < RULES_FROM:
        raise RoundError("at", f"Haven's rules begin on {RULES_FROM}: a round cannot be held before then.")
    if program is not None and category is not None:
        raise RoundError("category", "A round is for one program or one category, not both.")
    if program is not None:
        try:
            chosen = RoundProgram(program)
        except ValueError:
            raise RoundError("program", "The program is one of cec, fsw, fst or pnp.") from None
        return RoundSpec(Kind.PROGRAM, size, at, program=chosen)
    if category is not None:
        dated = table_on(day)
        if dated is None:
            raise RoundError("category", f"There were no category-based rounds on {day}.")
        if dated.table.get(category) is None:
            known = ", ".join(dated.table.keys)
            raise RoundError("category", f"No category {category!r} on {day}: the categories are {known}.")
        return RoundSpec(Kind.CATEGORY, size, at, category=category)
    return RoundSpec(Kind.GENERAL, size, at)


@dataclass(frozen=True)
class Entry:
    """One person in the pool, as a round sees them."""

    profile_id: str
    number: str
    score: int
    submitted_at: dt.datetime
    programs: frozenset[str]  # of ROUND_PROGRAMS's values
    categories: frozenset[str]


def in_round(entry: Entry, round_spec: RoundSpec) -> bool:
    eligible = bool(entry.programs - {RoundProgram.PNP})  # eligible for at least one program
    if round_spec.kind is Kind.GENERAL:
        return eligible
    if round_spec.kind is Kind.PROGRAM:  # PNP: nominated, and eligible for a program like everyone
        assert round_spec.program is not None
        return eligible and round_spec.program in entry.programs
    return eligible and round_spec.category in entry.categories


def order_key(entry: Entry) -> tuple[int, dt.datetime, str]:
    return (-entry.score, entry.submitted_at, entry.number)


@dataclass(frozen=True)
class Outcome:
    invited: tuple[Entry, ...]
    cutoff: int | None  # None: nobody invited
    tie_break: dt.datetime | None


def rank(pool: Iterable[Entry], round_spec: RoundSpec) -> Outcome:
    ranked = sorted((entry for entry in pool if in_round(entry, round_spec)), key=order_key)
    invited = tuple(ranked[: round_spec.size])
    if not invited:
        return Outcome((), None, None)
    last = invited[-1]
    return Outcome(invited, last.score, last.submitted_at)
