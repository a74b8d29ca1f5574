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
from typing import Final

from haven.rules.common import (
    ABILITIES,
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


@dataclass(frozen=True)
class Factor:
    section: Section
    points: int
    maximum: int
    parts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CrsResult:
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


def check(profile: CrsProfile) -> None:
    """Refuse input no real profile can have, naming the field."""
    if not 0 <= profile.age <= MAX_AGE:
        raise RulesError("age", "age_out_of_range", f"Enter an age from 0 to {MAX_AGE}.")
    for name in ("canadian_work_years", "foreign_work_years"):
        if not 0 <= getattr(profile, name) <= MAX_YEARS:
            raise RulesError(name, "years_out_of_range", f"Enter a number of years from 0 to {MAX_YEARS}.")
    second = profile.second_language
    if second is not None and second.language is profile.first_language.language:
        raise RulesError(
            "second_language.language",
            "same_language_twice",
            "The second official language must be the other one (English or French).",
        )
    three_year = {E.BACHELOR, E.TWO_OR_MORE, E.MASTER, E.DOCTORAL}
    needs = {
        CanadianEducation.ONE_OR_TWO_YEAR: three_year | {E.ONE_YEAR, E.TWO_YEAR},
        CanadianEducation.THREE_YEAR_OR_MORE: three_year,
    }.get(profile.canadian_education)
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


def score(profile: CrsProfile, *, as_of: dt.date) -> CrsResult:
    """The CRS score of ``profile`` under the rules in force on ``as_of``."""
    check(profile)
    dated = CRS.on(as_of)
    table = dated.table
    spouse = profile.spouse if profile.spouse is not None and profile.spouse.counts else None
    column = 0 if spouse is not None else 1  # (with spouse, without)
    details: dict[str, Factor] = {}

    # A. Core / human capital
    details["age"] = Factor(Section.CORE, table.age.get(profile.age, (0, 0))[column], (100, 110)[column])
    details["education"] = Factor(
        Section.CORE, table.education[profile.education][column], (140, 150)[column]
    )
    first = {
        ability.value: _first_language_points(table, profile.first_language.level(ability), column)
        for ability in ABILITIES
    }
    details["first_language"] = Factor(Section.CORE, sum(first.values()), (128, 136)[column], first)
    second_parts: dict[str, int] = {}
    if profile.second_language is not None:
        second_parts = {
            ability.value: _step(table.second_language, profile.second_language.level(ability))
            for ability in ABILITIES
        }
    cap = table.second_language_cap[column]
    details["second_language"] = Factor(Section.CORE, min(cap, sum(second_parts.values())), cap, second_parts)
    details["canadian_work"] = Factor(
        Section.CORE,
        _pair_step(table.canadian_work, profile.canadian_work_years, column),
        (70, 80)[column],
    )

    # B. Spouse or common-law partner
    if spouse is not None:
        details["spouse_education"] = Factor(Section.SPOUSE, table.spouse_education[spouse.education], 10)
        spouse_parts = (
            {
                ability.value: _step(table.spouse_language, spouse.language.level(ability))
                for ability in ABILITIES
            }
            if spouse.language is not None
            else {}
        )
        details["spouse_language"] = Factor(Section.SPOUSE, sum(spouse_parts.values()), 20, spouse_parts)
        details["spouse_canadian_work"] = Factor(
            Section.SPOUSE, _step(table.spouse_canadian_work, spouse.canadian_work_years), 10
        )

    # C. Skill transferability
    details.update(_transferability(profile))

    # D. Additional points
    details["provincial_nomination"] = Factor(
        Section.ADDITIONAL, table.provincial_nomination if profile.provincial_nomination else 0, 600
    )
    details["job_offer"] = Factor(
        Section.ADDITIONAL, table.job_offer[profile.job_offer], max(table.job_offer.values())
    )
    details["french_language"] = Factor(
        Section.ADDITIONAL, _french_points(table, profile), table.french_with_english
    )
    details["canadian_education"] = Factor(
        Section.ADDITIONAL, table.canadian_education[profile.canadian_education], 30
    )
    details["sibling"] = Factor(Section.ADDITIONAL, table.sibling if profile.sibling_in_canada else 0, 15)

    totals = {
        section: min(
            table.caps[section],
            sum(factor.points for factor in details.values() if factor.section is section),
        )
        for section in Section
    }
    return CrsResult(
        total=sum(totals.values()),
        core=totals[Section.CORE],
        spouse=totals[Section.SPOUSE],
        transferability=totals[Section.TRANSFERABILITY],
        additional=totals[Section.ADDITIONAL],
        with_spouse=spouse is not None,
        rules_version=dated.version,
        details=details,
    )


def _first_language_points(table: CrsTable, level: int, column: int) -> int:
    for lowest, pair in table.first_language:
        if level >= lowest:
            return pair[column]
    return 0


def _pair_step(steps: Sequence[tuple[int, tuple[int, int]]], value: int, column: int) -> int:
    for lowest, pair in steps:
        if value >= lowest:
            return pair[column]
    return 0


# Skill transferability (§A.4). Language thresholds hold in all four abilities of the first
# official language: "CLB 7+" earns the lower column, "CLB 9+" the higher.
TIER_2: Final = frozenset({E.TWO_OR_MORE, E.MASTER, E.DOCTORAL})
TIER_1: Final = frozenset({E.ONE_YEAR, E.TWO_YEAR, E.BACHELOR})  # a single bachelor's is tier 1
BLOCK_CAP: Final = 50


def _transferability(profile: CrsProfile) -> dict[str, Factor]:
    lowest = profile.first_language.lowest
    language_band = 2 if lowest >= 9 else 1 if lowest >= 7 else 0
    canadian_band = 2 if profile.canadian_work_years >= 2 else 1 if profile.canadian_work_years >= 1 else 0

    def combination(strength: int, band: int) -> int:
        # strength 1 (tier 1, or 1-2 years abroad): 13/25; strength 2: 25/50.
        if strength == 0 or band == 0:
            return 0
        return {(1, 1): 13, (1, 2): 25, (2, 1): 25, (2, 2): 50}[(strength, band)]

    education = 2 if profile.education in TIER_2 else 1 if profile.education in TIER_1 else 0
    foreign = 2 if profile.foreign_work_years >= 3 else 1 if profile.foreign_work_years >= 1 else 0
    education_parts = {
        "with_language": combination(education, language_band),
        "with_canadian_work": combination(education, canadian_band),
    }
    foreign_parts = {
        "with_language": combination(foreign, language_band),
        "with_canadian_work": combination(foreign, canadian_band),
    }
    certificate = 0
    if profile.certificate_of_qualification:
        certificate = 50 if lowest >= 7 else 25 if lowest >= 5 else 0
    return {
        "transferability_education": Factor(
            Section.TRANSFERABILITY, min(BLOCK_CAP, sum(education_parts.values())), BLOCK_CAP, education_parts
        ),
        "transferability_foreign_work": Factor(
            Section.TRANSFERABILITY, min(BLOCK_CAP, sum(foreign_parts.values())), BLOCK_CAP, foreign_parts
        ),
        "transferability_certificate": Factor(Section.TRANSFERABILITY, certificate, BLOCK_CAP),
    }


def _french_points(table: CrsTable, profile: CrsProfile) -> int:
    """NCLC 7+ in all four French abilities: 50 with CLB 5+ in all four English abilities, 25
    otherwise (English weaker, or not tested). French may be the first or second language."""
    results = [r for r in (profile.first_language, profile.second_language) if r is not None]
    french = next((r for r in results if r.language is Language.FRENCH), None)
    english = next((r for r in results if r.language is Language.ENGLISH), None)
    if french is None or not french.all_at_least(7):
        return 0
    if english is not None and english.all_at_least(5):
        return table.french_with_english
    return table.french_with_weak_english
