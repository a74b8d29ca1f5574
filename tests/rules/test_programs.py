"""Which Express Entry programs fit, checked against reference §D.3 (and §A, §C, §F.4 where the
programs lean on them). Expected numbers come from the reference, not from the code."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from haven.rules import crs
from haven.rules.common import Ability, Education, Language, LanguageLevels
from haven.rules.programs import (
    Applicant,
    Eligibility,
    Partner,
    PartnerDetails,
    Program,
    ProgramResult,
    Relative,
    Route,
    Status,
    Teer,
    assess,
    rises,
)

E = Education
R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING
AS_OF = dt.date(2026, 11, 27)


def levels(language: Language, reading: int, writing: int, listening: int, speaking: int) -> LanguageLevels:
    return LanguageLevels(language, {R: reading, W: writing, L: listening, S: speaking})


def english(level: int) -> LanguageLevels:
    return levels(Language.ENGLISH, level, level, level, level)


def check(applicant: Applicant) -> Eligibility:
    return assess(applicant, as_of=AS_OF)


def program(result: Eligibility, which: Program) -> ProgramResult:
    (found,) = [entry for entry in result.programs if entry.program is which]
    return found


def requirement_met(result: ProgramResult, code: str) -> bool:
    (found,) = [requirement for requirement in result.requirements if requirement.code == code]
    return found.met


# A year of TEER 0/1 work in Canada in the last 3 years, CLB 7: CEC only (no trade work, no
# recognized education, no funds).
CEC_ONLY = Applicant(
    status=Status.WORKER,
    age=30,
    education=E.BACHELOR,
    education_recognized=False,
    first_language=english(7),
    canadian_work_years=1,
    canadian_work_recent_teer=Teer.TEER_0_OR_1,
    settlement_funds=0,
)

# Two years in a trade, a certificate of qualification, CLB 5/5/4/4: FST only.
FST_ONLY = Applicant(
    status=Status.OUTSIDE,
    age=30,
    education=E.LESS_THAN_SECONDARY,
    education_recognized=False,
    first_language=levels(Language.ENGLISH, 4, 4, 5, 5),
    trade_years_last_5=2,
    certificate_of_qualification=True,
    settlement_funds=15263,
    family_size=1,
)

# Qualifies for all three programs.
ALL_THREE = Applicant(
    status=Status.WORKER,
    age=30,
    education=E.MASTER,
    education_recognized=True,
    first_language=english(10),
    canadian_work_years=2,
    canadian_work_recent_teer=Teer.TEER_0_OR_1,
    foreign_work_years=3,
    continuous_year_in_one_occupation=True,
    trade_years_last_5=2,
    certificate_of_qualification=True,
    settlement_funds=50_000,
)

# Fails every program.
NONE_FIT = Applicant(
    status=Status.OUTSIDE,
    age=30,
    education=E.SECONDARY,
    education_recognized=True,
    first_language=english(4),
)


def test_the_cec_example_fits_the_cec_only() -> None:
    result = check(CEC_ONLY)
    assert [entry.program for entry in result.programs if entry.eligible] == [Program.CEC]


def test_the_fst_example_fits_the_fst_only() -> None:
    result = check(FST_ONLY)
    assert [entry.program for entry in result.programs if entry.eligible] == [Program.FST]


def test_the_all_three_example_fits_fsw_cec_and_fst() -> None:
    result = check(ALL_THREE)
    assert {entry.program for entry in result.programs if entry.eligible} == set(Program)


# ---------------------------------------------------------------------------------------------
# Canadian Experience Class
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("teer", "first", "eligible"),
    [
        (Teer.TEER_0_OR_1, english(7), True),
        (Teer.TEER_0_OR_1, english(10), True),
        (Teer.TEER_0_OR_1, levels(Language.ENGLISH, 7, 7, 7, 6), False),
        (Teer.TEER_0_OR_1, levels(Language.ENGLISH, 6, 9, 9, 9), False),
        (Teer.TEER_0_OR_1, english(6), False),
        (Teer.TEER_0_OR_1, english(5), False),
        (Teer.TEER_2_OR_3, english(5), True),
        (Teer.TEER_2_OR_3, english(6), True),
        (Teer.TEER_2_OR_3, english(9), True),
        (Teer.TEER_2_OR_3, levels(Language.ENGLISH, 5, 5, 5, 4), False),
        (Teer.TEER_2_OR_3, levels(Language.ENGLISH, 4, 7, 7, 7), False),
        (Teer.TEER_2_OR_3, english(4), False),
        (Teer.TEER_2_OR_3, levels(Language.FRENCH, 5, 5, 5, 5), True),
    ],
)
def test_cec_needs_clb_7_for_teer_0_or_1_and_clb_5_for_teer_2_or_3(
    teer: Teer, first: LanguageLevels, eligible: bool
) -> None:
    cec = program(
        check(dataclasses.replace(CEC_ONLY, canadian_work_recent_teer=teer, first_language=first)),
        Program.CEC,
    )
    assert cec.eligible is eligible
    assert requirement_met(cec, "language") is eligible


def test_cec_needs_a_year_of_canadian_work() -> None:
    applicant = dataclasses.replace(CEC_ONLY, canadian_work_years=0, canadian_work_recent_teer=None)
    assert not program(check(applicant), Program.CEC).eligible


def test_cec_needs_no_settlement_funds_and_no_education() -> None:
    applicant = dataclasses.replace(
        CEC_ONLY,
        settlement_funds=0,
        family_size=5,
        education=E.LESS_THAN_SECONDARY,
        education_recognized=False,
    )
    assert program(check(applicant), Program.CEC).eligible


# ---------------------------------------------------------------------------------------------
# Federal Skilled Trades
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "writing", "listening", "speaking", "eligible"),
    [
        (4, 4, 5, 5, True),
        (10, 10, 10, 10, True),
        (4, 4, 12, 12, True),
        (5, 5, 5, 5, True),
        (3, 4, 5, 5, False),
        (4, 3, 5, 5, False),
        (4, 4, 4, 5, False),
        (4, 4, 5, 4, False),
        (10, 10, 4, 10, False),
        (10, 10, 10, 4, False),
        (0, 0, 0, 0, False),
    ],
)
def test_fst_needs_clb_5_in_speaking_and_listening_and_clb_4_in_reading_and_writing(
    reading: int, writing: int, listening: int, speaking: int, eligible: bool
) -> None:
    first = levels(Language.ENGLISH, reading, writing, listening, speaking)
    fst = program(check(dataclasses.replace(FST_ONLY, first_language=first)), Program.FST)
    assert fst.eligible is eligible
    assert requirement_met(fst, "language") is eligible


@pytest.mark.parametrize(("years", "eligible"), [(0, False), (1, False), (2, True), (3, True), (5, True)])
def test_fst_needs_two_years_of_trade_work(years: int, eligible: bool) -> None:
    fst = program(check(dataclasses.replace(FST_ONLY, trade_years_last_5=years)), Program.FST)
    assert fst.eligible is eligible


@pytest.mark.parametrize(
    ("job_offer", "certificate", "eligible"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_fst_needs_a_job_offer_or_a_certificate_of_qualification(
    job_offer: bool, certificate: bool, eligible: bool
) -> None:
    applicant = dataclasses.replace(FST_ONLY, job_offer=job_offer, certificate_of_qualification=certificate)
    assert program(check(applicant), Program.FST).eligible is eligible


@pytest.mark.parametrize(
    ("status", "job_offer", "funds", "family_size", "eligible"),
    [
        (Status.OUTSIDE, False, 15263, 1, True),
        (Status.OUTSIDE, False, 15262, 1, False),
        (Status.OUTSIDE, False, 28362, 4, True),
        (Status.OUTSIDE, False, 28361, 4, False),
        (Status.OUTSIDE, True, 0, 1, False),  # a job offer alone does not exempt
        (Status.WORKER, False, 0, 1, False),  # authorization alone does not exempt
        (Status.WORKER, True, 0, 1, True),  # authorized to work and a job offer: exempt
        (Status.WORKER, True, 0, 6, True),
    ],
)
def test_fst_needs_settlement_funds_unless_authorized_to_work_with_a_job_offer(
    status: Status, job_offer: bool, funds: int, family_size: int, eligible: bool
) -> None:
    applicant = dataclasses.replace(
        FST_ONLY, status=status, job_offer=job_offer, settlement_funds=funds, family_size=family_size
    )
    assert program(check(applicant), Program.FST).eligible is eligible


# ---------------------------------------------------------------------------------------------
# Federal Skilled Worker, through the programs
# ---------------------------------------------------------------------------------------------


def test_fsw_fits_an_applicant_abroad_with_a_year_of_skilled_work_and_enough_points() -> None:
    applicant = dataclasses.replace(
        ALL_THREE, status=Status.OUTSIDE, canadian_work_years=0, canadian_work_recent_teer=None
    )
    result = check(applicant)
    assert program(result, Program.FSW).eligible
    assert not program(result, Program.CEC).eligible
    assert result.fsw_grid is not None
    assert result.fsw_grid.total >= 67


def test_fsw_needs_no_funds_when_authorized_to_work_with_a_job_offer() -> None:
    applicant = dataclasses.replace(ALL_THREE, job_offer=True, settlement_funds=0)
    assert program(check(applicant), Program.FSW).eligible


def test_fsw_needs_funds_from_an_applicant_abroad_even_with_a_job_offer() -> None:
    applicant = dataclasses.replace(ALL_THREE, status=Status.OUTSIDE, job_offer=True, settlement_funds=0)
    assert not program(check(applicant), Program.FSW).eligible


# ---------------------------------------------------------------------------------------------
# Quebec, the CRS estimate, citizens and permanent residents
# ---------------------------------------------------------------------------------------------


def test_planning_to_live_in_quebec_excludes_all_three_programs() -> None:
    result = check(dataclasses.replace(ALL_THREE, plans_to_live_in_quebec=True))
    for which in Program:
        entry = program(result, which)
        assert not entry.eligible
        assert [requirement.code for requirement in entry.unmet] == ["outside_quebec"]
    assert not result.any_eligible
    assert result.crs is None


@pytest.mark.parametrize("applicant", [CEC_ONLY, FST_ONLY, ALL_THREE])
def test_a_crs_estimate_comes_with_any_program_that_fits(applicant: Applicant) -> None:
    result = check(applicant)
    assert result.any_eligible
    assert result.crs is not None


def test_no_crs_estimate_when_no_program_fits() -> None:
    result = check(NONE_FIT)
    assert not result.any_eligible
    assert result.crs is None


def test_no_crs_estimate_without_a_language_test() -> None:
    result = check(dataclasses.replace(CEC_ONLY, first_language=None))
    assert not result.any_eligible
    assert result.crs is None


def test_the_cec_example_scores_213_crs_points_as_education_without_an_eca_earns_none() -> None:
    # §A: age 30 single 105; bachelor's without an ECA earns no education points; CLB 7 x 4 = 68;
    # one year in Canada 40 (core 213). Transferability: education unrecognized 0; foreign work 0.
    result = check(CEC_ONLY)
    assert result.crs is not None
    assert result.crs.core == 105 + 0 + 68 + 40
    assert result.crs.transferability == 0
    assert result.crs.total == 213


def test_the_all_three_example_scores_from_the_reference_tables() -> None:
    # age 30 single 105, master's 135, CLB 10 x 4 = 136, 2 years in Canada 53 -> core 429;
    # education block: tier 2 + CLB 9+ 50, + 2 years in Canada 50 -> capped 50;
    # foreign work block: 3 years + CLB 9+ 50, + 2 years in Canada 50 -> capped 50;
    # certificate with CLB 7+ 50 -> transferability capped at 100. Total 529.
    result = check(ALL_THREE)
    assert result.crs is not None
    assert (result.crs.core, result.crs.transferability, result.crs.additional) == (429, 100, 0)
    assert result.crs.total == 529


def test_a_job_offer_adds_no_crs_points_through_the_programs() -> None:
    without = check(ALL_THREE)
    with_offer = check(dataclasses.replace(ALL_THREE, job_offer=True))
    assert without.crs is not None
    assert with_offer.crs is not None
    assert with_offer.crs.total == without.crs.total


def test_a_nomination_and_a_sibling_reach_the_crs_estimate() -> None:
    applicant = dataclasses.replace(CEC_ONLY, provincial_nomination=True, relative=Relative.SIBLING)
    result = check(applicant)
    assert result.crs is not None
    assert result.crs.additional == 600


@pytest.mark.parametrize(
    ("partner", "with_spouse"),
    [
        (Partner.NONE, False),
        (Partner.COMING, True),
        (Partner.NOT_COMING, False),
        (Partner.CANADIAN, False),
    ],
)
def test_only_a_partner_who_comes_and_is_not_canadian_changes_the_crs_columns(
    partner: Partner, with_spouse: bool
) -> None:
    details = PartnerDetails(education=E.DOCTORAL, language=english(10), canadian_work_years=5)
    result = check(dataclasses.replace(ALL_THREE, partner=partner, partner_details=details))
    assert result.crs is not None
    assert result.crs.with_spouse is with_spouse
    assert result.crs.spouse == (40 if with_spouse else 0)
    assert result.crs.details["age"].points == (95 if with_spouse else 105)  # age 30


@pytest.mark.parametrize("status", [Status.CITIZEN, Status.PERMANENT_RESIDENT])
def test_citizens_and_permanent_residents_get_pointers_instead_of_programs(status: Status) -> None:
    result = check(dataclasses.replace(ALL_THREE, status=status))
    assert result.programs == ()
    assert not result.any_eligible
    assert result.crs is None
    assert result.fsw_grid is None
    assert result.pointers
    assert result.settled == status.value


def test_a_permanent_resident_is_pointed_to_citizenship() -> None:
    result = check(dataclasses.replace(ALL_THREE, status=Status.PERMANENT_RESIDENT))
    assert Route.CITIZENSHIP in {pointer.route for pointer in result.pointers}


def test_the_estimate_is_the_crs_of_the_same_answers() -> None:
    result = check(ALL_THREE)
    direct = crs.score(
        crs.CrsProfile(
            age=30,
            education=E.MASTER,
            first_language=english(10),
            canadian_work_years=2,
            foreign_work_years=3,
            certificate_of_qualification=True,
        ),
        as_of=AS_OF,
    )
    assert result.crs is not None
    assert result.crs.total == direct.total


def test_a_canadian_credential_earns_its_bonus_when_the_highest_foreign_credential_has_no_eca() -> None:
    # §A.2: education points need a Canadian credential or a foreign one with an ECA; §A.5: a Canadian
    # one- or two-year credential earns 15 additional points, with no condition on other credentials.
    # A foreign master's without an ECA plus a Canadian diploma is a real, valid set of answers.
    applicant = dataclasses.replace(
        CEC_ONLY,
        education=E.MASTER,
        education_recognized=False,
        canadian_education=crs.CanadianEducation.ONE_OR_TWO_YEAR,
    )
    result = check(applicant)
    assert program(result, Program.CEC).eligible
    assert result.crs is not None
    assert result.crs.details["canadian_education"].points == 15


# How a score could rise --------------------------------------------------------------------------


def test_a_french_test_at_nclc_7_adds_its_core_and_additional_points() -> None:
    # Single, English CLB 7: the second language earns 3 a level-7 ability (12, §A.2), and French
    # NCLC 7 with English CLB 5+ earns the additional 50 (§A.5): 62 in all.
    found = dict(rises(CEC_ONLY, as_of=AS_OF))
    assert found["french"] == 62
    assert found["nomination"] == 600


def test_one_more_year_in_canada_counts_core_and_transferability_points() -> None:
    # One year to two, single: the core table's 40 → 53 (§A.2). Her bachelor's is not recognized
    # (no ECA), so no education × Canadian work points move (§A.4): 13.
    assert dict(rises(CEC_ONLY, as_of=AS_OF))["canadian_work"] == 13
    # Recognized, the bachelor's (three years or more) with Canadian work goes 13 → 25 as well.
    recognized = dataclasses.replace(CEC_ONLY, education_recognized=True)
    assert dict(rises(recognized, as_of=AS_OF))["canadian_work"] == 13 + 12


def test_what_is_already_there_is_not_suggested() -> None:
    nominated = dataclasses.replace(
        ALL_THREE,
        provincial_nomination=True,
        canadian_work_years=5,
        second_language=levels(Language.FRENCH, 7, 7, 7, 7),
    )
    assert rises(nominated, as_of=AS_OF) == []
    assert rises(dataclasses.replace(CEC_ONLY, first_language=None), as_of=AS_OF) == []
