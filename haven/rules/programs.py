"""Who may be eligible for which Express Entry program, criterion by criterion, and where else to look.

FSW, CEC and FST are each checked on their own (reference §D.3), every unmet criterion with its reason;
a CRS estimate comes back when at least one of them fits. Pointers to the other routes (provincial
nominees, family, study, work, visit, refugees, citizenship) follow from the answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from haven.rules import crs, fsw
from haven.rules.common import ABILITIES, Ability, Education, Language, LanguageLevels, RulesError
from haven.rules.fsw import Requirement


class Status(StrEnum):
    """Where the person stands with Canada today."""

    CITIZEN = "citizen"
    PERMANENT_RESIDENT = "permanent_resident"
    WORKER = "worker"  # in Canada with a work permit
    STUDENT = "student"
    VISITOR = "visitor"
    OUTSIDE = "outside"  # outside Canada, or no status


class Partner(StrEnum):
    NONE = "none"
    COMING = "coming"  # coming to Canada, not a citizen or PR
    NOT_COMING = "not_coming"
    CANADIAN = "canadian"  # already a Canadian citizen or permanent resident


class Teer(StrEnum):
    TEER_0_OR_1 = "teer_0_1"
    TEER_2_OR_3 = "teer_2_3"


class Relative(StrEnum):
    NONE = "none"
    SIBLING = "sibling"  # a brother or sister: counts for the CRS and for the FSW grid
    OTHER = "other"  # another close relative: counts for the FSW grid only


class Program(StrEnum):
    FSW = "federal_skilled_worker"
    CEC = "canadian_experience_class"
    FST = "federal_skilled_trades"


class Route(StrEnum):
    """Other routes a result can point to; values are content page keys."""

    PROVINCIAL_NOMINEES = "provincial-nominees"
    FAMILY_SPONSORSHIP = "family-sponsorship"
    STUDY = "study"
    WORK = "work"
    VISIT = "visit"
    REFUGEES = "refugees"
    CITIZENSHIP = "citizenship"


@dataclass(frozen=True)
class PartnerDetails:
    education: Education = Education.LESS_THAN_SECONDARY
    language: LanguageLevels | None = None
    canadian_work_years: int = 0
    studied_in_canada: bool = False


@dataclass(frozen=True)
class Applicant:
    """What the eligibility check asks. Work years count paid, full-time (or equivalent), skilled
    (TEER 0-3) work; Canadian work must have been authorized."""

    status: Status
    age: int
    education: Education
    education_recognized: bool  # Canadian credential, or foreign with an ECA
    canadian_education: crs.CanadianEducation = crs.CanadianEducation.NONE
    canadian_study_years: int = 0
    first_language: LanguageLevels | None = None
    second_language: LanguageLevels | None = None
    canadian_work_years: int = 0  # in the last 10 years
    canadian_work_recent_teer: Teer | None = None  # a year of it in the last 3 years, and its TEER
    foreign_work_years: int = 0  # in the last 10 years
    continuous_year_in_one_occupation: bool = False
    trade_years_last_5: int = 0
    certificate_of_qualification: bool = False
    job_offer: bool = False
    provincial_nomination: bool = False
    relative: Relative = Relative.NONE
    settlement_funds: int = 0
    family_size: int = 1
    plans_to_live_in_quebec: bool = False
    partner: Partner = Partner.NONE
    partner_details: PartnerDetails = field(default_factory=PartnerDetails)


@dataclass(frozen=True)
class ProgramResult:
    program: Program
    eligible: bool
    requirements: tuple[Requirement, ...]

    @property
    def unmet(self) -> tuple[Requirement, ...]:
        return tuple(requirement for requirement in self.requirements if not requirement.met)


@dataclass(frozen=True)
class Pointer:
    route: Route
    reason: str  # a code the pages turn into a sentence


@dataclass(frozen=True)
class Eligibility:
    programs: tuple[ProgramResult, ...]
    crs: crs.CrsResult | None
    fsw_grid: fsw.FswResult | None
    pointers: tuple[Pointer, ...]
    rules_version: str
    settled: str | None = None  # "citizen" or "permanent_resident": nothing to immigrate to

    @property
    def any_eligible(self) -> bool:
        return any(result.eligible for result in self.programs)


TRADE_YEARS_NEEDED: Final = 2
STATUS_AUTHORIZED_TO_WORK: Final = frozenset({Status.WORKER})


def _english_french(applicant: Applicant) -> Mapping[Language, LanguageLevels]:
    found: dict[Language, LanguageLevels] = {}
    for result in (applicant.first_language, applicant.second_language):
        if result is not None:
            found.setdefault(result.language, result)
    return found


def check(applicant: Applicant) -> None:
    if not 0 <= applicant.age <= 120:
        raise RulesError("age", "age_out_of_range", "Enter an age from 0 to 120.")
    for name in ("canadian_work_years", "foreign_work_years", "trade_years_last_5", "canadian_study_years"):
        if not 0 <= getattr(applicant, name) <= 60:
            raise RulesError(name, "years_out_of_range", "Enter a number of years from 0 to 60.")
    first, second = applicant.first_language, applicant.second_language
    if first is not None and second is not None and first.language is second.language:
        raise RulesError(
            "second_language.language",
            "same_language_twice",
            "The second official language must be the other one (English or French).",
        )


def assess(applicant: Applicant, *, as_of: dt.date) -> Eligibility:
    """Every program and pointer for ``applicant`` under the rules in force on ``as_of``."""
    check(applicant)
    if applicant.status in (Status.CITIZEN, Status.PERMANENT_RESIDENT):
        return _settled(applicant, as_of)
    fsw_result = fsw.assess(_fsw_applicant(applicant), as_of=as_of)
    programs = (
        ProgramResult(Program.FSW, fsw_result.eligible, fsw_result.requirements),
        _cec(applicant),
        _fst(applicant, as_of),
    )
    any_eligible = any(result.eligible for result in programs)
    estimate = None
    if any_eligible and applicant.first_language is not None:
        estimate = crs.score(crs_profile(applicant), as_of=as_of)
    return Eligibility(
        programs=programs,
        crs=estimate,
        fsw_grid=fsw_result,
        pointers=_pointers(applicant, any_eligible),
        rules_version=_version(estimate, fsw_result, as_of),
    )


# What could raise a CRS score, each tried on the same answers: a French test at NCLC 7 in every
# ability (for someone whose first language is English), one more year of skilled work in Canada
# (up to the table's 5), and a provincial nomination.
RISES: Final = ("french", "canadian_work", "nomination")
FRENCH_LEVEL: Final = 7
MAX_CANADIAN_YEARS: Final = 5


def rises(applicant: Applicant, *, as_of: dt.date) -> list[tuple[str, int]]:
    """(what, points) for each change in ``RISES`` that would raise the applicant's CRS score, and by
    how much; nothing for someone the CRS does not score (no language test)."""
    if applicant.first_language is None:
        return []
    now = crs.score(crs_profile(applicant), as_of=as_of).total
    tries: list[tuple[str, Applicant]] = []
    second = applicant.second_language
    if applicant.first_language.language is Language.ENGLISH and not (
        second is not None and second.all_at_least(FRENCH_LEVEL)
    ):
        french = LanguageLevels(Language.FRENCH, dict.fromkeys(ABILITIES, FRENCH_LEVEL))
        tries.append(("french", replace(applicant, second_language=french)))
    if applicant.canadian_work_years < MAX_CANADIAN_YEARS:
        tries.append(
            ("canadian_work", replace(applicant, canadian_work_years=applicant.canadian_work_years + 1))
        )
    if not applicant.provincial_nomination:
        tries.append(("nomination", replace(applicant, provincial_nomination=True)))
    found = []
    for what, changed in tries:
        gain = crs.score(crs_profile(changed), as_of=as_of).total - now
        if gain > 0:
            found.append((what, gain))
    return found


def _version(estimate: crs.CrsResult | None, fsw_result: fsw.FswResult, as_of: dt.date) -> str:
    crs_version = estimate.rules_version if estimate is not None else crs.CRS.on(as_of).version
    return f"{crs_version}+{fsw_result.rules_version}"


def _settled(applicant: Applicant, as_of: dt.date) -> Eligibility:
    pointers = [Pointer(Route.FAMILY_SPONSORSHIP, "sponsor_family")]
    if applicant.status is Status.PERMANENT_RESIDENT:
        pointers.insert(0, Pointer(Route.CITIZENSHIP, "permanent_resident"))
    return Eligibility(
        programs=(),
        crs=None,
        fsw_grid=None,
        pointers=tuple(pointers),
        rules_version=crs.CRS.on(as_of).version,
        settled=applicant.status.value,
    )


def _fsw_applicant(applicant: Applicant) -> fsw.FswApplicant:
    partner_comes = applicant.partner is Partner.COMING
    details = applicant.partner_details
    return fsw.FswApplicant(
        age=applicant.age,
        education=applicant.education,
        education_recognized=applicant.education_recognized,
        first_language=applicant.first_language,
        second_language=applicant.second_language,
        skilled_work_years=applicant.canadian_work_years + applicant.foreign_work_years,
        continuous_year_in_one_occupation=applicant.continuous_year_in_one_occupation,
        arranged_employment=applicant.job_offer,
        authorized_to_work_in_canada=applicant.status in STATUS_AUTHORIZED_TO_WORK,
        settlement_funds=applicant.settlement_funds,
        family_size=applicant.family_size,
        plans_to_live_in_quebec=applicant.plans_to_live_in_quebec,
        adaptability=fsw.Adaptability(
            spouse_language_clb4=partner_comes
            and details.language is not None
            and details.language.all_at_least(4),
            studied_in_canada=applicant.canadian_study_years >= 2,
            spouse_studied_in_canada=partner_comes and details.studied_in_canada,
            worked_in_canada=applicant.canadian_work_years >= 1,
            spouse_worked_in_canada=partner_comes and details.canadian_work_years >= 1,
            relative_in_canada=applicant.relative is not Relative.NONE,
        ),
    )


def _cec(applicant: Applicant) -> ProgramResult:
    teer = applicant.canadian_work_recent_teer
    needed = 7 if teer is Teer.TEER_0_OR_1 or teer is None else 5
    first = applicant.first_language
    lowest = first.lowest if first is not None else 0
    requirements = (
        Requirement(
            "canadian_work_experience",
            teer is not None and applicant.canadian_work_years >= 1,
            {"years": applicant.canadian_work_years, "needed": 1},
        ),
        Requirement(
            "language",
            first is not None and lowest >= needed,
            # Without a recent Canadian job the level needed is not known: 7 is the higher one.
            {"lowest_level": lowest, "needed": needed, "canadian_job": teer is not None},
        ),
        Requirement("outside_quebec", not applicant.plans_to_live_in_quebec),
    )
    return ProgramResult(Program.CEC, all(r.met for r in requirements), requirements)


def _fst(applicant: Applicant, as_of: dt.date) -> ProgramResult:
    first = applicant.first_language
    # CLB/NCLC 5 in speaking and listening, 4 in reading and writing (§D.3).
    language_met = first is not None and (
        first.level(Ability.SPEAKING) >= 5
        and first.level(Ability.LISTENING) >= 5
        and first.level(Ability.READING) >= 4
        and first.level(Ability.WRITING) >= 4
    )
    exempt = applicant.status in STATUS_AUTHORIZED_TO_WORK and applicant.job_offer
    funds, _needed = fsw.settlement_funds(
        applicant.settlement_funds, applicant.family_size, exempt=exempt, table=fsw.FUNDS.on(as_of).table
    )
    requirements = (
        Requirement(
            "trade_experience",
            applicant.trade_years_last_5 >= TRADE_YEARS_NEEDED,
            {"years": applicant.trade_years_last_5, "needed": TRADE_YEARS_NEEDED},
        ),
        Requirement("language", language_met, {"needed_speaking_listening": 5, "needed_reading_writing": 4}),
        Requirement(
            "job_offer_or_certificate", applicant.job_offer or applicant.certificate_of_qualification
        ),
        funds,
        Requirement("outside_quebec", not applicant.plans_to_live_in_quebec),
    )
    return ProgramResult(Program.FST, all(r.met for r in requirements), requirements)


def crs_profile(applicant: Applicant) -> crs.CrsProfile:
    assert applicant.first_language is not None
    spouse = None
    if applicant.partner in (Partner.COMING, Partner.NOT_COMING, Partner.CANADIAN):
        details = applicant.partner_details
        spouse = crs.Spouse(
            accompanying=applicant.partner is not Partner.NOT_COMING,
            canadian_citizen_or_pr=applicant.partner is Partner.CANADIAN,
            education=details.education,
            language=details.language,
            canadian_work_years=details.canadian_work_years,
        )
    return crs.CrsProfile(
        age=applicant.age,
        education=_scored_education(applicant),
        canadian_education=applicant.canadian_education,
        first_language=applicant.first_language,
        second_language=applicant.second_language,
        canadian_work_years=applicant.canadian_work_years,
        foreign_work_years=applicant.foreign_work_years,
        certificate_of_qualification=applicant.certificate_of_qualification,
        provincial_nomination=applicant.provincial_nomination,
        sibling_in_canada=applicant.relative is Relative.SIBLING,
        spouse=spouse,
        job_offer=crs.JobOffer.TEER_0_TO_3 if applicant.job_offer else crs.JobOffer.NONE,
    )


_CANADIAN_LEVEL: Final = {
    crs.CanadianEducation.NONE: Education.LESS_THAN_SECONDARY,
    crs.CanadianEducation.ONE_OR_TWO_YEAR: Education.ONE_YEAR,
    crs.CanadianEducation.THREE_YEAR_OR_MORE: Education.BACHELOR,
}


def _scored_education(applicant: Applicant) -> Education:
    """The education the CRS can count (§A.2, §A.6): the highest credential when it is Canadian or
    assessed (ECA); otherwise only a Canadian credential, if there is one, never above the highest."""
    if applicant.education_recognized:
        return applicant.education
    canadian = _CANADIAN_LEVEL[applicant.canadian_education]
    if canadian is Education.ONE_YEAR and applicant.canadian_study_years >= 2:
        canadian = Education.TWO_YEAR
    order = list(Education)
    return min(canadian, applicant.education, key=order.index)


def _pointers(applicant: Applicant, any_eligible: bool) -> tuple[Pointer, ...]:
    pointers: list[Pointer] = []
    if applicant.partner is Partner.CANADIAN:
        pointers.append(Pointer(Route.FAMILY_SPONSORSHIP, "partner_can_sponsor"))
    if applicant.provincial_nomination:
        pointers.append(Pointer(Route.PROVINCIAL_NOMINEES, "has_nomination"))
    else:
        pointers.append(Pointer(Route.PROVINCIAL_NOMINEES, "provinces_choose"))
    if not any_eligible:
        if applicant.job_offer:
            pointers.append(Pointer(Route.WORK, "job_offer_work_permit"))
        else:
            pointers.append(Pointer(Route.WORK, "work_first"))
        pointers.append(Pointer(Route.STUDY, "study_first"))
    if applicant.status is Status.OUTSIDE or applicant.status is Status.VISITOR:
        pointers.append(Pointer(Route.VISIT, "visit"))
    pointers.append(Pointer(Route.REFUGEES, "protection"))
    return tuple(pointers)
