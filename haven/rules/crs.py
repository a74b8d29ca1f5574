"""The Comprehensive Ranking System (CRS) of Express Entry: a breakdown per factor, not just a total.

Sections and caps (reference §A.0): core/human capital (500 single, 460 with an accompanying spouse),
spouse factors (40), skill transferability (100, each of its three blocks capped at 50) and additional
points (600). The spouse table applies only to a spouse or partner who comes to Canada and is not
already a citizen or permanent resident (§A.1). §A.7 lists the mistakes calculators commonly make;
``tests/rules/test_crs.py`` holds one regression test for each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from types import MappingProxyType
from typing import Final, NamedTuple

from haven.rules.common import (
    Dated,
    Education,
    History,
    Language,
    LanguageLevels,
    RulesError,
)

E = Education


class CanadianEducation(StrEnum):
    NONE = "none"
    ONE_OR_TWO_YEAR = "one_or_two_year"
    THREE_YEAR_OR_MORE = "three_year_or_more"


class JobOffer(StrEnum):
    """Arranged employment. It earns no CRS points since 2025-03-25 but is kept as an input: it
    still matters for FSW/FST eligibility, and older rule versions scored it."""

    NONE = "none"
    TEER_0_MAJOR_GROUP_00 = "teer_0_major_group_00"
    TEER_0_TO_3 = "teer_0_to_3"


class Section(StrEnum):
    CORE = "core"
    SPOUSE = "spouse"
    TRANSFERABILITY = "transferability"
    ADDITIONAL = "additional"


Steps = tuple[tuple[int, int], ...]  # (lowest value, points), highest first


def _step(steps: Steps, value: int) -> int:
    for lowest, points in steps:
        if value >= lowest:
            return points
    return 0


@dataclass(frozen=True)
class CrsTable:
    """Every number the CRS uses, for one period. ``pair`` tables give (with spouse, without)."""

    age: Mapping[int, tuple[int, int]]
    education: Mapping[Education, tuple[int, int]]
    first_language: tuple[tuple[int, tuple[int, int]], ...]  # (lowest CLB, (with, without))
    second_language: Steps
    second_language_cap: tuple[int, int]
    canadian_work: tuple[tuple[int, tuple[int, int]], ...]
    spouse_education: Mapping[Education, int]
    spouse_language: Steps
    spouse_canadian_work: Steps
    provincial_nomination: int
    job_offer: Mapping[JobOffer, int]
    french_with_weak_english: int
    french_with_english: int
    canadian_education: Mapping[CanadianEducation, int]
    sibling: int
    caps: Mapping[Section, int] = field(
        default_factory=lambda: {
            Section.CORE: 500,
            Section.SPOUSE: 40,
            Section.TRANSFERABILITY: 100,
            Section.ADDITIONAL: 600,
        }
    )


_AGE: Final = {
    18: (90, 99),
    19: (95, 105),
    **dict.fromkeys(range(20, 30), (100, 110)),
    30: (95, 105),
    31: (90, 99),
    32: (85, 94),
    33: (80, 88),
    34: (75, 83),
    35: (70, 77),
    36: (65, 72),
    37: (60, 66),
    38: (55, 61),
    39: (50, 55),
    40: (45, 50),
    41: (35, 39),
    42: (25, 28),
    43: (15, 17),
    44: (5, 6),
}  # fmt: skip  (§A.2: 17 or less and 45 or more earn 0)

_EDUCATION: Final = {
    E.LESS_THAN_SECONDARY: (0, 0), E.SECONDARY: (28, 30), E.ONE_YEAR: (84, 90),
    E.TWO_YEAR: (91, 98), E.BACHELOR: (112, 120), E.TWO_OR_MORE: (119, 128),
    E.MASTER: (126, 135), E.DOCTORAL: (140, 150),
}  # fmt: skip

_FIRST_LANGUAGE: Final = (
    (10, (32, 34)),
    (9, (29, 31)),
    (8, (22, 23)),
    (7, (16, 17)),
    (6, (8, 9)),
    (4, (6, 6)),
)  # fmt: skip  (per ability; below CLB 4 earns 0)

_CANADIAN_WORK: Final = ((5, (70, 80)), (4, (63, 72)), (3, (56, 64)), (2, (46, 53)), (1, (35, 40)))

_SPOUSE_EDUCATION: Final = {
    E.LESS_THAN_SECONDARY: 0, E.SECONDARY: 2, E.ONE_YEAR: 6, E.TWO_YEAR: 7, E.BACHELOR: 8,
    E.TWO_OR_MORE: 9, E.MASTER: 10, E.DOCTORAL: 10,
}  # fmt: skip

_BASE = CrsTable(
    age=_AGE,
    education=_EDUCATION,
    first_language=_FIRST_LANGUAGE,
    second_language=((9, 6), (7, 3), (5, 1)),
    second_language_cap=(22, 24),
    canadian_work=_CANADIAN_WORK,
    spouse_education=_SPOUSE_EDUCATION,
    spouse_language=((9, 5), (7, 3), (5, 1)),
    spouse_canadian_work=((5, 10), (4, 9), (3, 8), (2, 7), (1, 5)),
    provincial_nomination=600,
    # 19 Nov 2016 to 24 Mar 2025: 200 for NOC major group 00, 50 for other skilled offers (§A.5).
    job_offer={JobOffer.NONE: 0, JobOffer.TEER_0_MAJOR_GROUP_00: 200, JobOffer.TEER_0_TO_3: 50},
    french_with_weak_english=25,
    french_with_english=50,
    canadian_education={
        CanadianEducation.NONE: 0,
        CanadianEducation.ONE_OR_TWO_YEAR: 15,
        CanadianEducation.THREE_YEAR_OR_MORE: 30,
    },
    sibling=15,
)

CRS: Final = History(
    name="CRS rules",
    versions=(
        # French points rose to 25/50 in late October 2020; the day (27 Oct) is from memory, not
        # from a source we hold (§A.5, [UNCONFIRMED]). Earlier rules are not modelled.
        Dated(dt.date(2020, 10, 27), "crs-2020-10-27", _BASE),
        # Arranged employment stopped earning points (§A.5, many sources).
        Dated(
            dt.date(2025, 3, 25),
            "crs-2025-03-25",
            dataclasses.replace(_BASE, job_offer=dict.fromkeys(JobOffer, 0)),
        ),
    ),
)


@dataclass(frozen=True)
class Spouse:
    accompanying: bool
    canadian_citizen_or_pr: bool
    education: Education = Education.LESS_THAN_SECONDARY
    language: LanguageLevels | None = None
    canadian_work_years: int = 0

    @property
    def counts(self) -> bool:
        """Whether the "with spouse" columns apply (§A.1)."""
        return self.accompanying and not self.canadian_citizen_or_pr


@dataclass(frozen=True)
class CrsProfile:
    age: int
    education: Education
    first_language: LanguageLevels
    canadian_education: CanadianEducation = CanadianEducation.NONE
    second_language: LanguageLevels | None = None
    canadian_work_years: int = 0
    foreign_work_years: int = 0
    certificate_of_qualification: bool = False
    provincial_nomination: bool = False
    sibling_in_canada: bool = False
    spouse: Spouse | None = None
    job_offer: JobOffer = JobOffer.NONE


_NO_PARTS: Final[Mapping[str, int]] = MappingProxyType({})


class Factor(NamedTuple):
    # A named tuple, not a dataclass: a score makes about sixteen of these, and building a frozen
    # dataclass costs several times more (the CRS bench counts scores per second).
    section: Section
    points: int
    maximum: int
    parts: Mapping[str, int] = _NO_PARTS


class CrsResult(NamedTuple):
    total: int
    core: int
    spouse: int
    transferability: int
    additional: int
    with_spouse: bool
    rules_version: str
    details: Mapping[str, Factor]

    def section_total(self, section: Section) -> int:
        return {
            Section.CORE: self.core,
            Section.SPOUSE: self.spouse,
            Section.TRANSFERABILITY: self.transferability,
            Section.ADDITIONAL: self.additional,
        }[section]


MAX_AGE: Final = 120
MAX_YEARS: Final = 60


_THREE_YEAR: Final = frozenset({E.BACHELOR, E.TWO_OR_MORE, E.MASTER, E.DOCTORAL})
_CANADIAN_NEEDS: Final = {
    CanadianEducation.ONE_OR_TWO_YEAR: _THREE_YEAR | {E.ONE_YEAR, E.TWO_YEAR},
    CanadianEducation.THREE_YEAR_OR_MORE: _THREE_YEAR,
}


def check(profile: CrsProfile) -> None:
    """Refuse input no real profile can have, naming the field."""
    if not 0 <= profile.age <= MAX_AGE:
        raise RulesError("age", "age_out_of_range", f"Enter an age from 0 to {MAX_AGE}.")
    if not 0 <= profile.canadian_work_years <= MAX_YEARS:
        raise RulesError(
            "canadian_work_years", "years_out_of_range", f"Enter a number of years from 0 to {MAX_YEARS}."
        )
    if not 0 <= profile.foreign_work_years <= MAX_YEARS:
        raise RulesError(
            "foreign_work_years", "years_out_of_range", f"Enter a number of years from 0 to {MAX_YEARS}."
        )
    second = profile.second_language
    if second is not None and second.language is profile.first_language.language:
        raise RulesError(
            "second_language.language",
            "same_language_twice",
            "The second official language must be the other one (English or French).",
        )
    needs = _CANADIAN_NEEDS.get(profile.canadian_education)
    if needs is not None and profile.education not in needs:
        raise RulesError(
            "canadian_education",
            "canadian_education_above_education",
            "A Canadian credential cannot be higher than your highest level of education.",
        )
    spouse = profile.spouse
    if spouse is not None and not 0 <= spouse.canadian_work_years <= MAX_YEARS:
        raise RulesError(
            "spouse.canadian_work_years",
            "years_out_of_range",
            f"Enter a number of years from 0 to {MAX_YEARS}.",
        )


def _pair_step(steps: Sequence[tuple[int, tuple[int, int]]], value: int, column: int) -> int:
    for lowest, pair in steps:
        if value >= lowest:
            return pair[column]
    return 0


@dataclass(frozen=True)
class _Lookups:
    """A table's steps unrolled into tuples indexed by level or years, per column, built once."""

    age: tuple[tuple[int, ...], tuple[int, ...]]
    first_language: tuple[tuple[int, ...], tuple[int, ...]]
    second_language: tuple[int, ...]
    canadian_work: tuple[tuple[int, ...], tuple[int, ...]]
    spouse_language: tuple[int, ...]
    spouse_canadian_work: tuple[int, ...]
    job_offer_maximum: int


def _unroll(table: CrsTable) -> _Lookups:
    def pair(
        steps: Sequence[tuple[int, tuple[int, int]]], top: int
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (
            tuple(_pair_step(steps, value, 0) for value in range(top + 1)),
            tuple(_pair_step(steps, value, 1) for value in range(top + 1)),
        )

    return _Lookups(
        age=(
            tuple(table.age.get(age, (0, 0))[0] for age in range(MAX_AGE + 1)),
            tuple(table.age.get(age, (0, 0))[1] for age in range(MAX_AGE + 1)),
        ),
        first_language=pair(table.first_language, MAX_LEVEL),
        second_language=tuple(_step(table.second_language, level) for level in range(MAX_LEVEL + 1)),
        canadian_work=pair(table.canadian_work, MAX_YEARS),
        spouse_language=tuple(_step(table.spouse_language, level) for level in range(MAX_LEVEL + 1)),
        spouse_canadian_work=tuple(
            _step(table.spouse_canadian_work, years) for years in range(MAX_YEARS + 1)
        ),
        job_offer_maximum=max(table.job_offer.values()),
    )


MAX_LEVEL: Final = 12
_LOOKUPS: Final = {version.version: _unroll(version.table) for version in CRS.versions}


def _per_ability(levels: LanguageLevels, points: Sequence[int]) -> dict[str, int]:
    # Abilities are str enums: they serve as the "reading"... keys as they are.
    return {
        ability: points[level if level <= MAX_LEVEL else MAX_LEVEL]
        for ability, level in levels.levels.items()
    }


# Build a Factor (about sixteen per score) and the result without the Python-level __new__ that a
# NamedTuple adds.
_factor: Final = partial(tuple.__new__, Factor)
_result: Final = partial(tuple.__new__, CrsResult)


def score(profile: CrsProfile, *, as_of: dt.date) -> CrsResult:
    """The CRS score of ``profile`` under the rules in force on ``as_of``.

    Written for speed as well as clarity (a crowd uses the calculator at once): the tables are
    unrolled into tuples once, and each section's sum is taken from the numbers as they are made.
    """
    check(profile)
    dated = CRS.on(as_of)
    table, lookups = dated.table, _LOOKUPS[dated.version]
    spouse = profile.spouse
    if spouse is not None and not (spouse.accompanying and not spouse.canadian_citizen_or_pr):
        spouse = None  # §A.1: scored as single (the same test as Spouse.counts, inlined)
    column = 0 if spouse is not None else 1  # (with spouse, without)
    CORE, SPOUSE, ADDITIONAL = Section.CORE, Section.SPOUSE, Section.ADDITIONAL

    # A. Core / human capital
    age = lookups.age[column][profile.age]
    education = table.education[profile.education][column]
    points = lookups.first_language[column]
    first = {
        ability: points[level if level <= MAX_LEVEL else MAX_LEVEL]
        for ability, level in profile.first_language.levels.items()
    }
    first_points = sum(first.values())
    second = _per_ability(profile.second_language, lookups.second_language) if profile.second_language else {}
    second_cap = table.second_language_cap[column]
    second_points = min(second_cap, sum(second.values()))
    canadian_work = lookups.canadian_work[column][profile.canadian_work_years]
    details: dict[str, Factor] = {
        "age": _factor((CORE, age, (100, 110)[column], _NO_PARTS)),
        "education": _factor((CORE, education, (140, 150)[column], _NO_PARTS)),
        "first_language": _factor((CORE, first_points, (128, 136)[column], first)),
        "second_language": _factor((CORE, second_points, second_cap, second)),
        "canadian_work": _factor((CORE, canadian_work, (70, 80)[column], _NO_PARTS)),
    }
    core = min(table.caps[CORE], age + education + first_points + second_points + canadian_work)

    # B. Spouse or common-law partner
    spouse_total = 0
    if spouse is not None:
        spouse_parts = _per_ability(spouse.language, lookups.spouse_language) if spouse.language else {}
        spouse_education = table.spouse_education[spouse.education]
        spouse_language = sum(spouse_parts.values())
        spouse_work = lookups.spouse_canadian_work[spouse.canadian_work_years]
        details["spouse_education"] = _factor((SPOUSE, spouse_education, 10, _NO_PARTS))
        details["spouse_language"] = _factor((SPOUSE, spouse_language, 20, spouse_parts))
        details["spouse_canadian_work"] = _factor((SPOUSE, spouse_work, 10, _NO_PARTS))
        spouse_total = min(table.caps[SPOUSE], spouse_education + spouse_language + spouse_work)

    # C. Skill transferability (§A.4): three blocks, each capped at 50, the section at 100.
    lowest = profile.first_language.lowest
    language = 2 if lowest >= 9 else 1 if lowest >= 7 else 0
    years = profile.canadian_work_years
    canadian = 2 if years >= 2 else 1 if years >= 1 else 0
    by_education = _COMBINATION[_EDUCATION_STRENGTH[profile.education]]
    abroad = profile.foreign_work_years
    by_foreign = _COMBINATION[2 if abroad >= 3 else 1 if abroad >= 1 else 0]
    block_education = min(BLOCK_CAP, by_education[language] + by_education[canadian])
    block_foreign = min(BLOCK_CAP, by_foreign[language] + by_foreign[canadian])
    certificate = 0
    if profile.certificate_of_qualification:
        certificate = 50 if lowest >= 7 else 25 if lowest >= 5 else 0
    TRANSFER = Section.TRANSFERABILITY
    details["transferability_education"] = _factor(
        (
            TRANSFER,
            block_education,
            BLOCK_CAP,
            {"with_language": by_education[language], "with_canadian_work": by_education[canadian]},
        )
    )
    details["transferability_foreign_work"] = _factor(
        (
            TRANSFER,
            block_foreign,
            BLOCK_CAP,
            {"with_language": by_foreign[language], "with_canadian_work": by_foreign[canadian]},
        )
    )
    details["transferability_certificate"] = _factor((TRANSFER, certificate, BLOCK_CAP, _NO_PARTS))
    transferability = min(table.caps[TRANSFER], block_education + block_foreign + certificate)

    # D. Additional points
    nomination = table.provincial_nomination if profile.provincial_nomination else 0
    job_offer = table.job_offer[profile.job_offer]
    french = _french_points(table, profile)
    study = table.canadian_education[profile.canadian_education]
    sibling = table.sibling if profile.sibling_in_canada else 0
    details["provincial_nomination"] = _factor((ADDITIONAL, nomination, 600, _NO_PARTS))
    details["job_offer"] = _factor((ADDITIONAL, job_offer, lookups.job_offer_maximum, _NO_PARTS))
    details["french_language"] = _factor((ADDITIONAL, french, table.french_with_english, _NO_PARTS))
    details["canadian_education"] = _factor((ADDITIONAL, study, 30, _NO_PARTS))
    details["sibling"] = _factor((ADDITIONAL, sibling, 15, _NO_PARTS))
    additional = min(table.caps[ADDITIONAL], nomination + job_offer + french + study + sibling)

    total = core + spouse_total + transferability + additional
    return _result(
        (total, core, spouse_total, transferability, additional, column == 0, dated.version, details)
    )


# Skill transferability (§A.4). Language thresholds hold in all four abilities of the first
# official language: "CLB 7+" earns the lower column, "CLB 9+" the higher.
TIER_2: Final = frozenset({E.TWO_OR_MORE, E.MASTER, E.DOCTORAL})
TIER_1: Final = frozenset({E.ONE_YEAR, E.TWO_YEAR, E.BACHELOR})  # a single bachelor's is tier 1
BLOCK_CAP: Final = 50


# (strength, band) → points: strength 1 is a tier-1 credential or 1-2 years abroad, 2 is tier 2 or
# 3+ years; band 1 is CLB 7+ or 1 year in Canada, band 2 is CLB 9+ or 2+ years.
_COMBINATION: Final = ((0, 0, 0), (0, 13, 25), (0, 25, 50))


_EDUCATION_STRENGTH: Final = {
    education: 2 if education in TIER_2 else 1 if education in TIER_1 else 0 for education in Education
}


def _french_points(table: CrsTable, profile: CrsProfile) -> int:
    """NCLC 7+ in all four French abilities: 50 with CLB 5+ in all four English abilities, 25
    otherwise (English weaker, or not tested). French may be the first or second language."""
    first, second = profile.first_language, profile.second_language
    if first.language is Language.FRENCH:
        french, english = first, second
    elif second is not None and second.language is Language.FRENCH:
        french, english = second, first
    else:
        return 0
    if french.lowest < 7:
        return 0
    if english is not None and english.lowest >= 5:
        return table.french_with_english
    return table.french_with_weak_english
