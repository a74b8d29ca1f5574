"""The checker's services: API bodies in, rules called, results out. Every rule problem is collected
and raised together as ``FieldErrors`` (a 422 naming each field), never one at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final, TypeVar

from haven.checker import schemas
from haven.checker.explain import CRS_FACTORS, FSW_FACTORS, PROGRAMS, pointer_both, reason_both, translated
from haven.rules import clb, crs, fsw, programs
from haven.rules.common import ABILITIES, LanguageLevels, RulesError
from haven.web.errors import FieldError, FieldErrors

T = TypeVar("T")

# Factor names in both languages, translated once rather than on every response.
CRS_LABELS: Final = {key: translated(message) for key, message in CRS_FACTORS.items()}
FSW_LABELS: Final = {key: translated(message) for key, message in FSW_FACTORS.items()}


class _Problems:
    """Rule problems gathered while translating one request body."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, error: RulesError) -> None:
        full = f"{path}.{error.field}" if path and error.field else path or error.field
        self.errors.append(FieldError(("body", *full.split(".")), error.message, error.code))

    def language(self, block: schemas.LanguageTestIn | None, path: str) -> LanguageLevels | None:
        if block is None:
            return None
        scores = {ability: getattr(block, ability.value) for ability in ABILITIES}
        problems = clb.check(block.test, block.language, scores)
        for problem in problems:
            self.add(path, problem)
        return None if problems else clb.convert(block.test, block.language, scores)

    def raise_if_any(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def _guarded(run: Callable[[], T]) -> T:
    """Run a rules call, turning a check it makes itself (a date before any rules) into a 422."""
    try:
        return run()
    except RulesError as error:
        raise FieldErrors(
            [FieldError(("body", *error.field.split(".")), error.message, error.code)]
        ) from error


def levels_out(levels: LanguageLevels | None) -> dict[str, Any] | None:
    if levels is None:
        return None
    return {
        "language": levels.language.value,
        "levels": {ability.value: levels.level(ability) for ability in ABILITIES},
        "lowest": levels.lowest,
    }


def convert_clb(body: schemas.ClbIn) -> dict[str, Any]:
    problems = _Problems()
    levels = problems.language(body, "")
    problems.raise_if_any()
    assert levels is not None
    chart = clb.CHARTS[body.test]
    return {
        **(levels_out(levels) or {}),
        "test": body.test.value,
        "rules_version": f"clb-{body.test.value}-{chart.effective.isoformat()}",
    }


def crs_profile(body: schemas.CrsIn, problems: _Problems) -> crs.CrsProfile | None:
    first = problems.language(body.first_language, "first_language")
    second = problems.language(body.second_language, "second_language")
    spouse = None
    if body.spouse is not None:
        spouse = crs.Spouse(
            accompanying=body.spouse.accompanying,
            canadian_citizen_or_pr=body.spouse.canadian_citizen_or_pr,
            education=body.spouse.education,
            language=problems.language(body.spouse.language, "spouse.language"),
            canadian_work_years=body.spouse.canadian_work_years,
        )
    if first is None:
        return None
    profile = crs.CrsProfile(
        age=body.age,
        education=body.education,
        canadian_education=body.canadian_education,
        first_language=first,
        second_language=second,
        canadian_work_years=body.canadian_work_years,
        foreign_work_years=body.foreign_work_years,
        certificate_of_qualification=body.certificate_of_qualification,
        provincial_nomination=body.provincial_nomination,
        sibling_in_canada=body.sibling_in_canada,
        spouse=spouse,
        job_offer=body.job_offer,
    )
    try:
        crs.check(profile)
    except RulesError as error:
        problems.add("", error)
    return profile


def crs_out(result: crs.CrsResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "core": result.core,
        "spouse": result.spouse,
        "transferability": result.transferability,
        "additional": result.additional,
        "with_spouse": result.with_spouse,
        "rules_version": result.rules_version,
        "details": {
            key: {
                "section": factor.section.value,
                "points": factor.points,
                "maximum": factor.maximum,
                "parts": dict(factor.parts),
                "label": CRS_LABELS[key],
            }
            for key, factor in result.details.items()
        },
    }


def score_crs(body: schemas.CrsIn, today: dt.date) -> dict[str, Any]:
    problems = _Problems()
    profile = crs_profile(body, problems)
    problems.raise_if_any()
    assert profile is not None
    result = _guarded(lambda: crs.score(profile, as_of=body.as_of or today))
    return crs_out(result)


def requirement_out(program: str, requirement: fsw.Requirement) -> dict[str, Any]:
    return {
        "code": requirement.code,
        "met": requirement.met,
        "facts": dict(requirement.facts),
        "message": reason_both(program, requirement),
    }


def fsw_out(result: fsw.FswResult) -> dict[str, Any]:
    program = programs.Program.FSW.value
    return {
        "eligible": result.eligible,
        "total": result.total,
        "pass_mark": result.pass_mark,
        "factors": {
            key: {
                "points": factor.points,
                "maximum": factor.maximum,
                "parts": dict(factor.parts),
                "label": FSW_LABELS[key],
            }
            for key, factor in result.factors.items()
        },
        "requirements": [requirement_out(program, requirement) for requirement in result.requirements],
        "funds_required": result.funds_required,
        "rules_version": result.rules_version,
    }


def assess_fsw(body: schemas.FswIn, today: dt.date) -> dict[str, Any]:
    problems = _Problems()
    first = problems.language(body.first_language, "first_language")
    second = problems.language(body.second_language, "second_language")
    problems.raise_if_any()
    applicant = fsw.FswApplicant(
        age=body.age,
        education=body.education,
        education_recognized=body.education_recognized,
        first_language=first,
        second_language=second,
        skilled_work_years=body.skilled_work_years,
        continuous_year_in_one_occupation=body.continuous_year_in_one_occupation,
        arranged_employment=body.arranged_employment,
        authorized_to_work_in_canada=body.authorized_to_work_in_canada,
        settlement_funds=body.settlement_funds,
        family_size=body.family_size,
        plans_to_live_in_quebec=body.plans_to_live_in_quebec,
        adaptability=fsw.Adaptability(**body.adaptability.model_dump()),
    )
    result = _guarded(lambda: fsw.assess(applicant, as_of=body.as_of or today))
    return fsw_out(result)


def eligibility_applicant(body: schemas.EligibilityIn, problems: _Problems) -> programs.Applicant:
    return programs.Applicant(
        status=body.status,
        age=body.age,
        education=body.education,
        education_recognized=body.education_recognized,
        canadian_education=body.canadian_education,
        canadian_study_years=body.canadian_study_years,
        first_language=problems.language(body.first_language, "first_language"),
        second_language=problems.language(body.second_language, "second_language"),
        canadian_work_years=body.canadian_work_years,
        canadian_work_recent_teer=body.canadian_work_recent_teer,
        foreign_work_years=body.foreign_work_years,
        continuous_year_in_one_occupation=body.continuous_year_in_one_occupation,
        trade_years_last_5=body.trade_years_last_5,
        certificate_of_qualification=body.certificate_of_qualification,
        job_offer=body.job_offer,
        provincial_nomination=body.provincial_nomination,
        relative=body.relative,
        settlement_funds=body.settlement_funds,
        family_size=body.family_size,
        plans_to_live_in_quebec=body.plans_to_live_in_quebec,
        partner=body.partner,
        partner_details=programs.PartnerDetails(
            education=body.partner_details.education,
            language=problems.language(body.partner_details.language, "partner_details.language"),
            canadian_work_years=body.partner_details.canadian_work_years,
            studied_in_canada=body.partner_details.studied_in_canada,
        ),
    )


def eligibility_out(result: programs.Eligibility) -> dict[str, Any]:
    return {
        "settled": result.settled,
        "programs": [
            {
                "program": program.program.value,
                "name": translated(PROGRAMS[program.program]),
                "eligible": program.eligible,
                "requirements": [
                    requirement_out(program.program.value, requirement)
                    for requirement in program.requirements
                ],
            }
            for program in result.programs
        ],
        "crs": crs_out(result.crs) if result.crs is not None else None,
        "fsw_grid": fsw_out(result.fsw_grid) if result.fsw_grid is not None else None,
        "pointers": [
            {
                "route": pointer.route.value,
                "reason": pointer.reason,
                "message": pointer_both(pointer.reason),
            }
            for pointer in result.pointers
        ],
        "rules_version": result.rules_version,
    }


def assess_eligibility(body: schemas.EligibilityIn, today: dt.date) -> dict[str, Any]:
    problems = _Problems()
    applicant = eligibility_applicant(body, problems)
    problems.raise_if_any()
    result = _guarded(lambda: programs.assess(applicant, as_of=body.as_of or today))
    return eligibility_out(result)
