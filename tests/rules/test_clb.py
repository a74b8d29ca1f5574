"""Language test scores to CLB/NCLC levels, checked against reference §B (immigration-rules.md).

Every expected number below is transcribed from the reference (§B.2–B.7), not from the code's charts.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from haven.rules import clb, crs
from haven.rules.clb import convert
from haven.rules.common import Ability, Education, Language, LanguageLevels, RulesError

R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING
AS_OF = dt.date(2026, 11, 27)
LanguageTest = clb.Test  # aliased: pytest would try to collect a class named `Test`

# Lowest score for each level, as (reading, writing, listening, speaking) — §B.2 [OFFICIAL].
IELTS_MINIMUMS: dict[int, tuple[float, float, float, float]] = {
    10: (8.0, 7.5, 8.5, 7.5),
    9: (7.0, 7.0, 8.0, 7.0),
    8: (6.5, 6.5, 7.5, 6.5),
    7: (6.0, 6.0, 6.0, 6.0),
    6: (5.0, 5.5, 5.5, 5.5),
    5: (4.0, 5.0, 5.0, 5.0),
    4: (3.5, 4.0, 4.5, 4.0),
}

# Score ranges per level as ((low, high) reading, writing, listening, speaking) — §B.4 PTE Core.
PTE_RANGES: dict[int, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    10: ((88, 90), (90, 90), (89, 90), (89, 90)),
    9: ((78, 87), (88, 89), (82, 88), (84, 88)),
    8: ((69, 77), (79, 87), (71, 81), (76, 83)),
    7: ((60, 68), (69, 78), (60, 70), (68, 75)),
    6: ((51, 59), (60, 68), (50, 59), (59, 67)),
    5: ((42, 50), (51, 59), (39, 49), (51, 58)),
    4: ((33, 41), (41, 50), (28, 38), (42, 50)),
    3: ((24, 32), (32, 40), (18, 27), (34, 41)),
}

# §B.5 (a) TEF Canada "Équivalence ancien score" — the column Express Entry reads.
TEF_RANGES: dict[int, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    10: ((263, 300), (393, 450), (316, 360), (393, 450)),
    9: ((248, 262), (371, 392), (298, 315), (371, 392)),
    8: ((233, 247), (349, 370), (280, 297), (349, 370)),
    7: ((207, 232), (310, 348), (249, 279), (310, 348)),
    6: ((181, 206), (271, 309), (217, 248), (271, 309)),
    5: ((151, 180), (226, 270), (181, 216), (226, 270)),
    4: ((121, 150), (181, 225), (145, 180), (181, 225)),
}

# §B.6 TCF Canada: reading and listening out of 699, writing and speaking out of 20.
TCF_RANGES: dict[int, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    10: ((549, 699), (16, 20), (549, 699), (16, 20)),
    9: ((524, 548), (14, 15), (523, 548), (14, 15)),
    8: ((499, 523), (12, 13), (503, 522), (12, 13)),
    7: ((453, 498), (10, 11), (458, 502), (10, 11)),
    6: ((406, 452), (7, 9), (398, 457), (7, 9)),
    5: ((375, 405), (6, 6), (369, 397), (6, 6)),
    4: ((342, 374), (4, 5), (331, 368), (4, 5)),
}

COLUMNS = (R, W, L, S)  # the column order of the reference tables

# A valid score for every ability of each test (CLB 7 / NCLC 7), so one ability can be varied alone.
VALID: dict[LanguageTest, dict[Ability, float]] = {
    LanguageTest.IELTS_GENERAL: {R: 6.0, W: 6.0, L: 6.0, S: 6.0},
    LanguageTest.CELPIP_GENERAL: {R: 7, W: 7, L: 7, S: 7},
    LanguageTest.PTE_CORE: {R: 60, W: 69, L: 60, S: 68},
    LanguageTest.TEF_CANADA: {R: 207, W: 310, L: 249, S: 310},
    LanguageTest.TCF_CANADA: {R: 453, W: 10, L: 458, S: 10},
}
LANGUAGE: dict[LanguageTest, Language] = {
    LanguageTest.IELTS_GENERAL: Language.ENGLISH,
    LanguageTest.CELPIP_GENERAL: Language.ENGLISH,
    LanguageTest.PTE_CORE: Language.ENGLISH,
    LanguageTest.TEF_CANADA: Language.FRENCH,
    LanguageTest.TCF_CANADA: Language.FRENCH,
}
STEP: dict[LanguageTest, float] = {
    LanguageTest.IELTS_GENERAL: 0.5,
    LanguageTest.CELPIP_GENERAL: 1,
    LanguageTest.PTE_CORE: 1,
    LanguageTest.TEF_CANADA: 1,
    LanguageTest.TCF_CANADA: 1,
}
LOWEST_LEVEL: dict[LanguageTest, int] = {
    LanguageTest.IELTS_GENERAL: 4,
    LanguageTest.CELPIP_GENERAL: 4,
    LanguageTest.PTE_CORE: 3,
    LanguageTest.TEF_CANADA: 4,
    LanguageTest.TCF_CANADA: 4,
}


def level_of(test: LanguageTest, ability: Ability, score: float) -> int:
    scores = dict(VALID[test])
    scores[ability] = score
    return convert(test, LANGUAGE[test], scores).level(ability)


def _ranged(
    test: LanguageTest,
    table: dict[int, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]],
) -> list[tuple[LanguageTest, Ability, int, int, int]]:
    return [
        (test, ability, level, ranges[i][0], ranges[i][1])
        for level, ranges in table.items()
        for i, ability in enumerate(COLUMNS)
    ]


THRESHOLDS: list[tuple[LanguageTest, Ability, int, float]] = [
    (LanguageTest.IELTS_GENERAL, ability, level, minimums[i])
    for level, minimums in IELTS_MINIMUMS.items()
    for i, ability in enumerate(COLUMNS)
]
THRESHOLDS += [(LanguageTest.CELPIP_GENERAL, ability, n, n) for n in range(4, 11) for ability in COLUMNS]
RANGES = _ranged(LanguageTest.PTE_CORE, PTE_RANGES) + _ranged(LanguageTest.TEF_CANADA, TEF_RANGES)
RANGES += _ranged(LanguageTest.TCF_CANADA, TCF_RANGES)
THRESHOLDS += [(test, ability, level, low) for test, ability, level, low, _high in RANGES]


def _id(test: LanguageTest, ability: Ability, level: int, score: float) -> str:
    return f"{test.value}-{ability.value}-clb{level}-{score:g}"


@pytest.mark.parametrize(
    ("test", "ability", "level", "score"),
    THRESHOLDS,
    ids=[_id(*row) for row in THRESHOLDS],
)
def test_a_score_exactly_at_a_threshold_earns_that_level(
    test: LanguageTest, ability: Ability, level: int, score: float
) -> None:
    assert level_of(test, ability, score) == level


@pytest.mark.parametrize(
    ("test", "ability", "level", "score"),
    THRESHOLDS,
    ids=[_id(*row) for row in THRESHOLDS],
)
def test_a_score_just_below_a_threshold_earns_the_level_beneath(
    test: LanguageTest, ability: Ability, level: int, score: float
) -> None:
    below = level_of(test, ability, score - STEP[test])
    if level > LOWEST_LEVEL[test]:
        assert below == level - 1
    else:
        assert below < LOWEST_LEVEL[test]


@pytest.mark.parametrize(
    ("test", "ability", "level", "low", "high"),
    RANGES,
    ids=[_id(test, ability, level, high) for test, ability, level, _low, high in RANGES],
)
def test_the_top_of_each_score_range_still_earns_that_level(
    test: LanguageTest, ability: Ability, level: int, low: int, high: int
) -> None:
    assert level_of(test, ability, high) == level
    assert level_of(test, ability, (low + high) // 2) == level


@pytest.mark.parametrize(
    ("test", "ability", "score", "level"),
    [
        # §B.2: "reading 7.0–7.5 = CLB 9; listening 6.0–7.0 = CLB 7".
        (LanguageTest.IELTS_GENERAL, R, 7.5, 9),
        (LanguageTest.IELTS_GENERAL, L, 6.5, 7),
        (LanguageTest.IELTS_GENERAL, L, 7.0, 7),
        (LanguageTest.IELTS_GENERAL, R, 5.5, 6),
        (LanguageTest.IELTS_GENERAL, R, 4.5, 5),
        (LanguageTest.IELTS_GENERAL, W, 8.5, 10),
        (LanguageTest.IELTS_GENERAL, S, 9.0, 10),
        (LanguageTest.IELTS_GENERAL, L, 9.0, 10),
        (LanguageTest.PTE_CORE, R, 65, 7),
        (LanguageTest.PTE_CORE, W, 89, 9),
        (LanguageTest.TEF_CANADA, R, 220, 7),
        (LanguageTest.TEF_CANADA, L, 300, 9),
        (LanguageTest.TCF_CANADA, R, 470, 7),
        (LanguageTest.TCF_CANADA, S, 8, 6),
    ],
)
def test_a_score_between_two_thresholds_earns_the_lower_level(
    test: LanguageTest, ability: Ability, score: float, level: int
) -> None:
    assert level_of(test, ability, score) == level


def test_listening_4_0_in_ielts_is_below_clb_4() -> None:
    # §B.2: "listening 4.0 = below CLB 4"
    assert level_of(LanguageTest.IELTS_GENERAL, L, 4.0) < 4


@pytest.mark.parametrize("ability", COLUMNS)
@pytest.mark.parametrize("score", [11, 12])
def test_celpip_11_and_12_count_as_clb_10_or_more(ability: Ability, score: int) -> None:
    # §B.3: "CELPIP 11–12 count as CLB 10+ for the CRS".
    assert level_of(LanguageTest.CELPIP_GENERAL, ability, score) >= 10


@pytest.mark.parametrize("score", [0, 1, 2, 3])
def test_celpip_below_4_is_below_clb_4_and_earns_no_crs_points(score: int) -> None:
    levels = convert(LanguageTest.CELPIP_GENERAL, Language.ENGLISH, dict.fromkeys(COLUMNS, score))
    assert levels.lowest < 4
    assert first_language_points(levels, with_spouse=False) == dict.fromkeys(COLUMNS, 0)


@pytest.mark.parametrize(
    ("test", "ability", "score"),
    [
        *[(LanguageTest.IELTS_GENERAL, a, s) for a in COLUMNS for s in (9.5, 7.25, -1, -0.5, 10, 6.1)],
        *[(LanguageTest.CELPIP_GENERAL, a, s) for a in COLUMNS for s in (-1, 13, 7.5)],
        *[(LanguageTest.PTE_CORE, a, s) for a in COLUMNS for s in (9, 91, 0, 100, 60.5)],
        (LanguageTest.TEF_CANADA, R, 301),
        (LanguageTest.TEF_CANADA, W, 451),
        (LanguageTest.TEF_CANADA, L, 361),
        (LanguageTest.TEF_CANADA, S, 451),
        *[(LanguageTest.TEF_CANADA, a, s) for a in COLUMNS for s in (-1, 250.5)],
        (LanguageTest.TCF_CANADA, W, 21),
        (LanguageTest.TCF_CANADA, S, 21),
        (LanguageTest.TCF_CANADA, R, 700),
        (LanguageTest.TCF_CANADA, L, 700),
        *[(LanguageTest.TCF_CANADA, a, s) for a in COLUMNS for s in (-1, 10.5)],
        *[(t, a, s) for t in VALID for a in COLUMNS for s in (math.nan, math.inf, -math.inf)],
    ],
)
def test_an_off_scale_score_is_refused_naming_the_ability(
    test: LanguageTest, ability: Ability, score: float
) -> None:
    scores = dict(VALID[test])
    scores[ability] = score
    with pytest.raises(RulesError) as caught:
        convert(test, LANGUAGE[test], scores)
    assert caught.value.field == ability.value


@pytest.mark.parametrize(
    ("test", "language"),
    [
        (LanguageTest.IELTS_GENERAL, Language.FRENCH),
        (LanguageTest.CELPIP_GENERAL, Language.FRENCH),
        (LanguageTest.PTE_CORE, Language.FRENCH),
        (LanguageTest.TEF_CANADA, Language.ENGLISH),
        (LanguageTest.TCF_CANADA, Language.ENGLISH),
    ],
)
def test_a_test_used_for_the_wrong_language_is_refused_on_the_test_field(
    test: LanguageTest, language: Language
) -> None:
    with pytest.raises(RulesError) as caught:
        convert(test, language, VALID[test])
    assert caught.value.field == "test"


@pytest.mark.parametrize("test", list(VALID))
def test_each_test_is_accepted_for_its_own_language(test: LanguageTest) -> None:
    levels = convert(test, LANGUAGE[test], VALID[test])
    assert levels.language is LANGUAGE[test]
    assert dict(levels.levels) == dict.fromkeys(COLUMNS, 7)


def test_a_tef_score_out_of_699_is_not_read_as_an_ancien_score() -> None:
    # §B.5: Express Entry reads "Équivalence ancien score" (reading at most 300); a /699 value is an error.
    scores = {R: 546.0, W: 558.0, L: 546.0, S: 556.0}
    with pytest.raises(RulesError) as caught:
        convert(LanguageTest.TEF_CANADA, Language.FRENCH, scores)
    assert caught.value.field == "reading"


# §B.7 — raw scores as (speaking, writing, reading, listening) and CRS first-language points per
# ability (single, with spouse).
VECTORS: list[tuple[LanguageTest, tuple[float, float, float, float], int, int]] = [
    (LanguageTest.IELTS_GENERAL, (3.5, 3.5, 3.0, 4.0), 0, 0),
    (LanguageTest.IELTS_GENERAL, (4.0, 4.0, 3.5, 4.5), 6, 6),
    (LanguageTest.IELTS_GENERAL, (5.5, 5.5, 5.0, 5.5), 9, 8),
    (LanguageTest.IELTS_GENERAL, (6.0, 6.0, 6.0, 7.0), 17, 16),
    (LanguageTest.IELTS_GENERAL, (6.5, 6.5, 6.5, 7.5), 23, 22),
    (LanguageTest.IELTS_GENERAL, (7.0, 7.0, 7.5, 8.0), 31, 29),
    (LanguageTest.IELTS_GENERAL, (7.5, 7.5, 8.0, 8.5), 34, 32),
    (LanguageTest.TCF_CANADA, (3, 3, 341, 330), 0, 0),
    (LanguageTest.TCF_CANADA, (4, 4, 342, 331), 6, 6),
    (LanguageTest.TCF_CANADA, (7, 7, 406, 398), 9, 8),
    (LanguageTest.TCF_CANADA, (10, 10, 453, 458), 17, 16),
    (LanguageTest.TCF_CANADA, (12, 12, 499, 503), 23, 22),
    (LanguageTest.TCF_CANADA, (14, 14, 524, 523), 31, 29),
    (LanguageTest.TCF_CANADA, (16, 16, 549, 549), 34, 32),
]


def first_language_points(levels: LanguageLevels, *, with_spouse: bool) -> dict[Ability, int]:
    spouse = crs.Spouse(accompanying=True, canadian_citizen_or_pr=False) if with_spouse else None
    profile = crs.CrsProfile(age=30, education=Education.SECONDARY, first_language=levels, spouse=spouse)
    parts = crs.score(profile, as_of=AS_OF).details["first_language"].parts
    return {ability: parts[ability.value] for ability in COLUMNS}


@pytest.mark.parametrize(("test", "scores", "single", "spouse"), VECTORS)
def test_the_reference_conversion_vectors_earn_the_listed_points_per_ability(
    test: LanguageTest, scores: tuple[float, float, float, float], single: int, spouse: int
) -> None:
    speaking, writing, reading, listening = scores
    levels = convert(test, LANGUAGE[test], {S: speaking, W: writing, R: reading, L: listening})
    assert first_language_points(levels, with_spouse=False) == dict.fromkeys(COLUMNS, single)
    assert first_language_points(levels, with_spouse=True) == dict.fromkeys(COLUMNS, spouse)
