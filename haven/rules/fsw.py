"""The Federal Skilled Worker Program: minimum requirements and the 67-point selection grid.

Each unmet requirement comes back as a ``Requirement`` with a code and the figures behind it, so the
pages can say exactly why ("your writing is CLB 6; you need CLB 7"). Sources: reference §C and §F.4.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from haven.rules.common import ABILITIES, Dated, Education, History, LanguageLevels, RulesError

E = Education
PASS_MARK: Final = 67

_EDUCATION_POINTS: Final = {
    E.LESS_THAN_SECONDARY: 0,
    E.SECONDARY: 5,
    E.ONE_YEAR: 15,
    E.TWO_YEAR: 19,
    E.BACHELOR: 21,
    E.TWO_OR_MORE: 22,
    E.MASTER: 23,
    E.DOCTORAL: 25,
}  # fmt: skip  (§C.2 factor 2, IRPR s. 78)

_AGE_POINTS: Final = {36: 11, 37: 10, 38: 9, 39: 8, 40: 7, 41: 6, 42: 5, 43: 4, 44: 3, 45: 2, 46: 1}


@dataclass(frozen=True)
class FundsTable:
    """Settlement funds (CAD) by family size, and the amount for each member beyond the last row."""

    by_family_size: Mapping[int, int]
    each_additional: int

    def required(self, family_size: int) -> int:
        largest = max(self.by_family_size)
        if family_size <= largest:
            return self.by_family_size[family_size]
        return self.by_family_size[largest] + (family_size - largest) * self.each_additional


FUNDS: Final = History(
    name="settlement funds figures",
    versions=(
        # §F.4 [SECONDARY]: in force from 2025-07-07. A 2026 update probably exists but was not found.
        Dated(
            dt.date(2025, 7, 7),
            "funds-2025-07-07",
            FundsTable(
                {1: 15263, 2: 19001, 3: 23360, 4: 28362, 5: 32168, 6: 36280, 7: 40392},
                4112,
            ),
        ),
    ),
)

FSW_VERSION: Final = "fsw-2015-01-01"  # the grid as in IRPR s. 76-83 since Express Entry opened


@dataclass(frozen=True)
class Adaptability:
    """The adaptability elements (§C.2 factor 6); each counts once, the factor is capped at 10."""

    spouse_language_clb4: bool = False
    studied_in_canada: bool = False
    spouse_studied_in_canada: bool = False
    worked_in_canada: bool = False
    spouse_worked_in_canada: bool = False
    relative_in_canada: bool = False


@dataclass(frozen=True)
class FswApplicant:
    age: int
    education: Education
    education_recognized: bool  # a Canadian credential, or a foreign one with an ECA
    first_language: LanguageLevels | None  # None: no approved test yet
    skilled_work_years: int  # paid, full time or equivalent, TEER 0-3, in the last 10 years
    continuous_year_in_one_occupation: bool = True
    second_language: LanguageLevels | None = None
    arranged_employment: bool = False
    authorized_to_work_in_canada: bool = False
    settlement_funds: int = 0
    family_size: int = 1
    plans_to_live_in_quebec: bool = False
    adaptability: Adaptability = field(default_factory=Adaptability)


@dataclass(frozen=True)
class Requirement:
    """One minimum requirement: ``code`` names it, ``met`` says whether it holds, ``facts`` carry
    the figures a page needs to explain it."""

    code: str
    met: bool
    facts: Mapping[str, bool | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class GridFactor:
    points: int
    maximum: int
    parts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FswResult:
    eligible: bool
    total: int
    pass_mark: int
    factors: Mapping[str, GridFactor]
    requirements: tuple[Requirement, ...]
    funds_required: int | None  # None when exempt
    rules_version: str

    @property
    def unmet(self) -> tuple[Requirement, ...]:
        return tuple(requirement for requirement in self.requirements if not requirement.met)


def check(applicant: FswApplicant) -> None:
    if not 0 <= applicant.age <= 120:
        raise RulesError("age", "age_out_of_range", "Enter an age from 0 to 120.")
    if not 0 <= applicant.skilled_work_years <= 60:
        raise RulesError("skilled_work_years", "years_out_of_range", "Enter a number of years from 0 to 60.")
    if not 1 <= applicant.family_size <= 30:
        raise RulesError("family_size", "family_size_out_of_range", "Enter a family size from 1 to 30.")
    if applicant.settlement_funds < 0:
        raise RulesError("settlement_funds", "negative_funds", "Enter an amount of 0 or more.")


def assess(applicant: FswApplicant, *, as_of: dt.date) -> FswResult:
    """The grid and every minimum requirement, as they stand on ``as_of``."""
    check(applicant)
    funds = FUNDS.on(as_of)
    factors = grid(applicant)
    total = sum(factor.points for factor in factors.values())
    first = applicant.first_language
    lowest = first.lowest if first is not None else 0
    weakest = (
        min(ABILITIES, key=lambda ability: (first.level(ability), ABILITIES.index(ability))).value
        if first is not None
        else ""
    )
    exempt = applicant.authorized_to_work_in_canada and applicant.arranged_employment
    funds_requirement, required = settlement_funds(
        applicant.settlement_funds, applicant.family_size, exempt=exempt, table=funds.table
    )
    requirements = (
        Requirement(
            "work_experience",
            applicant.skilled_work_years >= 1 and applicant.continuous_year_in_one_occupation,
            {"years": applicant.skilled_work_years, "needed": 1},
        ),
        Requirement(
            "language",
            first is not None and lowest >= 7,
            {"lowest_level": lowest, "weakest_ability": weakest, "needed": 7},
        ),
        Requirement(
            "education",
            applicant.education is not E.LESS_THAN_SECONDARY and applicant.education_recognized,
            {"education": applicant.education.value},
        ),
        Requirement("points", total >= PASS_MARK, {"points": total, "needed": PASS_MARK}),
        funds_requirement,
        Requirement("outside_quebec", not applicant.plans_to_live_in_quebec),
    )
    return FswResult(
        eligible=all(requirement.met for requirement in requirements),
        total=total,
        pass_mark=PASS_MARK,
        factors=factors,
        requirements=requirements,
        funds_required=required,
        rules_version=f"{FSW_VERSION}+{funds.version}",
    )


def settlement_funds(
    funds: int, family_size: int, *, exempt: bool, table: FundsTable
) -> tuple[Requirement, int | None]:
    """Proof of funds (§F.4), for FSW and FST alike: exempt when authorized to work in Canada with a
    valid job offer. Returns the requirement and the amount needed (None when exempt)."""
    required = None if exempt else table.required(family_size)
    met = required is None or funds >= required
    facts = {"funds": funds, "needed": required or 0, "family_size": family_size}
    return Requirement("settlement_funds", met, facts), required


def grid(applicant: FswApplicant) -> dict[str, GridFactor]:
    """The six selection factors (§C.2), whether or not the minimum requirements are met."""
    language_parts: dict[str, int] = {}
    if applicant.first_language is not None:
        for ability in ABILITIES:
            level = applicant.first_language.level(ability)
            language_parts[ability.value] = 6 if level >= 9 else 5 if level == 8 else 4 if level == 7 else 0
    second = applicant.second_language
    language_parts["second_language"] = 4 if second is not None and second.all_at_least(5) else 0

    years = applicant.skilled_work_years
    experience = 15 if years >= 6 else 13 if years >= 4 else 11 if years >= 2 else 9 if years >= 1 else 0
    age = applicant.age
    age_points = 0 if age < 18 else 12 if age <= 35 else _AGE_POINTS.get(age, 0)

    adapt = applicant.adaptability
    adaptability_parts = {
        "spouse_language": 5 if adapt.spouse_language_clb4 else 0,
        "studied_in_canada": 5 if adapt.studied_in_canada else 0,
        "spouse_studied_in_canada": 5 if adapt.spouse_studied_in_canada else 0,
        "worked_in_canada": 10 if adapt.worked_in_canada else 0,
        "spouse_worked_in_canada": 5 if adapt.spouse_worked_in_canada else 0,
        "arranged_employment": 5 if applicant.arranged_employment else 0,
        "relative_in_canada": 5 if adapt.relative_in_canada else 0,
    }
    return {
        "language": GridFactor(sum(language_parts.values()), 28, language_parts),
        # A credential counts only if it is Canadian or assessed (ECA): §C.1, like the requirement.
        "education": GridFactor(
            _EDUCATION_POINTS[applicant.education] if applicant.education_recognized else 0, 25
        ),
        "experience": GridFactor(experience, 15),
        "age": GridFactor(age_points, 12),
        "arranged_employment": GridFactor(10 if applicant.arranged_employment else 0, 10),
        "adaptability": GridFactor(min(10, sum(adaptability_parts.values())), 10, adaptability_parts),
    }
