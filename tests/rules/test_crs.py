"""The Comprehensive Ranking System, checked against reference §A (immigration-rules.md).

Every expected number below is transcribed from the reference tables (§A.0–A.5), not from the code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.rules import clb
from haven.rules.common import Ability, Education, Language, LanguageLevels, RulesError
from haven.rules.crs import CanadianEducation, CrsProfile, CrsResult, JobOffer, Section, Spouse, score

E = Education
R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING
ABILITIES = (R, W, L, S)
AS_OF = dt.date(2026, 11, 27)
CURRENT_RULES = "crs-2025-03-25"
EARLIER_RULES = "crs-2020-10-27"

# ---------------------------------------------------------------------------------------------
# Reference tables, transcribed from §A. Pairs are (with spouse, without spouse).
# ---------------------------------------------------------------------------------------------

AGE: dict[int, tuple[int, int]] = {
    0: (0, 0), 16: (0, 0), 17: (0, 0),
    18: (90, 99), 19: (95, 105),
    20: (100, 110), 21: (100, 110), 22: (100, 110), 23: (100, 110), 24: (100, 110),
    25: (100, 110), 26: (100, 110), 27: (100, 110), 28: (100, 110), 29: (100, 110),
    30: (95, 105), 31: (90, 99), 32: (85, 94), 33: (80, 88), 34: (75, 83),
    35: (70, 77), 36: (65, 72), 37: (60, 66), 38: (55, 61), 39: (50, 55),
    40: (45, 50), 41: (35, 39), 42: (25, 28), 43: (15, 17), 44: (5, 6),
    45: (0, 0), 46: (0, 0), 60: (0, 0), 90: (0, 0),
}  # fmt: skip

EDUCATION: dict[Education, tuple[int, int]] = {
    E.LESS_THAN_SECONDARY: (0, 0),
    E.SECONDARY: (28, 30),
    E.ONE_YEAR: (84, 90),
    E.TWO_YEAR: (91, 98),
    E.BACHELOR: (112, 120),
    E.TWO_OR_MORE: (119, 128),
    E.MASTER: (126, 135),
    E.DOCTORAL: (140, 150),
}

FIRST_LANGUAGE: dict[int, tuple[int, int]] = {
    0: (0, 0), 1: (0, 0), 2: (0, 0), 3: (0, 0),
    4: (6, 6), 5: (6, 6), 6: (8, 9), 7: (16, 17), 8: (22, 23), 9: (29, 31),
    10: (32, 34), 11: (32, 34), 12: (32, 34),
}  # fmt: skip

SECOND_LANGUAGE: dict[int, int] = {
    0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 3, 8: 3, 9: 6, 10: 6, 11: 6, 12: 6,
}  # fmt: skip
SECOND_LANGUAGE_CAP = (22, 24)

CANADIAN_WORK: dict[int, tuple[int, int]] = {
    0: (0, 0), 1: (35, 40), 2: (46, 53), 3: (56, 64), 4: (63, 72), 5: (70, 80), 6: (70, 80), 15: (70, 80),
}  # fmt: skip

SPOUSE_EDUCATION: dict[Education, int] = {
    E.LESS_THAN_SECONDARY: 0,
    E.SECONDARY: 2,
    E.ONE_YEAR: 6,
    E.TWO_YEAR: 7,
    E.BACHELOR: 8,
    E.TWO_OR_MORE: 9,
    E.MASTER: 10,
    E.DOCTORAL: 10,
}
SPOUSE_LANGUAGE: dict[int, int] = {
    0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 3, 8: 3, 9: 5, 10: 5, 11: 5, 12: 5,
}  # fmt: skip
SPOUSE_CANADIAN_WORK: dict[int, int] = {0: 0, 1: 5, 2: 7, 3: 8, 4: 9, 5: 10, 6: 10, 20: 10}

# §A.4 education groups: 0 = secondary or less, 1 = tier 1 (incl. a single bachelor's), 2 = tier 2.
EDUCATION_TIER: dict[Education, int] = {
    E.LESS_THAN_SECONDARY: 0,
    E.SECONDARY: 0,
    E.ONE_YEAR: 1,
    E.TWO_YEAR: 1,
    E.BACHELOR: 1,
    E.TWO_OR_MORE: 2,
    E.MASTER: 2,
    E.DOCTORAL: 2,
}
# §A.4 block 2 groups by years of foreign work: 0 = none, 1 = one or two years, 2 = three or more.
FOREIGN_GROUP: dict[int, int] = {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 10: 2}
# Each row of blocks 1 and 2: (+ CLB 7+, + CLB 9+, + Canadian work 1 yr, + Canadian work 2+ yrs).
TRANSFERABILITY_ROW: dict[int, tuple[int, int, int, int]] = {
    0: (0, 0, 0, 0),
    1: (13, 25, 13, 25),
    2: (25, 50, 25, 50),
}
BLOCK_CAP = 50

# First-language levels (reading, writing, listening, speaking) for each language band of §A.4:
# 0 = not CLB 7 in all four, 7 = CLB 7+ (all >= 7, one below 9), 9 = CLB 9+ (all >= 9).
LANGUAGE_BANDS: list[tuple[tuple[int, int, int, int], int]] = [
    ((0, 0, 0, 0), 0),
    ((6, 6, 6, 6), 0),
    ((10, 10, 10, 6), 0),
    ((7, 7, 7, 7), 7),
    ((9, 9, 9, 8), 7),
    ((10, 12, 11, 7), 7),
    ((9, 9, 9, 9), 9),
    ((10, 11, 12, 9), 9),
]
CANADIAN_WORK_BAND: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 2, 5: 2}  # years -> 0 / "1 yr" / "2+ yrs"

SECTION_CAPS: dict[Section, tuple[int, int]] = {
    Section.CORE: (460, 500),
    Section.SPOUSE: (40, 0),
    Section.TRANSFERABILITY: (100, 100),
    Section.ADDITIONAL: (600, 600),
}
FACTOR_MAXIMA: dict[str, tuple[int, int]] = {
    "age": (100, 110),
    "education": (140, 150),
    "first_language": (128, 136),
    "second_language": (22, 24),
    "canadian_work": (70, 80),
    "spouse_education": (10, 0),
    "spouse_language": (20, 0),
    "spouse_canadian_work": (10, 0),
    "transferability_education": (50, 50),
    "transferability_foreign_work": (50, 50),
    "transferability_certificate": (50, 50),
    "provincial_nomination": (600, 600),
    "job_offer": (0, 0),
    "french_language": (50, 50),
    "canadian_education": (30, 30),
    "sibling": (15, 15),
}

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def levels(language: Language, reading: int, writing: int, listening: int, speaking: int) -> LanguageLevels:
    return LanguageLevels(language, {R: reading, W: writing, L: listening, S: speaking})


def english(level: int) -> LanguageLevels:
    return levels(Language.ENGLISH, level, level, level, level)


def french(level: int) -> LanguageLevels:
    return levels(Language.FRENCH, level, level, level, level)


SPOUSE = Spouse(accompanying=True, canadian_citizen_or_pr=False)

# A profile that earns nothing anywhere, so each test can switch on one factor alone.
NOTHING = CrsProfile(age=45, education=E.LESS_THAN_SECONDARY, first_language=english(0))


def spouse_for(with_spouse: bool) -> Spouse | None:
    return SPOUSE if with_spouse else None


def crs(profile: CrsProfile, as_of: dt.date = AS_OF) -> CrsResult:
    return score(profile, as_of=as_of)


COLUMNS = [pytest.param(True, id="with_spouse"), pytest.param(False, id="single")]


def column(with_spouse: bool) -> int:
    return 0 if with_spouse else 1


# ---------------------------------------------------------------------------------------------
# A.2 core / human capital
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize(("age", "points"), list(AGE.items()))
def test_age_earns_the_points_of_its_row(age: int, points: tuple[int, int], with_spouse: bool) -> None:
    result = crs(dataclasses.replace(NOTHING, age=age, spouse=spouse_for(with_spouse)))
    expected = points[column(with_spouse)]
    assert result.details["age"].points == expected
    assert result.core == expected


def test_age_30_earns_105_points_when_single() -> None:
    assert crs(dataclasses.replace(NOTHING, age=30)).details["age"].points == 105


def test_age_30_earns_95_points_with_an_accompanying_spouse() -> None:
    assert crs(dataclasses.replace(NOTHING, age=30, spouse=SPOUSE)).details["age"].points == 95


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize(("education", "points"), list(EDUCATION.items()))
def test_education_earns_the_points_of_its_row(
    education: Education, points: tuple[int, int], with_spouse: bool
) -> None:
    result = crs(dataclasses.replace(NOTHING, education=education, spouse=spouse_for(with_spouse)))
    expected = points[column(with_spouse)]
    assert result.details["education"].points == expected
    assert result.core == expected


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize("ability", ABILITIES)
@pytest.mark.parametrize(("level", "points"), list(FIRST_LANGUAGE.items()))
def test_each_first_language_ability_earns_the_points_of_its_clb_level(
    level: int, points: tuple[int, int], ability: Ability, with_spouse: bool
) -> None:
    first = LanguageLevels(Language.ENGLISH, {a: level if a is ability else 0 for a in ABILITIES})
    result = crs(dataclasses.replace(NOTHING, first_language=first, spouse=spouse_for(with_spouse)))
    expected = points[column(with_spouse)]
    assert result.details["first_language"].parts[ability.value] == expected
    assert result.details["first_language"].points == expected
    assert result.core == expected


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize(("level", "points"), list(FIRST_LANGUAGE.items()))
def test_first_language_points_are_summed_over_the_four_abilities(
    level: int, points: tuple[int, int], with_spouse: bool
) -> None:
    result = crs(dataclasses.replace(NOTHING, first_language=french(level), spouse=spouse_for(with_spouse)))
    assert result.details["first_language"].points == 4 * points[column(with_spouse)]


@pytest.mark.parametrize("with_spouse", COLUMNS)
def test_clb_10_in_all_four_abilities_is_the_first_language_maximum(with_spouse: bool) -> None:
    result = crs(dataclasses.replace(NOTHING, first_language=english(12), spouse=spouse_for(with_spouse)))
    assert result.details["first_language"].points == (128, 136)[column(with_spouse)]


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize("ability", ABILITIES)
@pytest.mark.parametrize(("level", "points"), list(SECOND_LANGUAGE.items()))
def test_each_second_language_ability_earns_the_points_of_its_clb_level(
    level: int, points: int, ability: Ability, with_spouse: bool
) -> None:
    second = LanguageLevels(Language.FRENCH, {a: level if a is ability else 0 for a in ABILITIES})
    profile = dataclasses.replace(NOTHING, second_language=second, spouse=spouse_for(with_spouse))
    result = crs(profile)
    assert result.details["second_language"].parts[ability.value] == points
    assert result.details["second_language"].points == points
    assert result.core == points


@pytest.mark.parametrize(
    ("second", "single", "with_spouse"),
    [
        ((9, 9, 9, 9), 24, 22),
        ((12, 10, 11, 9), 24, 22),
        ((9, 9, 9, 8), 21, 21),
        ((9, 9, 9, 7), 21, 21),
        ((8, 8, 8, 8), 12, 12),
        ((5, 6, 7, 9), 11, 11),
        ((4, 4, 4, 4), 0, 0),
    ],
)
def test_second_language_points_are_capped_at_22_with_a_spouse_and_24_single(
    second: tuple[int, int, int, int], single: int, with_spouse: bool
) -> None:
    second_language = levels(Language.FRENCH, *second)
    alone = crs(dataclasses.replace(NOTHING, second_language=second_language))
    paired = crs(dataclasses.replace(NOTHING, second_language=second_language, spouse=SPOUSE))
    assert alone.details["second_language"].points == single
    assert paired.details["second_language"].points == with_spouse
    assert (alone.core, paired.core) == (single, with_spouse)


def test_no_second_language_test_earns_no_second_language_points() -> None:
    assert (
        crs(dataclasses.replace(NOTHING, first_language=english(10))).details["second_language"].points == 0
    )


def test_a_second_language_in_the_same_language_as_the_first_is_refused() -> None:
    with pytest.raises(RulesError):
        crs(dataclasses.replace(NOTHING, first_language=english(9), second_language=english(9)))


@pytest.mark.parametrize("with_spouse", COLUMNS)
@pytest.mark.parametrize(("years", "points"), list(CANADIAN_WORK.items()))
def test_canadian_work_earns_the_points_of_its_row(
    years: int, points: tuple[int, int], with_spouse: bool
) -> None:
    result = crs(dataclasses.replace(NOTHING, canadian_work_years=years, spouse=spouse_for(with_spouse)))
    expected = points[column(with_spouse)]
    assert result.details["canadian_work"].points == expected
    assert result.core == expected


@pytest.mark.parametrize("with_spouse", COLUMNS)
def test_the_core_maximum_is_460_with_a_spouse_and_500_single(with_spouse: bool) -> None:
    profile = CrsProfile(
        age=25,
        education=E.DOCTORAL,
        first_language=english(10),
        second_language=french(10),
        canadian_work_years=5,
        spouse=spouse_for(with_spouse),
    )
    assert crs(profile).core == (460, 500)[column(with_spouse)]


# ---------------------------------------------------------------------------------------------
# A.1 / A.3 the spouse or partner
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("education", "points"), list(SPOUSE_EDUCATION.items()))
def test_spouse_education_earns_the_points_of_its_row(education: Education, points: int) -> None:
    spouse = dataclasses.replace(SPOUSE, education=education)
    result = crs(dataclasses.replace(NOTHING, spouse=spouse))
    assert result.details["spouse_education"].points == points
    assert result.spouse == points


@pytest.mark.parametrize("ability", ABILITIES)
@pytest.mark.parametrize(("level", "points"), list(SPOUSE_LANGUAGE.items()))
def test_each_spouse_language_ability_earns_the_points_of_its_clb_level(
    level: int, points: int, ability: Ability
) -> None:
    spouse_language = LanguageLevels(Language.ENGLISH, {a: level if a is ability else 0 for a in ABILITIES})
    result = crs(dataclasses.replace(NOTHING, spouse=dataclasses.replace(SPOUSE, language=spouse_language)))
    assert result.details["spouse_language"].parts[ability.value] == points
    assert result.details["spouse_language"].points == points
    assert result.spouse == points


@pytest.mark.parametrize(("level", "points"), list(SPOUSE_LANGUAGE.items()))
def test_spouse_language_points_are_summed_up_to_20(level: int, points: int) -> None:
    spouse = dataclasses.replace(SPOUSE, language=french(level))
    assert crs(dataclasses.replace(NOTHING, spouse=spouse)).spouse == 4 * points


def test_a_spouse_without_a_language_test_earns_no_language_points() -> None:
    assert crs(dataclasses.replace(NOTHING, spouse=SPOUSE)).details["spouse_language"].points == 0


@pytest.mark.parametrize(("years", "points"), list(SPOUSE_CANADIAN_WORK.items()))
def test_spouse_canadian_work_earns_the_points_of_its_row(years: int, points: int) -> None:
    spouse = dataclasses.replace(SPOUSE, canadian_work_years=years)
    result = crs(dataclasses.replace(NOTHING, spouse=spouse))
    assert result.details["spouse_canadian_work"].points == points
    assert result.spouse == points


def test_the_spouse_section_reaches_40_at_most() -> None:
    spouse = Spouse(True, False, education=E.DOCTORAL, language=english(12), canadian_work_years=30)
    assert crs(dataclasses.replace(NOTHING, spouse=spouse)).spouse == 40


@pytest.mark.parametrize(
    ("accompanying", "citizen_or_pr", "with_spouse"),
    [
        (True, False, True),
        (False, False, False),
        (True, True, False),
        (False, True, False),
    ],
)
def test_only_an_accompanying_spouse_who_is_not_a_citizen_or_pr_uses_the_spouse_columns(
    accompanying: bool, citizen_or_pr: bool, with_spouse: bool
) -> None:
    spouse = Spouse(
        accompanying,
        citizen_or_pr,
        education=E.DOCTORAL,
        language=english(10),
        canadian_work_years=5,
    )
    profile = CrsProfile(
        age=30,
        education=E.BACHELOR,
        first_language=english(9),
        canadian_work_years=1,
        spouse=spouse,
    )
    result = crs(profile)
    assert result.with_spouse is with_spouse
    # age 30, bachelor's, CLB 9 x 4, one year of Canadian work
    expected_core = 95 + 112 + 4 * 29 + 35 if with_spouse else 105 + 120 + 4 * 31 + 40
    assert result.core == expected_core
    assert result.spouse == (10 + 20 + 10 if with_spouse else 0)
    assert ("spouse_education" in result.details) is with_spouse


def test_no_spouse_is_scored_as_single() -> None:
    result = crs(dataclasses.replace(NOTHING, age=30))
    assert not result.with_spouse
    assert (result.core, result.spouse) == (105, 0)


# ---------------------------------------------------------------------------------------------
# A.4 skill transferability
# ---------------------------------------------------------------------------------------------


def _language_part(group: int, band: int) -> int:
    row = TRANSFERABILITY_ROW[group]
    return {0: 0, 7: row[0], 9: row[1]}[band]


def _canadian_part(group: int, band: int) -> int:
    row = TRANSFERABILITY_ROW[group]
    return {0: 0, 1: row[2], 2: row[3]}[band]


@pytest.mark.parametrize("canadian_years", list(CANADIAN_WORK_BAND))
@pytest.mark.parametrize(("first", "band"), LANGUAGE_BANDS)
@pytest.mark.parametrize("education", list(EDUCATION_TIER))
def test_education_transferability_combines_education_with_language_and_canadian_work(
    education: Education, first: tuple[int, int, int, int], band: int, canadian_years: int
) -> None:
    profile = CrsProfile(
        age=45,
        education=education,
        first_language=levels(Language.ENGLISH, *first),
        canadian_work_years=canadian_years,
    )
    block = crs(profile).details["transferability_education"]
    tier = EDUCATION_TIER[education]
    with_language = _language_part(tier, band)
    with_canadian_work = _canadian_part(tier, CANADIAN_WORK_BAND[canadian_years])
    assert block.parts["with_language"] == with_language
    assert block.parts["with_canadian_work"] == with_canadian_work
    assert block.points == min(BLOCK_CAP, with_language + with_canadian_work)


@pytest.mark.parametrize("canadian_years", list(CANADIAN_WORK_BAND))
@pytest.mark.parametrize(("first", "band"), LANGUAGE_BANDS)
@pytest.mark.parametrize("foreign_years", list(FOREIGN_GROUP))
def test_foreign_work_transferability_combines_foreign_work_with_language_and_canadian_work(
    foreign_years: int, first: tuple[int, int, int, int], band: int, canadian_years: int
) -> None:
    profile = CrsProfile(
        age=45,
        education=E.LESS_THAN_SECONDARY,
        first_language=levels(Language.ENGLISH, *first),
        canadian_work_years=canadian_years,
        foreign_work_years=foreign_years,
    )
    result = crs(profile)
    block = result.details["transferability_foreign_work"]
    group = FOREIGN_GROUP[foreign_years]
    with_language = _language_part(group, band)
    with_canadian_work = _canadian_part(group, CANADIAN_WORK_BAND[canadian_years])
    assert block.parts["with_language"] == with_language
    assert block.parts["with_canadian_work"] == with_canadian_work
    assert block.points == min(BLOCK_CAP, with_language + with_canadian_work)
    assert result.transferability == block.points


@pytest.mark.parametrize(
    ("education", "first", "canadian_years", "points"),
    [
        (E.TWO_OR_MORE, 9, 2, 50),
        (E.MASTER, 9, 2, 50),
        (E.DOCTORAL, 10, 5, 50),
        (E.DOCTORAL, 9, 1, 50),
        (E.MASTER, 7, 2, 50),
        (E.MASTER, 7, 1, 50),
        (E.BACHELOR, 9, 2, 50),
        (E.BACHELOR, 9, 1, 38),
        (E.ONE_YEAR, 7, 1, 26),
        (E.TWO_YEAR, 7, 2, 38),
    ],
)
def test_the_education_block_is_capped_at_50(
    education: Education, first: int, canadian_years: int, points: int
) -> None:
    profile = CrsProfile(
        age=45, education=education, first_language=english(first), canadian_work_years=canadian_years
    )
    result = crs(profile)
    assert result.details["transferability_education"].points == points
    assert result.transferability == points


@pytest.mark.parametrize(
    ("foreign_years", "first", "canadian_years", "points"),
    [
        (3, 9, 2, 50),
        (3, 9, 1, 50),
        (3, 7, 2, 50),
        (5, 7, 1, 50),
        (1, 9, 2, 50),
        (2, 9, 1, 38),
        (1, 7, 1, 26),
    ],
)
def test_the_foreign_work_block_is_capped_at_50(
    foreign_years: int, first: int, canadian_years: int, points: int
) -> None:
    profile = CrsProfile(
        age=45,
        education=E.SECONDARY,
        first_language=english(first),
        canadian_work_years=canadian_years,
        foreign_work_years=foreign_years,
    )
    result = crs(profile)
    assert result.details["transferability_foreign_work"].points == points
    assert result.transferability == points


@pytest.mark.parametrize(
    ("first", "points"),
    [
        ((0, 0, 0, 0), 0),
        ((4, 4, 4, 4), 0),
        ((4, 10, 10, 10), 0),
        ((5, 5, 5, 5), 25),
        ((6, 6, 6, 6), 25),
        ((5, 9, 9, 9), 25),
        ((7, 7, 7, 6), 25),
        ((7, 7, 7, 7), 50),
        ((9, 8, 7, 10), 50),
        ((12, 12, 12, 12), 50),
    ],
)
def test_a_certificate_of_qualification_earns_25_from_clb_5_and_50_from_clb_7(
    first: tuple[int, int, int, int], points: int
) -> None:
    profile = dataclasses.replace(
        NOTHING, first_language=levels(Language.ENGLISH, *first), certificate_of_qualification=True
    )
    result = crs(profile)
    assert result.details["transferability_certificate"].points == points
    assert result.transferability == points


def test_no_certificate_of_qualification_earns_no_certificate_points() -> None:
    result = crs(dataclasses.replace(NOTHING, first_language=english(10)))
    assert result.details["transferability_certificate"].points == 0


def test_the_certificate_uses_the_first_official_language_only() -> None:
    profile = dataclasses.replace(
        NOTHING, first_language=english(4), second_language=french(10), certificate_of_qualification=True
    )
    assert crs(profile).details["transferability_certificate"].points == 0


@pytest.mark.parametrize(
    ("education", "foreign_years", "certificate", "first", "canadian_years", "blocks", "total"),
    [
        (E.DOCTORAL, 3, True, 9, 2, (50, 50, 50), 100),
        (E.MASTER, 3, False, 9, 0, (50, 50, 0), 100),
        (E.BACHELOR, 2, True, 9, 0, (25, 25, 50), 100),
        (E.BACHELOR, 2, True, 7, 0, (13, 13, 50), 76),
        (E.ONE_YEAR, 1, False, 7, 1, (26, 26, 0), 52),
        (E.MASTER, 0, True, 6, 0, (0, 0, 25), 25),
    ],
)
def test_skill_transferability_is_capped_at_100(
    education: Education,
    foreign_years: int,
    certificate: bool,
    first: int,
    canadian_years: int,
    blocks: tuple[int, int, int],
    total: int,
) -> None:
    profile = CrsProfile(
        age=45,
        education=education,
        first_language=english(first),
        canadian_work_years=canadian_years,
        foreign_work_years=foreign_years,
        certificate_of_qualification=certificate,
    )
    result = crs(profile)
    names = ("transferability_education", "transferability_foreign_work", "transferability_certificate")
    assert tuple(result.details[name].points for name in names) == blocks
    assert result.transferability == total


# ---------------------------------------------------------------------------------------------
# A.5 additional points
# ---------------------------------------------------------------------------------------------


def test_a_provincial_nomination_earns_600_points() -> None:
    result = crs(dataclasses.replace(NOTHING, provincial_nomination=True))
    assert result.details["provincial_nomination"].points == 600
    assert result.additional == 600


@pytest.mark.parametrize(
    ("first", "second", "points"),
    [
        # French NCLC 7+ in all four, English CLB 4 or lower or not tested: 25
        (french(7), None, 25),
        (french(10), None, 25),
        (french(7), english(4), 25),
        (french(9), english(0), 25),
        (english(4), french(7), 25),
        (english(3), french(12), 25),
        # French NCLC 7+ and English CLB 5+ in all four: 50, whichever is declared first
        (french(7), english(5), 50),
        (french(10), english(10), 50),
        (english(5), french(7), 50),
        (english(10), french(9), 50),
        # French below NCLC 7 in any ability: nothing
        (french(6), english(10), 0),
        (english(10), french(6), 0),
        (levels(Language.FRENCH, 7, 7, 7, 6), english(10), 0),
        (english(10), levels(Language.FRENCH, 10, 10, 6, 10), 0),
        (levels(Language.FRENCH, 6, 9, 9, 9), None, 0),
        (english(10), None, 0),
    ],
)
def test_french_earns_25_alone_or_50_with_english_clb_5(
    first: LanguageLevels, second: LanguageLevels | None, points: int
) -> None:
    result = crs(dataclasses.replace(NOTHING, first_language=first, second_language=second))
    assert result.details["french_language"].points == points
    assert result.additional == points


@pytest.mark.parametrize(
    ("english_levels", "points"),
    [
        ((4, 4, 4, 4), 25),
        ((5, 5, 5, 5), 50),
        ((5, 10, 10, 10), 50),
    ],
)
def test_the_french_bonus_reads_english_in_all_four_abilities(
    english_levels: tuple[int, int, int, int], points: int
) -> None:
    profile = dataclasses.replace(
        NOTHING, first_language=french(8), second_language=levels(Language.ENGLISH, *english_levels)
    )
    assert crs(profile).details["french_language"].points == points


@pytest.mark.parametrize(
    ("canadian_education", "education", "points"),
    [
        (CanadianEducation.NONE, E.DOCTORAL, 0),
        (CanadianEducation.ONE_OR_TWO_YEAR, E.ONE_YEAR, 15),
        (CanadianEducation.ONE_OR_TWO_YEAR, E.TWO_YEAR, 15),
        (CanadianEducation.ONE_OR_TWO_YEAR, E.MASTER, 15),
        (CanadianEducation.THREE_YEAR_OR_MORE, E.BACHELOR, 30),
        (CanadianEducation.THREE_YEAR_OR_MORE, E.TWO_OR_MORE, 30),
        (CanadianEducation.THREE_YEAR_OR_MORE, E.MASTER, 30),
        (CanadianEducation.THREE_YEAR_OR_MORE, E.DOCTORAL, 30),
    ],
)
def test_canadian_post_secondary_education_earns_15_or_30(
    canadian_education: CanadianEducation, education: Education, points: int
) -> None:
    profile = dataclasses.replace(NOTHING, education=education, canadian_education=canadian_education)
    result = crs(profile)
    assert result.details["canadian_education"].points == points
    assert result.additional == points


def test_a_sibling_in_canada_earns_15_points() -> None:
    result = crs(dataclasses.replace(NOTHING, sibling_in_canada=True))
    assert result.details["sibling"].points == 15
    assert result.additional == 15


@pytest.mark.parametrize("job_offer", list(JobOffer))
@pytest.mark.parametrize("as_of", [dt.date(2025, 3, 25), dt.date(2025, 12, 31), AS_OF])
def test_a_job_offer_earns_nothing_from_2025_03_25(job_offer: JobOffer, as_of: dt.date) -> None:
    result = crs(dataclasses.replace(NOTHING, job_offer=job_offer), as_of=as_of)
    assert result.rules_version == CURRENT_RULES
    assert result.details["job_offer"].points == 0
    assert result.additional == 0


@pytest.mark.parametrize(
    ("job_offer", "points"),
    [(JobOffer.NONE, 0), (JobOffer.TEER_0_MAJOR_GROUP_00, 200), (JobOffer.TEER_0_TO_3, 50)],
)
@pytest.mark.parametrize("as_of", [dt.date(2020, 10, 27), dt.date(2023, 6, 1), dt.date(2025, 3, 24)])
def test_a_job_offer_earned_200_or_50_under_the_earlier_rules(
    job_offer: JobOffer, points: int, as_of: dt.date
) -> None:
    result = crs(dataclasses.replace(NOTHING, job_offer=job_offer), as_of=as_of)
    assert result.rules_version == EARLIER_RULES
    assert result.details["job_offer"].points == points
    assert result.additional == points


def test_the_earlier_rules_have_the_same_french_bonus() -> None:
    profile = dataclasses.replace(NOTHING, first_language=french(7), second_language=english(5))
    assert crs(profile, as_of=dt.date(2024, 1, 1)).details["french_language"].points == 50


@pytest.mark.parametrize(
    ("nomination", "french_first", "canadian_education", "sibling", "job_offer", "as_of", "expected"),
    [
        (True, True, CanadianEducation.THREE_YEAR_OR_MORE, True, JobOffer.NONE, AS_OF, 600),
        (True, False, CanadianEducation.NONE, True, JobOffer.NONE, AS_OF, 600),
        (False, True, CanadianEducation.THREE_YEAR_OR_MORE, True, JobOffer.NONE, AS_OF, 95),
        (
            False,
            True,
            CanadianEducation.THREE_YEAR_OR_MORE,
            True,
            JobOffer.TEER_0_MAJOR_GROUP_00,
            dt.date(2024, 1, 1),
            295,
        ),
        (
            True,
            True,
            CanadianEducation.THREE_YEAR_OR_MORE,
            True,
            JobOffer.TEER_0_MAJOR_GROUP_00,
            dt.date(2024, 1, 1),
            600,
        ),
    ],
)
def test_additional_points_are_capped_at_600(
    nomination: bool,
    french_first: bool,
    canadian_education: CanadianEducation,
    sibling: bool,
    job_offer: JobOffer,
    as_of: dt.date,
    expected: int,
) -> None:
    profile = CrsProfile(
        age=45,
        education=E.DOCTORAL,
        first_language=french(9) if french_first else english(9),
        second_language=english(9) if french_first else None,
        canadian_education=canadian_education,
        provincial_nomination=nomination,
        sibling_in_canada=sibling,
        job_offer=job_offer,
    )
    assert crs(profile, as_of=as_of).additional == expected


@pytest.mark.parametrize("with_spouse", COLUMNS)
def test_the_best_possible_profile_scores_exactly_1200(with_spouse: bool) -> None:
    spouse = (
        Spouse(True, False, education=E.DOCTORAL, language=english(10), canadian_work_years=5)
        if with_spouse
        else None
    )
    profile = CrsProfile(
        age=25,
        education=E.DOCTORAL,
        first_language=french(12),
        second_language=english(12),
        canadian_education=CanadianEducation.THREE_YEAR_OR_MORE,
        canadian_work_years=10,
        foreign_work_years=10,
        certificate_of_qualification=True,
        provincial_nomination=True,
        sibling_in_canada=True,
        spouse=spouse,
        job_offer=JobOffer.TEER_0_MAJOR_GROUP_00,
    )
    result = crs(profile)
    assert (result.core, result.spouse) == ((460, 40) if with_spouse else (500, 0))
    assert (result.transferability, result.additional) == (100, 600)
    assert result.total == 1200


def test_the_result_names_the_rules_in_force() -> None:
    assert crs(NOTHING).rules_version == CURRENT_RULES


# ---------------------------------------------------------------------------------------------
# A.7 implementation pitfalls, one regression test each
# ---------------------------------------------------------------------------------------------


def test_a_single_bachelors_degree_is_tier_one_in_transferability() -> None:
    # Pitfall 1: a single bachelor's earns 13 (CLB 7+) / 25 (CLB 9+), not the tier-2 25 / 50.
    at_clb_7 = crs(CrsProfile(age=45, education=E.BACHELOR, first_language=english(7)))
    at_clb_9 = crs(CrsProfile(age=45, education=E.BACHELOR, first_language=english(9)))
    with_canadian_work = crs(
        CrsProfile(age=45, education=E.BACHELOR, first_language=english(0), canadian_work_years=1)
    )
    assert at_clb_7.details["transferability_education"].points == 13
    assert at_clb_9.details["transferability_education"].points == 25
    assert with_canadian_work.details["transferability_education"].points == 13
    two_credentials = crs(CrsProfile(age=45, education=E.TWO_OR_MORE, first_language=english(9)))
    assert two_credentials.details["transferability_education"].points == 50


def test_the_education_and_foreign_work_blocks_each_stop_at_50_before_the_100_cap() -> None:
    # Pitfall 2: master's + CLB 9 (50) + 2 years in Canada (50) is 50, not 100.
    profile = CrsProfile(age=45, education=E.MASTER, first_language=english(9), canadian_work_years=2)
    assert crs(profile).transferability == 50
    foreign = CrsProfile(
        age=45, education=E.SECONDARY, first_language=english(9), canadian_work_years=2, foreign_work_years=3
    )
    assert crs(foreign).transferability == 50


def test_a_nomination_and_a_sibling_are_capped_at_600_not_615() -> None:
    # Pitfall 3
    result = crs(dataclasses.replace(NOTHING, provincial_nomination=True, sibling_in_canada=True))
    assert result.additional == 600
    assert result.total == 600


def test_a_job_offer_no_longer_earns_50_or_200_points() -> None:
    # Pitfall 4
    for offer in (JobOffer.TEER_0_MAJOR_GROUP_00, JobOffer.TEER_0_TO_3):
        result = crs(dataclasses.replace(NOTHING, job_offer=offer))
        assert result.details["job_offer"].points == 0
        assert result.total == 0


def test_the_french_bonus_is_50_for_bilingual_candidates_and_25_for_french_only() -> None:
    # Pitfall 5: not inverted.
    french_only = crs(dataclasses.replace(NOTHING, first_language=french(9)))
    bilingual = crs(dataclasses.replace(NOTHING, first_language=french(9), second_language=english(9)))
    assert french_only.details["french_language"].points == 25
    assert bilingual.details["french_language"].points == 50


def test_core_language_points_are_counted_per_ability_not_from_the_weakest_one() -> None:
    # Pitfall 6: CLB 10, 10, 10 and 4 is 3 x 34 + 6 single, 3 x 32 + 6 with a spouse.
    first = levels(Language.ENGLISH, 10, 10, 10, 4)
    assert crs(dataclasses.replace(NOTHING, first_language=first)).details["first_language"].points == 108
    paired = crs(dataclasses.replace(NOTHING, first_language=first, spouse=SPOUSE))
    assert paired.details["first_language"].points == 102
    # ...while transferability still needs all four at CLB 7: nothing here.
    assert crs(dataclasses.replace(NOTHING, education=E.DOCTORAL, first_language=first)).transferability == 0


def test_a_spouse_who_is_a_citizen_or_stays_behind_earns_nothing_even_with_stale_answers() -> None:
    # Pitfall 7
    single = crs(dataclasses.replace(NOTHING, age=25))
    stale = Spouse(True, False, education=E.DOCTORAL, language=english(10), canadian_work_years=5)
    for spouse in (
        dataclasses.replace(stale, accompanying=False),
        dataclasses.replace(stale, canadian_citizen_or_pr=True),
    ):
        result = crs(dataclasses.replace(NOTHING, age=25, spouse=spouse))
        assert not result.with_spouse
        assert result.spouse == 0
        assert result.total == single.total == 110


def test_tef_scores_are_read_from_the_ancien_score_column() -> None:
    # Pitfall 8: 263 / 393 / 316 / 393 are NCLC 10 on the "ancien score" scale (§B.5 a); the same
    # values on the /699 scales would be below NCLC 4.
    result = clb.convert(clb.Test.TEF_CANADA, Language.FRENCH, {R: 263, W: 393, L: 316, S: 393})
    assert dict(result.levels) == {R: 10, W: 10, L: 10, S: 10}
    with pytest.raises(RulesError) as caught:
        clb.convert(clb.Test.TEF_CANADA, Language.FRENCH, {R: 546, W: 558, L: 546, S: 556})
    assert caught.value.field == "reading"


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------------------------

EDUCATION_ORDER = list(EDUCATION)  # lowest to highest, as the reference lists them
level_st = st.integers(min_value=0, max_value=12)


@st.composite
def language_levels(draw: st.DrawFn, language: Language) -> LanguageLevels:
    return LanguageLevels(language, {ability: draw(level_st) for ability in ABILITIES})


@st.composite
def spouses(draw: st.DrawFn) -> Spouse:
    return Spouse(
        accompanying=draw(st.booleans()),
        canadian_citizen_or_pr=draw(st.booleans()),
        education=draw(st.sampled_from(EDUCATION_ORDER)),
        language=draw(st.none() | language_levels(draw(st.sampled_from(list(Language))))),
        canadian_work_years=draw(st.integers(0, 12)),
    )


def _canadian_education_allowed(education: Education) -> list[CanadianEducation]:
    allowed = [CanadianEducation.NONE]
    if education in (E.ONE_YEAR, E.TWO_YEAR, E.BACHELOR, E.TWO_OR_MORE, E.MASTER, E.DOCTORAL):
        allowed.append(CanadianEducation.ONE_OR_TWO_YEAR)
    if education in (E.BACHELOR, E.TWO_OR_MORE, E.MASTER, E.DOCTORAL):
        allowed.append(CanadianEducation.THREE_YEAR_OR_MORE)
    return allowed


@st.composite
def profiles(draw: st.DrawFn) -> CrsProfile:
    first_language = draw(st.sampled_from(list(Language)))
    other = Language.FRENCH if first_language is Language.ENGLISH else Language.ENGLISH
    education = draw(st.sampled_from(EDUCATION_ORDER))
    return CrsProfile(
        age=draw(st.integers(0, 80)),
        education=education,
        first_language=draw(language_levels(first_language)),
        canadian_education=draw(st.sampled_from(_canadian_education_allowed(education))),
        second_language=draw(st.none() | language_levels(other)),
        canadian_work_years=draw(st.integers(0, 12)),
        foreign_work_years=draw(st.integers(0, 12)),
        certificate_of_qualification=draw(st.booleans()),
        provincial_nomination=draw(st.booleans()),
        sibling_in_canada=draw(st.booleans()),
        spouse=draw(st.none() | spouses()),
        job_offer=draw(st.sampled_from(list(JobOffer))),
    )


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


@PROPERTY_SETTINGS
@given(profiles())
def test_the_total_stays_within_0_and_1200_and_each_section_within_its_cap(profile: CrsProfile) -> None:
    result = crs(profile)
    assert 0 <= result.total <= 1200
    col = column(result.with_spouse)
    for section, caps in SECTION_CAPS.items():
        assert 0 <= result.section_total(section) <= caps[col]
    for name, factor in result.details.items():
        assert 0 <= factor.points <= FACTOR_MAXIMA[name][col], name
    assert result.core + result.spouse <= 500
    assert result.core + result.spouse + result.transferability <= 600


@PROPERTY_SETTINGS
@given(profiles())
def test_each_section_is_its_capped_detail_sum_and_the_total_is_their_sum(profile: CrsProfile) -> None:
    result = crs(profile)
    col = column(result.with_spouse)
    for section, caps in SECTION_CAPS.items():
        details = sum(factor.points for factor in result.details.values() if factor.section is section)
        assert result.section_total(section) == min(caps[col], details)
    assert result.total == result.core + result.spouse + result.transferability + result.additional


@PROPERTY_SETTINGS
@given(profiles())
def test_spouse_columns_apply_exactly_when_the_spouse_comes_and_is_not_a_citizen_or_pr(
    profile: CrsProfile,
) -> None:
    spouse = profile.spouse
    expected = spouse is not None and spouse.accompanying and not spouse.canadian_citizen_or_pr
    result = crs(profile)
    assert result.with_spouse is expected
    assert result.details["age"].points == AGE.get(profile.age, (0, 0))[column(expected)]


def _improvements(profile: CrsProfile, data: st.DataObject) -> list[tuple[str, CrsProfile]]:
    better: list[tuple[str, CrsProfile]] = []
    if profile.age < 20:
        better.append(("age", dataclasses.replace(profile, age=profile.age + 1)))
    elif profile.age > 29:
        better.append(("age", dataclasses.replace(profile, age=profile.age - 1)))
    rank = EDUCATION_ORDER.index(profile.education)
    if rank + 1 < len(EDUCATION_ORDER):
        better.append(("education", dataclasses.replace(profile, education=EDUCATION_ORDER[rank + 1])))
    ability = data.draw(st.sampled_from(ABILITIES))
    first = profile.first_language
    if first.level(ability) < 12:
        raised = LanguageLevels(first.language, {**first.levels, ability: first.level(ability) + 1})
        better.append((f"first_language.{ability}", dataclasses.replace(profile, first_language=raised)))
    second = profile.second_language
    if second is not None and second.level(ability) < 12:
        raised = LanguageLevels(second.language, {**second.levels, ability: second.level(ability) + 1})
        better.append((f"second_language.{ability}", dataclasses.replace(profile, second_language=raised)))
    spouse = profile.spouse
    if spouse is not None:
        if spouse.language is not None and spouse.language.level(ability) < 12:
            old = spouse.language
            raised = LanguageLevels(old.language, {**old.levels, ability: old.level(ability) + 1})
            better.append(
                (
                    "spouse.language",
                    dataclasses.replace(profile, spouse=dataclasses.replace(spouse, language=raised)),
                )
            )
        better.append(
            (
                "spouse.canadian_work_years",
                dataclasses.replace(
                    profile,
                    spouse=dataclasses.replace(spouse, canadian_work_years=spouse.canadian_work_years + 1),
                ),
            )
        )
        spouse_rank = EDUCATION_ORDER.index(spouse.education)
        if spouse_rank + 1 < len(EDUCATION_ORDER):
            higher = dataclasses.replace(spouse, education=EDUCATION_ORDER[spouse_rank + 1])
            better.append(("spouse.education", dataclasses.replace(profile, spouse=higher)))
    better.append(
        (
            "canadian_work_years",
            dataclasses.replace(profile, canadian_work_years=profile.canadian_work_years + 1),
        )
    )
    better.append(
        (
            "foreign_work_years",
            dataclasses.replace(profile, foreign_work_years=profile.foreign_work_years + 1),
        )
    )
    better.append(("provincial_nomination", dataclasses.replace(profile, provincial_nomination=True)))
    better.append(("sibling_in_canada", dataclasses.replace(profile, sibling_in_canada=True)))
    better.append(("certificate", dataclasses.replace(profile, certificate_of_qualification=True)))
    allowed = _canadian_education_allowed(profile.education)
    better.append(("canadian_education", dataclasses.replace(profile, canadian_education=allowed[-1])))
    return better


@PROPERTY_SETTINGS
@given(profiles(), st.data())
def test_improving_any_single_factor_never_lowers_the_total(profile: CrsProfile, data: st.DataObject) -> None:
    before = crs(profile).total
    for name, better in _improvements(profile, data):
        assert crs(better).total >= before, name
