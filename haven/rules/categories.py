"""Category-based selection in Express Entry rounds (reference §H.2): which categories a person meets on
a given day.

The categories change over time; each period's list, with its occupations (NOC 2021 codes), its
experience rule and its sources, is data in ``data/categories.toml``, read once here. A category is
either the French-language one (NCLC 7 or higher in all four abilities, on a French test) or an
occupation category: enough paid, full-time (or equivalent) work in the listed occupations within the
window before the round, continuous or not as the period's rule says.

A round's category rule applies on top of program eligibility (§H.1): ``met`` answers only the
category's own rule; the caller checks the programs.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from haven.rules.common import Dated, History, Language, LanguageLevels

DATA: Final = Path(__file__).with_name("data") / "categories.toml"
FULL_TIME_HOURS: Final = 30  # a week of full-time work; fewer hours count in proportion
FRENCH_LEVEL: Final = 7  # NCLC, in every ability


@dataclass(frozen=True)
class Job:
    """One job of a work history, as the rules need it. ``start`` and ``end`` are months (any day of
    the month stands for the month); ``end`` None means the person still does it."""

    noc: str
    start: dt.date
    end: dt.date | None
    hours: int
    paid: bool
    in_canada: bool = False  # and authorized: work in Canada without authorization never counts


@dataclass(frozen=True)
class Category:
    key: str
    titles: dict[str, str]  # by language code: "en", "fr"
    source: str
    language: Language | None = None  # the French-language category
    nocs: frozenset[str] = frozenset()
    unconfirmed: frozenset[str] = frozenset()  # codes an editor has not confirmed against a source
    experience_months: int | None = None  # the category's own rule, where it has one
    continuous: bool | None = None
    canadian_work: bool = False  # only authorized work in Canada counts
    needs: str | None = None  # a requirement the profile does not ask about: never found met

    def title(self, lang: str) -> str:
        return self.titles.get(lang, self.titles["en"])


@dataclass(frozen=True)
class CategoryTable:
    categories: tuple[Category, ...]
    experience_months: int
    window_years: int
    continuous: bool
    source: str

    def get(self, key: str) -> Category | None:
        return next((category for category in self.categories if category.key == key), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(category.key for category in self.categories)


def _category(raw: dict[str, Any]) -> Category:
    nocs = raw.get("nocs", [])
    language = raw.get("language")
    return Category(
        key=raw["key"],
        titles={"en": raw["title_en"], "fr": raw["title_fr"]},
        source=raw["source"],
        language=Language.FRENCH if language == "french" else None,
        nocs=frozenset(row["code"] for row in nocs),
        unconfirmed=frozenset(row["code"] for row in nocs if not row.get("confirmed", False)),
        experience_months=raw.get("experience_months"),
        continuous=raw.get("continuous"),
        canadian_work=bool(raw.get("canadian_work", False)),
        needs=raw.get("needs"),
    )


def load(path: Path = DATA) -> History[CategoryTable]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    versions = [
        Dated(
            effective=dt.date.fromisoformat(version["effective"]),
            version=version["version"],
            table=CategoryTable(
                categories=tuple(_category(category) for category in version["category"]),
                experience_months=int(version["experience_months"]),
                window_years=int(version["window_years"]),
                continuous=bool(version["continuous"]),
                source=version["source"],
            ),
        )
        for version in raw["version"]
    ]
    return History(versions, name="category rules")


CATEGORIES: Final = load()
NONE_YET: Final = "categories-none"  # the version before category-based selection began


def table_on(day: dt.date) -> Dated[CategoryTable] | None:
    """The categories in force on ``day``; None before the first (31 May 2023)."""
    return CATEGORIES.on(day) if day >= CATEGORIES.versions[0].effective else None


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _spans(jobs: Iterable[Job], nocs: frozenset[str], first: int, last: int) -> list[tuple[int, int, float]]:
    """(first month, last month, share of full time) of each paid job in ``nocs``, clipped to the
    months ``first`` to ``last``."""
    spans = []
    for job in jobs:
        if not job.paid or job.noc not in nocs:
            continue
        start = max(_month(job.start), first)
        end = min(last, _month(job.end) if job.end is not None else last)
        if end >= start:
            spans.append((start, end, min(1.0, job.hours / FULL_TIME_HOURS)))
    return spans


def experience_months(
    jobs: Sequence[Job], nocs: frozenset[str], as_of: dt.date, *, window_years: int, continuous: bool
) -> float:
    """Full-time-equivalent months of work in ``nocs`` within the ``window_years`` before ``as_of``
    (the months of ``as_of`` and of the window's start count whole). ``continuous``: the longest run
    in one occupation with no month off; otherwise the months in the listed occupations, added up
    (one month counted once, however many jobs filled it, up to full time)."""
    last = _month(as_of)
    first = last - 12 * window_years + 1
    if continuous:
        best = 0.0
        for noc in {job.noc for job in jobs if job.noc in nocs}:
            runs = sorted(_spans(jobs, frozenset({noc}), first, last))
            run_end, run_months = -2, 0.0
            for start, end, share in runs:
                if start > run_end + 1:  # a gap: a new run
                    run_months = 0.0
                    covered_from = start
                else:
                    covered_from = run_end + 1
                if end >= covered_from:
                    run_months += (end - covered_from + 1) * share
                run_end = max(run_end, end)
                best = max(best, run_months)
        return best
    filled: dict[int, float] = {}
    for start, end, share in _spans(jobs, nocs, first, last):
        for month in range(start, end + 1):
            filled[month] = min(1.0, filled.get(month, 0.0) + share)
    return sum(filled.values())


def meets(
    category: Category,
    table: CategoryTable,
    jobs: Sequence[Job],
    languages: Iterable[LanguageLevels | None],
    as_of: dt.date,
) -> bool:
    """Whether a person meets ``category``'s own rule on ``as_of`` (program eligibility aside)."""
    if category.language is not None:
        return any(
            levels is not None and levels.language is category.language and levels.all_at_least(FRENCH_LEVEL)
            for levels in languages
        )
    if category.needs is not None:
        return False
    counted = [job for job in jobs if job.in_canada] if category.canadian_work else jobs
    continuous = table.continuous if category.continuous is None else category.continuous
    needed = category.experience_months or table.experience_months
    months = experience_months(
        counted, category.nocs, as_of, window_years=table.window_years, continuous=continuous
    )
    return months >= needed - 1e-9


def met(
    jobs: Sequence[Job], languages: Sequence[LanguageLevels | None], as_of: dt.date
) -> tuple[frozenset[str], str]:
    """The keys of every category in force on ``as_of`` that the person meets, and the table's version."""
    dated = table_on(as_of)
    if dated is None:
        return frozenset(), NONE_YET
    table = dated.table
    found = frozenset(
        category.key for category in table.categories if meets(category, table, jobs, languages, as_of)
    )
    return found, dated.version
