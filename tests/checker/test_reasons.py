"""The reasons a result gives fit the person they are about."""

from __future__ import annotations

import dataclasses
import datetime as dt

from haven.checker.explain import WORDS
from haven.rules import programs
from haven.rules.common import ABILITIES, Education, Language, LanguageLevels
from haven.rules.fsw import Requirement

DAY = dt.date(2026, 11, 27)
CLB_6 = LanguageLevels(Language.ENGLISH, dict.fromkeys(ABILITIES, 6))
NOBODY_IN_CANADA = programs.Applicant(
    status=programs.Status.OUTSIDE,
    age=29,
    education=Education.BACHELOR,
    education_recognized=True,
    first_language=CLB_6,
    foreign_work_years=3,
)


def _cec_language(applicant: programs.Applicant) -> Requirement:
    result = next(
        r for r in programs.assess(applicant, as_of=DAY).programs if r.program is programs.Program.CEC
    )
    return next(r for r in result.requirements if r.code == "language")


def test_the_cec_language_reason_speaks_of_no_job_to_someone_with_none() -> None:
    for lang, words in WORDS.items():
        reason = words.reason("canadian_experience_class", _cec_language(NOBODY_IN_CANADA))
        assert "TEER 0 or 1" in reason or "FEER 0 ou 1" in reason, (lang, reason)
        assert "your Canadian job" not in reason
        assert "votre emploi au Canada" not in reason


def test_someone_with_a_canadian_job_hears_of_its_teer() -> None:
    worker = dataclasses.replace(
        NOBODY_IN_CANADA, canadian_work_years=1, canadian_work_recent_teer=programs.Teer.TEER_0_OR_1
    )
    reason = WORDS["en"].reason("canadian_experience_class", _cec_language(worker))
    assert reason.startswith("For the TEER category of your Canadian job")
