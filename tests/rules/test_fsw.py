"""The Federal Skilled Worker 67-point grid, its minimum requirements and the settlement funds,
checked against reference §C and §F.4 (immigration-rules.md). Expected numbers come from there."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from haven.rules.common import Ability, Education, Language, LanguageLevels
from haven.rules.fsw import Adaptability, FswApplicant, FswResult, assess, grid

E = Education
R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING
ABILITIES = (R, W, L, S)
AS_OF = dt.date(2026, 11, 27)

# ---------------------------------------------------------------------------------------------
# Reference tables (§C.2, §F.4)
# ---------------------------------------------------------------------------------------------

LANGUAGE_PER_ABILITY: dict[int, int] = {
    0: 0,
    1: 0,
    2: 0,
    3: 0,
    4: 0,
    5: 0,
    6: 0,
    7: 4,
    8: 5,
    9: 6,
    10: 6,
    11: 6,
    12: 6,
}  # fmt: skip  (below CLB 7: no points, and not eligible)

EDUCATION_POINTS: dict[Education, int] = {
    E.DOCTORAL: 25,
    E.MASTER: 23,
    E.TWO_OR_MORE: 22,
    E.BACHELOR: 21,
    E.TWO_YEAR: 19,
    E.ONE_YEAR: 15,
    E.SECONDARY: 5,
}

EXPERIENCE_POINTS: dict[int, int] = {0: 0, 1: 9, 2: 11, 3: 11, 4: 13, 5: 13, 6: 15, 7: 15, 10: 15, 30: 15}

AGE_POINTS: dict[int, int] = {
    0: 0, 16: 0, 17: 0,
    18: 12, 19: 12, 20: 12, 25: 12, 29: 12, 30: 12, 34: 12, 35: 12,
    36: 11, 37: 10, 38: 9, 39: 8, 40: 7, 41: 6, 42: 5, 43: 4, 44: 3, 45: 2, 46: 1,
    47: 0, 48: 0, 55: 0, 70: 0,
}  # fmt: skip

FUNDS_2025_07_07: dict[int, int] = {
    1: 15263,
    2: 19001,
    3: 23360,
    4: 28362,
    5: 32168,
    6: 36280,
    7: 40392,
    8: 40392 + 4112,
    9: 40392 + 2 * 4112,
    12: 40392 + 5 * 4112,
}

PASS_MARK = 67

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def levels(language: Language, reading: int, writing: int, listening: int, speaking: int) -> LanguageLevels:
    return LanguageLevels(language, {R: reading, W: writing, L: listening, S: speaking})


def english(level: int) -> LanguageLevels:
    return levels(Language.ENGLISH, level, level, level, level)


def french(level: int) -> LanguageLevels:
    return levels(Language.FRENCH, level, level, level, level)


# Meets every minimum requirement with 100 points: 28 + 25 + 15 + 12 + 10 + 10.
STRONG = FswApplicant(
    age=30,
    education=E.DOCTORAL,
    education_recognized=True,
    first_language=english(10),
    skilled_work_years=6,
    continuous_year_in_one_occupation=True,
    second_language=french(5),
    arranged_employment=True,
    authorized_to_work_in_canada=False,
    settlement_funds=15263,
    family_size=1,
    adaptability=Adaptability(worked_in_canada=True),
)

# Nothing beyond the minimums: used to isolate one grid factor at a time.
PLAIN = FswApplicant(
    age=50,
    education=E.SECONDARY,
    education_recognized=True,
    first_language=english(0),
    skilled_work_years=1,
)


def fsw(applicant: FswApplicant, as_of: dt.date = AS_OF) -> FswResult:
    return assess(applicant, as_of=as_of)


def unmet_codes(result: FswResult) -> set[str]:
    return {requirement.code for requirement in result.unmet}


# ---------------------------------------------------------------------------------------------
# Factor 1: language
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ability", ABILITIES)
@pytest.mark.parametrize(("level", "points"), list(LANGUAGE_PER_ABILITY.items()))
def test_each_first_language_ability_earns_the_grid_points_of_its_clb_level(
    level: int, points: int, ability: Ability
) -> None:
    first = LanguageLevels(Language.ENGLISH, {a: level if a is ability else 0 for a in ABILITIES})
    factor = grid(dataclasses.replace(PLAIN, first_language=first))["language"]
    assert factor.parts[ability.value] == points
    assert factor.points == points


@pytest.mark.parametrize(("level", "points"), list(LANGUAGE_PER_ABILITY.items()))
def test_first_language_grid_points_are_summed_over_the_four_abilities(level: int, points: int) -> None:
    assert grid(dataclasses.replace(PLAIN, first_language=french(level)))["language"].points == 4 * points


@pytest.mark.parametrize(
    ("second", "points"),
    [
        (french(5), 4),
        (french(7), 4),
        (french(12), 4),
        (levels(Language.FRENCH, 5, 9, 6, 5), 4),
        (levels(Language.FRENCH, 4, 5, 5, 5), 0),
        (levels(Language.FRENCH, 5, 5, 5, 4), 0),
        (levels(Language.FRENCH, 10, 10, 0, 10), 0),
        (french(4), 0),
        (None, 0),
    ],
)
def test_the_second_language_earns_4_points_at_clb_5_in_all_four_abilities(
    second: LanguageLevels | None, points: int
) -> None:
    factor = grid(dataclasses.replace(PLAIN, second_language=second))["language"]
    assert factor.parts["second_language"] == points
    assert factor.points == points


def test_the_language_factor_reaches_28_at_most() -> None:
    applicant = dataclasses.replace(PLAIN, first_language=english(12), second_language=french(12))
    assert grid(applicant)["language"].points == 28


# ---------------------------------------------------------------------------------------------
# Factors 2-5: education, experience, age, arranged employment
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("education", "points"), list(EDUCATION_POINTS.items()))
def test_education_earns_the_grid_points_of_its_row(education: Education, points: int) -> None:
    assert grid(dataclasses.replace(PLAIN, education=education))["education"].points == points


@pytest.mark.parametrize("education", list(EDUCATION_POINTS))
def test_a_foreign_credential_without_an_eca_earns_no_grid_points(education: Education) -> None:
    # §C.1: education counts only as a Canadian credential or a foreign one with an ECA. A foreign
    # secondary diploma without one earns 0, not the 5 of its row.
    unassessed = dataclasses.replace(PLAIN, education=education, education_recognized=False)
    assert grid(unassessed)["education"].points == 0


@pytest.mark.parametrize(("years", "points"), list(EXPERIENCE_POINTS.items()))
def test_skilled_work_experience_earns_the_grid_points_of_its_band(years: int, points: int) -> None:
    assert grid(dataclasses.replace(PLAIN, skilled_work_years=years))["experience"].points == points


@pytest.mark.parametrize(("age", "points"), list(AGE_POINTS.items()))
def test_age_earns_the_grid_points_of_its_row(age: int, points: int) -> None:
    assert grid(dataclasses.replace(PLAIN, age=age))["age"].points == points


@pytest.mark.parametrize(("arranged", "points"), [(True, 10), (False, 0)])
def test_arranged_employment_earns_10_points(arranged: bool, points: int) -> None:
    assert (
        grid(dataclasses.replace(PLAIN, arranged_employment=arranged))["arranged_employment"].points == points
    )


# ---------------------------------------------------------------------------------------------
# Factor 6: adaptability
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adaptability", "part", "points"),
    [
        (Adaptability(spouse_language_clb4=True), "spouse_language", 5),
        (Adaptability(studied_in_canada=True), "studied_in_canada", 5),
        (Adaptability(spouse_studied_in_canada=True), "spouse_studied_in_canada", 5),
        (Adaptability(worked_in_canada=True), "worked_in_canada", 10),
        (Adaptability(spouse_worked_in_canada=True), "spouse_worked_in_canada", 5),
        (Adaptability(relative_in_canada=True), "relative_in_canada", 5),
    ],
)
def test_each_adaptability_element_earns_its_points(
    adaptability: Adaptability, part: str, points: int
) -> None:
    factor = grid(dataclasses.replace(PLAIN, adaptability=adaptability))["adaptability"]
    assert factor.parts[part] == points
    assert factor.points == points


def test_arranged_employment_also_earns_5_adaptability_points() -> None:
    factor = grid(dataclasses.replace(PLAIN, arranged_employment=True))["adaptability"]
    assert factor.parts["arranged_employment"] == 5
    assert factor.points == 5


@pytest.mark.parametrize(
    ("adaptability", "arranged", "points"),
    [
        (Adaptability(), False, 0),
        (Adaptability(spouse_language_clb4=True, relative_in_canada=True), False, 10),
        (Adaptability(studied_in_canada=True, spouse_studied_in_canada=True), True, 10),
        (Adaptability(worked_in_canada=True, relative_in_canada=True), False, 10),
        (Adaptability(worked_in_canada=True), True, 10),
        (
            Adaptability(
                spouse_language_clb4=True,
                studied_in_canada=True,
                spouse_studied_in_canada=True,
                worked_in_canada=True,
                spouse_worked_in_canada=True,
                relative_in_canada=True,
            ),
            True,
            10,
        ),
    ],
)
def test_adaptability_is_capped_at_10(adaptability: Adaptability, arranged: bool, points: int) -> None:
    applicant = dataclasses.replace(PLAIN, adaptability=adaptability, arranged_employment=arranged)
    assert grid(applicant)["adaptability"].points == points


def test_the_grid_adds_up_to_100_at_most() -> None:
    result = fsw(STRONG)
    assert result.total == 100
    assert sum(factor.points for factor in result.factors.values()) == 100


# ---------------------------------------------------------------------------------------------
# Pass mark and minimum requirements
# ---------------------------------------------------------------------------------------------

# 23 (CLB 9, 9, 9, 8) + 21 (bachelor's) + 11 (2 years) + 12 (age 30) = 67
SIXTY_SEVEN = FswApplicant(
    age=30,
    education=E.BACHELOR,
    education_recognized=True,
    first_language=levels(Language.ENGLISH, 9, 9, 9, 8),
    skilled_work_years=2,
    settlement_funds=15263,
)


def test_67_points_pass() -> None:
    result = fsw(SIXTY_SEVEN)
    assert result.total == PASS_MARK
    assert result.pass_mark == PASS_MARK
    assert result.eligible
    assert result.unmet == ()


def test_66_points_fail_on_points_alone() -> None:
    result = fsw(dataclasses.replace(SIXTY_SEVEN, age=36))  # 11 age points instead of 12
    assert result.total == 66
    assert not result.eligible
    assert unmet_codes(result) == {"points"}


def test_the_strong_applicant_meets_every_requirement() -> None:
    result = fsw(STRONG)
    assert result.eligible
    assert result.unmet == ()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (dataclasses.replace(STRONG, skilled_work_years=0), "work_experience"),
        (dataclasses.replace(STRONG, continuous_year_in_one_occupation=False), "work_experience"),
        (dataclasses.replace(STRONG, first_language=levels(Language.ENGLISH, 10, 10, 10, 6)), "language"),
        (dataclasses.replace(STRONG, first_language=levels(Language.ENGLISH, 6, 10, 10, 10)), "language"),
        (dataclasses.replace(STRONG, first_language=None), "language"),
        (dataclasses.replace(STRONG, education_recognized=False), "education"),
        (dataclasses.replace(STRONG, education=E.LESS_THAN_SECONDARY), "education"),
        (
            FswApplicant(
                age=45,
                education=E.SECONDARY,
                education_recognized=True,
                first_language=english(7),
                skilled_work_years=1,
                settlement_funds=15263,
            ),
            "points",
        ),
        (dataclasses.replace(STRONG, settlement_funds=15262), "settlement_funds"),
        (dataclasses.replace(STRONG, settlement_funds=0, family_size=2), "settlement_funds"),
        (dataclasses.replace(STRONG, plans_to_live_in_quebec=True), "outside_quebec"),
    ],
)
def test_each_minimum_requirement_fails_on_its_own_with_its_code(change: FswApplicant, code: str) -> None:
    result = fsw(change)
    assert not result.eligible
    assert unmet_codes(result) == {code}


def test_clb_7_in_all_four_abilities_meets_the_language_minimum() -> None:
    result = fsw(dataclasses.replace(STRONG, first_language=english(7)))
    assert "language" not in unmet_codes(result)


# ---------------------------------------------------------------------------------------------
# Settlement funds (§F.4, figures from 7 July 2025)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [dt.date(2025, 7, 7), AS_OF])
@pytest.mark.parametrize(("family_size", "amount"), list(FUNDS_2025_07_07.items()))
def test_settlement_funds_follow_the_2025_table_by_family_size(
    family_size: int, amount: int, as_of: dt.date
) -> None:
    enough = fsw(dataclasses.replace(STRONG, family_size=family_size, settlement_funds=amount), as_of)
    short = fsw(dataclasses.replace(STRONG, family_size=family_size, settlement_funds=amount - 1), as_of)
    assert enough.funds_required == short.funds_required == amount
    assert enough.eligible
    assert unmet_codes(short) == {"settlement_funds"}


@pytest.mark.parametrize("family_size", [1, 4, 9])
def test_no_funds_are_needed_when_authorized_to_work_with_a_job_offer(family_size: int) -> None:
    applicant = dataclasses.replace(
        STRONG,
        authorized_to_work_in_canada=True,
        arranged_employment=True,
        settlement_funds=0,
        family_size=family_size,
    )
    result = fsw(applicant)
    assert result.funds_required is None
    assert result.eligible


@pytest.mark.parametrize(("authorized", "job_offer"), [(True, False), (False, True), (False, False)])
def test_funds_are_needed_unless_both_authorized_to_work_and_holding_a_job_offer(
    authorized: bool, job_offer: bool
) -> None:
    applicant = dataclasses.replace(
        STRONG, authorized_to_work_in_canada=authorized, arranged_employment=job_offer, settlement_funds=0
    )
    result = fsw(applicant)
    assert result.funds_required == 15263
    assert unmet_codes(result) == {"settlement_funds"}
