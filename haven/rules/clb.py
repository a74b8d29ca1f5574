"""Language test scores to CLB (English) or NCLC (French) levels, per ability.

A score between two thresholds gets the lower level; a score below the lowest listed level is level 0
("below the chart"); a score outside the test's scale, or off its step (IELTS goes by halves), is an
error, never a guess. Sources: reference §B.2–B.6.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from haven.rules.common import ABILITIES, Ability, Language, LanguageLevels, RulesError

R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING


class Test(StrEnum):
    IELTS_GENERAL = "ielts_general"
    CELPIP_GENERAL = "celpip_general"
    PTE_CORE = "pte_core"
    TEF_CANADA = "tef_canada"
    TCF_CANADA = "tcf_canada"
    CLB = "clb"  # the four numbers are already CLB/NCLC levels


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    step: float  # 0.5 for IELTS, 1 for the others

    def contains(self, score: float) -> bool:
        if not math.isfinite(score) or not self.low <= score <= self.high:
            return False
        steps = (score - self.low) / self.step
        return abs(steps - round(steps)) < 1e-9

    def describe(self) -> str:
        step = "in steps of 0.5" if self.step == 0.5 else "whole numbers"
        return f"from {self.low:g} to {self.high:g}, {step}"


@dataclass(frozen=True)
class Chart:
    """One test's conversion chart: the lowest score for each level, per ability."""

    test: Test
    language: Language | None  # None: either official language (CLB levels given directly)
    effective: dt.date  # in force by this day (the earliest date our sources confirm)
    scales: Mapping[Ability, Scale]
    # level → minimum score, per ability, highest level first
    minimums: Mapping[Ability, tuple[tuple[int, float], ...]]
    note: str = ""

    def level(self, ability: Ability, score: float) -> int:
        if self.test is Test.CLB:
            return int(score)
        for level, minimum in self.minimums[ability]:
            if score >= minimum:
                return level
        return 0


def _rows(*rows: tuple[int, float, float, float, float]) -> dict[Ability, tuple[tuple[int, float], ...]]:
    """Rows of (level, reading, writing, listening, speaking) to per-ability columns."""
    columns: dict[Ability, list[tuple[int, float]]] = {ability: [] for ability in ABILITIES}
    for level, reading, writing, listening, speaking in rows:
        for ability, minimum in ((R, reading), (W, writing), (L, listening), (S, speaking)):
            columns[ability].append((level, minimum))
    return {ability: tuple(column) for ability, column in columns.items()}


def _same_scale(low: float, high: float, step: float = 1) -> dict[Ability, Scale]:
    return {ability: Scale(low, high, step) for ability in ABILITIES}


CHARTS: Final[dict[Test, Chart]] = {
    # §B.2 [OFFICIAL]. Express Entry has used these bands since it opened on 2015-01-01.
    Test.IELTS_GENERAL: Chart(
        Test.IELTS_GENERAL,
        Language.ENGLISH,
        dt.date(2015, 1, 1),
        _same_scale(0, 9, 0.5),
        _rows(
            (10, 8.0, 7.5, 8.5, 7.5),
            (9, 7.0, 7.0, 8.0, 7.0),
            (8, 6.5, 6.5, 7.5, 6.5),
            (7, 6.0, 6.0, 6.0, 6.0),
            (6, 5.0, 5.5, 5.5, 5.5),
            (5, 4.0, 5.0, 5.0, 5.0),
            (4, 3.5, 4.0, 4.5, 4.0),
        ),
    ),
    # §B.3 [OFFICIAL]: CELPIP level n is CLB n from 4 to 10; 11 and 12 count as CLB 10 ("10+").
    Test.CELPIP_GENERAL: Chart(
        Test.CELPIP_GENERAL,
        Language.ENGLISH,
        dt.date(2015, 1, 1),
        _same_scale(0, 12),
        _rows(*[(n, n, n, n, n) for n in range(10, 0, -1)]),
        note="CELPIP 11 and 12 are CLB 10 or more",
    ),
    # §B.4 [OFFICIAL]: accepted since 2024-01-30.
    Test.PTE_CORE: Chart(
        Test.PTE_CORE,
        Language.ENGLISH,
        dt.date(2024, 1, 30),
        _same_scale(10, 90),
        _rows(
            (10, 88, 90, 89, 89),
            (9, 78, 88, 82, 84),
            (8, 69, 79, 71, 76),
            (7, 60, 69, 60, 68),
            (6, 51, 60, 50, 59),
            (5, 42, 51, 39, 51),
            (4, 33, 41, 28, 42),
            (3, 24, 32, 18, 34),
        ),
    ),
    # §B.5 (a) [SECONDARY]: Express Entry reads the "Équivalence ancien score" column of the
    # attestation, whatever the test date; the scores out of 699 give wrong levels there.
    Test.TEF_CANADA: Chart(
        Test.TEF_CANADA,
        Language.FRENCH,
        dt.date(2015, 1, 1),
        {R: Scale(0, 300, 1), W: Scale(0, 450, 1), L: Scale(0, 360, 1), S: Scale(0, 450, 1)},
        _rows(
            (10, 263, 393, 316, 393),
            (9, 248, 371, 298, 371),
            (8, 233, 349, 280, 349),
            (7, 207, 310, 249, 310),
            (6, 181, 271, 217, 271),
            (5, 151, 226, 181, 226),
            (4, 121, 181, 145, 181),
        ),
        note="use the 'Équivalence ancien score' values",
    ),
    # §B.6 [SECONDARY]: reading and listening out of 699 (reported from 100), writing and
    # speaking out of 20.
    Test.TCF_CANADA: Chart(
        Test.TCF_CANADA,
        Language.FRENCH,
        dt.date(2015, 1, 1),
        {R: Scale(100, 699, 1), W: Scale(0, 20, 1), L: Scale(100, 699, 1), S: Scale(0, 20, 1)},
        _rows(
            (10, 549, 16, 549, 16),
            (9, 524, 14, 523, 14),
            (8, 499, 12, 503, 12),
            (7, 453, 10, 458, 10),
            (6, 406, 7, 398, 7),
            (5, 375, 6, 369, 6),
            (4, 342, 4, 331, 4),
        ),
    ),
    Test.CLB: Chart(Test.CLB, None, dt.date(2015, 1, 1), _same_scale(0, 12), {}),
}

TEST_NAMES: Final[dict[Test, str]] = {
    Test.IELTS_GENERAL: "IELTS General Training",
    Test.CELPIP_GENERAL: "CELPIP-General",
    Test.PTE_CORE: "PTE Core",
    Test.TEF_CANADA: "TEF Canada",
    Test.TCF_CANADA: "TCF Canada",
    Test.CLB: "CLB/NCLC levels",
}


def test_language(test: Test) -> Language | None:
    return CHARTS[test].language


def check(test: Test, language: Language, scores: Mapping[Ability, float]) -> list[RulesError]:
    """Every problem with one test result: the test's language, then each ability's score."""
    chart = CHARTS[test]
    problems: list[RulesError] = []
    if chart.language is not None and chart.language is not language:
        expected = "English" if chart.language is Language.ENGLISH else "French"
        problems.append(
            RulesError(
                "test",
                "test_language_mismatch",
                f"{TEST_NAMES[test]} is a test of {expected}; choose a test of the language you named.",
            )
        )
    for ability in ABILITIES:
        if ability not in scores:
            problems.append(RulesError(ability.value, "missing_score", f"Enter the {ability.value} score."))
            continue
        score = float(scores[ability])
        scale = chart.scales[ability]
        if not scale.contains(score):
            extra = f" ({chart.note})" if chart.note and test is Test.TEF_CANADA else ""
            problems.append(
                RulesError(
                    ability.value,
                    "score_off_scale",
                    f"{TEST_NAMES[test]} {ability.value} scores go {scale.describe()}{extra}; "
                    f"{score:g} is not one.",
                )
            )
    return problems


def convert(test: Test, language: Language, scores: Mapping[Ability, float]) -> LanguageLevels:
    """Levels for one test result; the first problem, if any, is raised (its field names the
    ability, or ``test``). Use ``check`` to get every problem at once."""
    problems = check(test, language, scores)
    if problems:
        raise problems[0]
    chart = CHARTS[test]
    return LanguageLevels(
        language, {ability: chart.level(ability, float(scores[ability])) for ability in ABILITIES}
    )
