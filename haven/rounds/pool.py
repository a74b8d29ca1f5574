"""What a round ranks a submitted profile on, worked out from its answers on a given day: the CRS score,
the programs it is eligible for (FSW, CEC, FST, and PNP for a nomination), the categories it meets,
and the first later day on which any of these could be different.

Every input the rules read changes only on known days: a birthday (age), the first of a month (work
history is kept by the month, and the windows of 3, 5 and 10 years move by the month), the day a test
result or an ECA stops counting, and the day new rules take effect. ``valid_until`` tries each such
day in order and returns the first on which the facts differ, so a stored score is exact until then
and a round re-scores only the profiles whose day has come.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from haven.profiles import scoring
from haven.profiles.sections import has_partner, teer
from haven.rules import categories, crs, fsw, programs
from haven.rules.common import Education, LanguageLevels
from haven.rules.rounds import RoundProgram

HORIZON: Final = dt.timedelta(days=400)  # past a profile's 12 months in the pool: look no further
# FST's skilled trades (reference §D.3): NOC 2021 major groups 72 (not sub-major group 726), 73, 82,
# 83, 92 and 93 (not sub-major group 932), minor group 6320 and unit group 62200.
TRADE_PREFIXES: Final = ("72", "73", "82", "83", "92", "93", "6320", "62200")
TRADE_EXCLUDED: Final = ("726", "932")


def is_trade(noc: str) -> bool:
    return noc.startswith(TRADE_PREFIXES) and not noc.startswith(TRADE_EXCLUDED)


@dataclass(frozen=True)
class Facts:
    score: int
    rules_version: str
    programs: frozenset[str]  # RoundProgram values
    categories: frozenset[str]

    @property
    def eligible(self) -> bool:
        return bool(self.programs - {RoundProgram.PNP})

    @property
    def crs_version(self) -> str:
        """The CRS rules' part of the version (the profile shows its score with it)."""
        return self.rules_version.split("+", 1)[0]


def _month_start(value: str) -> dt.date:
    return dt.date.fromisoformat(f"{value}-01")


def jobs_of(answers: Mapping[str, Any]) -> list[categories.Job]:
    return [
        categories.Job(
            noc=job["noc"],
            start=_month_start(job["start"]),
            end=None if job.get("current") == "yes" or not job.get("end") else _month_start(job["end"]),
            hours=int(job["hours"]),
            paid=job.get("paid") == "yes",
            in_canada=job.get("in_canada") == "yes" and job.get("authorized") == "yes",
        )
        for job in answers.get("work", {}).get("jobs", [])
    ]


def _canadian_jobs(answers: Mapping[str, Any]) -> list[categories.Job]:
    return [job for job in jobs_of(answers) if job.in_canada]


def _skilled(jobs: list[categories.Job], teers: tuple[int, ...]) -> frozenset[str]:
    return frozenset(job.noc for job in jobs if teer(job.noc) in teers)


def _languages(answers: Mapping[str, Any]) -> tuple[LanguageLevels | None, LanguageLevels | None]:
    languages = answers["languages"]
    return scoring.levels(languages, "test1", "s1"), scoring.levels(languages, "test2", "s2")


def applicant(answers: Mapping[str, Any], day: dt.date) -> programs.Applicant:
    """The eligibility check's applicant for a complete profile on ``day``. The profile asks nothing
    of a job offer or of living in Quebec: it counts none, and a life outside Quebec."""
    personal, education = answers["personal"], answers["education"]
    first, second = _languages(answers)
    jobs = jobs_of(answers)
    canadian = _canadian_jobs(answers)
    recent_top = categories.experience_months(
        canadian, _skilled(canadian, (0, 1)), day, window_years=3, continuous=False
    )
    recent_all = categories.experience_months(
        canadian, _skilled(canadian, (0, 1, 2, 3)), day, window_years=3, continuous=False
    )
    recent_teer = (
        programs.Teer.TEER_0_OR_1
        if recent_top >= 12
        else programs.Teer.TEER_2_OR_3
        if recent_all >= 12
        else None
    )
    skilled = _skilled(jobs, (0, 1, 2, 3))
    trades = frozenset(job.noc for job in jobs if is_trade(job.noc))
    trade_months = categories.experience_months(jobs, trades, day, window_years=5, continuous=False)
    one_occupation = categories.experience_months(jobs, skilled, day, window_years=10, continuous=True)
    raw_jobs = answers.get("work", {}).get("jobs", [])
    level = Education(education["level"])
    where = education.get("where")
    if where == "eca" and dt.date.fromisoformat(education["eca_date"]) + scoring.ECA_VALID_FOR < day:
        where = "expired_eca"
    partner, details = programs.Partner.NONE, programs.PartnerDetails()
    if has_partner(answers):
        given = answers["partner"]
        if given.get("p_canadian") == "yes":
            partner = programs.Partner.CANADIAN
        elif given.get("p_accompanying") == "yes":
            partner = programs.Partner.COMING
            details = programs.PartnerDetails(
                education=Education(given["p_edu"]),
                language=scoring.levels(given, "p_test", "sp"),
                canadian_work_years=int(given["p_work"]),
            )
        else:
            partner = programs.Partner.NOT_COMING
    children = int(answers.get("family", {}).get("children", "0") or 0)
    working_here = any(
        job.get("in_canada") == "yes" and job.get("authorized") == "yes" and job.get("current") == "yes"
        for job in raw_jobs
    )
    study = education.get("study") if where == "canada" else None
    return programs.Applicant(
        status=programs.Status.WORKER if working_here else programs.Status.OUTSIDE,
        age=scoring.age_on(dt.date.fromisoformat(personal["dob"]), day),
        education=level,
        education_recognized=level is Education.LESS_THAN_SECONDARY or where in ("canada", "eca"),
        canadian_education=scoring.canadian_education(education),
        canadian_study_years=int(study) if study else 0,
        first_language=first,
        second_language=second,
        canadian_work_years=scoring.work_years(raw_jobs, day, in_canada=True),
        canadian_work_recent_teer=recent_teer,
        foreign_work_years=scoring.work_years(raw_jobs, day, in_canada=False),
        continuous_year_in_one_occupation=one_occupation >= 12,
        trade_years_last_5=int(trade_months // 12),
        certificate_of_qualification=education.get("certificate") == "yes",
        provincial_nomination=answers.get("nomination", {}).get("pnp") == "yes",
        relative=programs.Relative.SIBLING
        if answers.get("family", {}).get("sibling") == "yes"
        else programs.Relative.NONE,
        settlement_funds=int(answers.get("funds", {}).get("funds", "0") or 0),
        family_size=1 + (partner is not programs.Partner.NONE) + children,
        partner=partner,
        partner_details=details,
    )


def facts(answers: Mapping[str, Any], day: dt.date) -> Facts:
    """What a round ranks this complete, submitted profile on, on ``day``. Language results that no
    longer count leave it eligible for nothing (it cannot be invited until they are replaced)."""
    score, version = scoring.score(answers, day)
    eligible: set[str] = set()
    met: frozenset[str] = frozenset()
    if not scoring.stale_results(answers, day):
        assessed = programs.assess(applicant(answers, day), as_of=day)
        by_program = {
            programs.Program.FSW: RoundProgram.FSW,
            programs.Program.CEC: RoundProgram.CEC,
            programs.Program.FST: RoundProgram.FST,
        }
        eligible = {by_program[result.program] for result in assessed.programs if result.eligible}
        if answers.get("nomination", {}).get("pnp") == "yes":
            eligible.add(RoundProgram.PNP)
        if eligible - {RoundProgram.PNP}:
            met, category_version = categories.met(jobs_of(answers), _languages(answers), day)
            version = f"{version}+{category_version}"
    return Facts(score, version, frozenset(eligible), met)


def _next_birthday(birth: dt.date, day: dt.date) -> dt.date:
    for year in (day.year, day.year + 1):
        try:
            candidate = birth.replace(year=year)
        except ValueError:  # 29 February in a common year: the age changes on 1 March
            candidate = dt.date(year, 3, 1)
        if candidate > day:
            return candidate
    raise AssertionError("unreachable")


def _change_days(answers: Mapping[str, Any], day: dt.date) -> Iterator[dt.date]:
    """Every later day on which an input of the rules may change, in no particular order."""
    yield _next_birthday(dt.date.fromisoformat(answers["personal"]["dob"]), day)
    month = dt.date(day.year, day.month, 1)
    for _ in range(14):
        month = (month + dt.timedelta(days=32)).replace(day=1)
        yield month
    languages = answers["languages"]
    for field in ("date1", "date2"):
        if languages.get(field):
            yield dt.date.fromisoformat(languages[field]) + scoring.LANGUAGE_VALID_FOR + dt.timedelta(days=1)
    eca = answers["education"].get("eca_date")
    if eca:
        yield dt.date.fromisoformat(eca) + scoring.ECA_VALID_FOR + dt.timedelta(days=1)
    for history in (crs.CRS, fsw.FUNDS, categories.CATEGORIES):
        for version in history.versions:
            yield version.effective


def valid_until(answers: Mapping[str, Any], day: dt.date, known: Facts | None = None) -> dt.date:
    """The first day after ``day`` on which the profile's facts differ from ``day``'s (or the day
    ``HORIZON`` ends, when none does before)."""
    now = known if known is not None else facts(answers, day)
    horizon = day + HORIZON
    for candidate in sorted({d for d in _change_days(answers, day) if day < d < horizon}):
        if facts(answers, candidate) != now:
            return candidate
    return horizon
