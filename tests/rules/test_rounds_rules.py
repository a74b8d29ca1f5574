"""Rounds of invitations under dated rules (reference §H): the categories a person meets on a day, the
programs a profile is eligible for, the ranking and its cut-off and tie-breaking rule.

Expected values are worked out from §H's rules by hand, not from the code."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from haven.rounds import pool
from haven.rules import categories, crs
from haven.rules.categories import Job, meets, met
from haven.rules.common import Ability, Education, Language, LanguageLevels, RulesError
from haven.rules.rounds import Entry, Kind, RoundError, RoundProgram, in_round, rank, spec

R, W, L, S = Ability.READING, Ability.WRITING, Ability.LISTENING, Ability.SPEAKING
AT = dt.datetime(2026, 12, 3, 15, tzinfo=dt.UTC)


def french(r: int, w: int, listening: int, s: int) -> LanguageLevels:
    return LanguageLevels(Language.FRENCH, {R: r, W: w, L: listening, S: s})


ENGLISH_9 = LanguageLevels(Language.ENGLISH, {R: 9, W: 9, L: 9, S: 9})


def job(
    noc: str, start: str, end: str | None, hours: int = 40, *, paid: bool = True, canada: bool = False
) -> Job:
    return Job(
        noc=noc,
        start=dt.date.fromisoformat(start + "-01"),
        end=dt.date.fromisoformat(end + "-01") if end else None,
        hours=hours,
        paid=paid,
        in_canada=canada,
    )


def category(day: dt.date, key: str) -> tuple[categories.Category, categories.CategoryTable]:
    table = categories.CATEGORIES.on(day).table
    found = table.get(key)
    assert found is not None, (day, key, table.keys)
    return found, table


# Categories on dated rules -----------------------------------------------------------------------

D2023 = dt.date(2024, 6, 1)  # the 2023 tables: 6 months in a row within 3 years
D2025 = dt.date(2025, 6, 1)  # the 2025 tables: same rule, new lists
D2026 = dt.date(2026, 6, 1)  # the 2026 tables: 12 months within 3 years, not in a row

NURSE = "31301"  # registered nurses: healthcare in every period


@pytest.mark.parametrize(
    ("day", "key", "jobs", "expected"),
    [
        # 2023: six months in a row in one listed occupation.
        (D2023, "healthcare", [job(NURSE, "2023-10", "2024-03")], True),  # Oct–Mar: 6 months
        (D2023, "healthcare", [job(NURSE, "2023-11", "2024-03")], False),  # 5 months
        # Two stints of 3 months with a gap are not 6 months in a row.
        (D2023, "healthcare", [job(NURSE, "2022-01", "2022-03"), job(NURSE, "2022-06", "2022-08")], False),
        # Half time for 12 months in a row is 6 months of full-time equivalent.
        (D2023, "healthcare", [job(NURSE, "2023-06", "2024-05", hours=15)], True),
        # Unpaid work never counts.
        (D2023, "healthcare", [job(NURSE, "2023-01", "2024-05", paid=False)], False),
        # Outside the 3-year window: June 2021 is more than 3 years before June 2024.
        (D2023, "healthcare", [job(NURSE, "2020-06", "2021-05")], False),
        # 2026: 12 months within 3 years, not necessarily in a row.
        (
            D2026,
            "healthcare_social",
            [job(NURSE, "2024-01", "2024-06"), job(NURSE, "2025-01", "2025-06")],
            True,
        ),
        (
            D2026,
            "healthcare_social",
            [job(NURSE, "2024-01", "2024-06"), job(NURSE, "2025-01", "2025-05")],
            False,
        ),
        # The 2026 rule no longer takes 6 months in a row.
        (D2026, "healthcare_social", [job(NURSE, "2025-10", "2026-03")], False),
        # Education (new in 2025): secondary school teachers, 41220.
        (D2025, "education", [job("41220", "2024-06", None)], True),
        # Transport came back in 2026 with 72600 (air pilots, flight engineers and flying instructors).
        (D2026, "transport", [job("72600", "2025-01", None)], True),
        # Physicians (from 2025-12-08): 12 months in a row, in Canada only.
        (D2026, "physicians", [job("31102", "2024-01", "2025-06")], False),
        (D2026, "physicians", [job("31102", "2024-01", "2025-06", canada=True)], True),
        # Military (2026) needs a Canadian Armed Forces job offer, which a profile does not record.
        (D2026, "military", [job("40042", "2020-01", None, canada=True)], False),
    ],
)
def test_occupation_categories_follow_the_rules_of_the_day(
    day: dt.date, key: str, jobs: list[Job], expected: bool
) -> None:
    found, table = category(day, key)
    assert meets(found, table, jobs, [ENGLISH_9], day) is expected


@pytest.mark.parametrize(
    ("languages", "expected"),
    [
        ([ENGLISH_9, french(7, 7, 7, 7)], True),
        ([french(7, 7, 7, 7), None], True),  # French as the first official language
        ([ENGLISH_9, french(7, 7, 7, 6)], False),  # NCLC 7 in every ability, not on average
        ([ENGLISH_9, None], False),
        ([LanguageLevels(Language.ENGLISH, {R: 10, W: 10, L: 10, S: 10}), None], False),  # English only
    ],
)
def test_french_proficiency_is_nclc_7_in_all_four_abilities(
    languages: list[LanguageLevels | None], expected: bool
) -> None:
    for day in (D2023, D2025, D2026):
        found, table = category(day, "french")
        assert meets(found, table, [], languages, day) is expected


def test_categories_change_with_the_date() -> None:
    assert categories.CATEGORIES.on(D2023).table.get("education") is None  # no education category yet
    assert categories.CATEGORIES.on(D2025).table.get("transport") is None  # transport removed in 2025
    assert categories.CATEGORIES.on(D2026).table.get("agriculture") is None  # retired in 2026
    with pytest.raises(RulesError):  # no category-based selection before 31 May 2023
        categories.CATEGORIES.on(dt.date(2023, 5, 30))
    # Software developers (21232) were on the 2023 STEM list and left it in 2025.
    developer = [job("21232", "2022-01", None)]
    assert met(developer, [ENGLISH_9], D2023)[0] == {"stem"}
    assert met(developer, [ENGLISH_9], D2025)[0] == frozenset()


def test_a_person_can_meet_two_categories() -> None:
    found, version = met([job("21220", "2024-01", None)], [ENGLISH_9, french(8, 8, 8, 8)], D2025)
    assert found == {"french", "stem"}
    assert version == "categories-2025-02-27"


# Rounds: their kind, checked against the day's rules ---------------------------------------------


def test_a_round_names_one_program_or_one_category_of_its_day() -> None:
    assert spec(10, AT, D2026).kind is Kind.GENERAL
    assert spec(10, AT, D2026, program="cec").program is RoundProgram.CEC
    assert spec(10, AT, D2026, category="french").category == "french"
    for size, options, field in (
        (0, {}, "size"),
        (10, {"program": "pgwp"}, "program"),
        (10, {"category": "agriculture"}, "category"),  # retired on 2026-02-18
        (10, {"program": "cec", "category": "french"}, "category"),
    ):
        with pytest.raises(RoundError) as refused:
            spec(size, AT, D2026, **options)
        assert refused.value.field == field
    with pytest.raises(RoundError) as naive:
        spec(10, AT.replace(tzinfo=None), D2026)
    assert naive.value.field == "at"
    # Before category-based selection began, nobody meets a category.
    early = dt.date(2023, 1, 10)
    assert met([job("21232", "2022-01", None)], [ENGLISH_9], early) == (frozenset(), "categories-none")
    # Haven has settlement funds figures from 2025-07-07 only: no round before then.
    with pytest.raises(RoundError) as too_early:
        spec(10, AT, dt.date(2025, 7, 6))
    assert too_early.value.field == "at"
    assert spec(10, AT, dt.date(2025, 7, 7)).kind is Kind.GENERAL


# Ranking, cut-off and tie-breaking ---------------------------------------------------------------

T0 = dt.datetime(2026, 1, 14, 8, 12, 42, tzinfo=dt.UTC)


def entry(
    score: int,
    submitted: dt.datetime,
    programs: set[str] | None = None,
    cats: set[str] | None = None,
    n: int = 0,
) -> Entry:
    return Entry(
        profile_id=str(uuid.uuid4()),
        number=f"HV-{n:04d}",
        score=score,
        submitted_at=submitted,
        programs=frozenset(programs if programs is not None else {"fsw"}),
        categories=frozenset(cats or ()),
    )


def test_ties_at_the_cut_off_go_to_the_earliest_submission() -> None:
    late = entry(480, T0 + dt.timedelta(days=2), n=1)
    early = entry(480, T0, n=2)
    higher = entry(500, T0 + dt.timedelta(days=30), n=3)
    lower = entry(470, T0 - dt.timedelta(days=30), n=4)
    outcome = rank([late, early, higher, lower], spec(2, AT, D2026))
    assert outcome.invited == (higher, early)
    assert outcome.cutoff == 480
    assert outcome.tie_break == T0


def test_ties_within_the_same_second_go_to_the_earlier_instant() -> None:
    first = entry(480, T0 + dt.timedelta(microseconds=1), n=7)
    second = entry(480, T0 + dt.timedelta(microseconds=999_999), n=3)
    outcome = rank([second, first], spec(1, AT, D2026))
    assert outcome.invited == (first,)
    assert outcome.tie_break == first.submitted_at


def test_a_round_that_invites_nobody_has_no_cut_off() -> None:
    outcome = rank([entry(480, T0, programs=set())], spec(5, AT, D2026))
    assert outcome.invited == ()
    assert outcome.cutoff is None
    assert outcome.tie_break is None


def test_each_kind_of_round_has_its_own_pool() -> None:
    cec = entry(450, T0, {"cec"})
    pnp = entry(1050, T0, {"pnp", "fsw"})
    nominated_only = entry(1100, T0, {"pnp"})  # nominated but eligible for no program
    both = entry(460, T0, {"fsw"}, {"french", "stem"})
    general = spec(10, AT, D2026)
    assert [e for e in (cec, pnp, nominated_only, both) if in_round(e, general)] == [cec, pnp, both]
    assert rank([cec, pnp, both], spec(10, AT, D2026, program="cec")).invited == (cec,)
    # Nominated but eligible for no program: in no round at all.
    assert rank([cec, pnp, nominated_only, both], spec(10, AT, D2026, program="pnp")).invited == (pnp,)
    for key in ("french", "stem"):
        assert rank([cec, pnp, both], spec(10, AT, D2026, category=key)).invited == (both,)


# A profile's facts ------------------------------------------------------------------------------


def _persona(dob: str = "1996-11-30", **changes: dict[str, str]) -> dict[str, object]:
    from bench.rounds import persona_answers

    answers = persona_answers(dob)
    for section, values in changes.items():
        answers[section] = {**answers[section], **values}
    return answers


def test_the_persona_is_eligible_for_fsw_only_and_in_no_category() -> None:
    facts = pool.facts(_persona(), dt.date(2026, 11, 27))
    assert facts.score == 429  # tests/profiles: the persona born on 1996-11-30, on 2026-11-27
    assert facts.programs == {RoundProgram.FSW}  # no Canadian work (CEC), no trade (FST)
    assert facts.categories == frozenset()  # software developers (21232) are not on the 2026 lists


def test_a_profile_with_a_nomination_is_in_pnp_rounds() -> None:
    facts = pool.facts(_persona(nomination={"pnp": "yes", "province": "on"}), dt.date(2026, 11, 27))
    assert facts.programs == {RoundProgram.FSW, RoundProgram.PNP}
    assert facts.score == 429 + 600


def test_stale_language_results_leave_a_profile_eligible_for_nothing() -> None:
    facts = pool.facts(_persona(), dt.date(2028, 9, 11))  # two years and a day after the test
    assert facts.programs == frozenset()
    assert facts.categories == frozenset()


def test_a_stored_score_holds_until_the_next_birthday() -> None:
    answers = _persona()
    day = dt.date(2026, 11, 27)
    assert pool.valid_until(answers, day) == dt.date(2026, 11, 30)  # she turns 30: 429 → 424
    assert pool.facts(answers, dt.date(2026, 11, 30)).score == 424
    # Born on 29 February: the age changes on 1 March in a common year.
    leap = _persona("1996-02-29")
    assert pool.valid_until(leap, dt.date(2027, 2, 27)) == dt.date(2027, 3, 1)


def test_fst_trades_follow_the_noc_groups() -> None:
    assert pool.is_trade("72200")  # electricians
    assert pool.is_trade("63200")  # cooks
    assert pool.is_trade("62200")  # chefs
    assert not pool.is_trade("72600")  # air pilots: sub-major group 726 is excluded
    assert not pool.is_trade("93200")  # sub-major group 932 is excluded
    assert not pool.is_trade("21232")


def test_the_job_offer_points_of_earlier_rules_are_gone_since_2025_03_25() -> None:
    profile = crs.CrsProfile(
        age=29,
        education=Education.BACHELOR,
        canadian_education=crs.CanadianEducation.NONE,
        first_language=ENGLISH_9,
        second_language=None,
        canadian_work_years=0,
        foreign_work_years=3,
        certificate_of_qualification=False,
        provincial_nomination=False,
        sibling_in_canada=False,
        spouse=None,
        job_offer=crs.JobOffer.TEER_0_TO_3,
    )
    before = crs.score(profile, as_of=dt.date(2025, 3, 24))
    after = crs.score(profile, as_of=dt.date(2025, 3, 25))
    assert before.total - after.total == 50  # §A.5: 50 points for a TEER 0-3 offer, until then
    assert before.rules_version != after.rules_version
