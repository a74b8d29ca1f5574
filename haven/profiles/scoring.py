"""From a profile's answers to the rules: which sections are complete, and the CRS score on the day
the profile is submitted (age on that day, work within the 10 years before it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from haven.checker.fields import levels_from
from haven.profiles.sections import SECTIONS, has_partner, teer
from haven.rules import crs
from haven.rules.common import Education, LanguageLevels

LANGUAGE_VALID_FOR = dt.timedelta(days=2 * 365)
ECA_VALID_FOR = dt.timedelta(days=5 * 365)


def missing_sections(answers: Mapping[str, Any]) -> list[str]:
    done = set(answers.get("_complete", []))
    return [section.key for section in SECTIONS if section.applies(answers) and section.key not in done]


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _months(start: str, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    first = dt.date.fromisoformat(f"{start}-01")
    last = dt.date.fromisoformat(f"{end}-01") if end else today
    return first, last


def work_years(jobs: list[Mapping[str, str]], today: dt.date, *, in_canada: bool) -> int:
    """Full years of skilled (TEER 0-3), paid work in the 10 years before ``today``: 30 hours a week
    is full time; fewer count in proportion (1,560 hours make a year)."""
    window = today.replace(year=today.year - 10)
    months = 0.0
    for job in jobs:
        if job.get("paid") != "yes" or teer(job["noc"]) > 3 or (job.get("in_canada") == "yes") != in_canada:
            continue
        if in_canada and job.get("authorized") != "yes":
            continue
        first, last = _months(job["start"], None if job.get("current") == "yes" else job.get("end"), today)
        first = max(first, window)
        span = (
            (last.year - first.year) * 12
            + (last.month - first.month)
            + (0 if job.get("current") == "yes" else 1)
        )
        if span > 0:
            months += span * min(1.0, int(job["hours"]) / 30)
    return int(months // 12)


def levels(answers: Mapping[str, str], test: str, prefix: str) -> LanguageLevels | None:
    choice = answers.get(test, "none")
    return levels_from(choice, prefix, answers) if choice and choice != "none" else None


def canadian_education(education: Mapping[str, str]) -> crs.CanadianEducation:
    """The Canadian credential the CRS adds points for, from the education section."""
    if education.get("where") != "canada" or not education.get("study"):
        return crs.CanadianEducation.NONE
    three_year = Education(education["level"]) in {
        Education.BACHELOR,
        Education.TWO_OR_MORE,
        Education.MASTER,
        Education.DOCTORAL,
    }
    if education["study"] == "3" and three_year:
        return crs.CanadianEducation.THREE_YEAR_OR_MORE
    return crs.CanadianEducation.ONE_OR_TWO_YEAR


def score(answers: Mapping[str, Any], today: dt.date) -> tuple[int, str]:
    """The CRS total and the rules version, for a complete profile."""
    personal, languages, education = answers["personal"], answers["languages"], answers["education"]
    level = Education(education["level"])
    where = education.get("where")
    canadian = canadian_education(education)
    if where == "eca" and dt.date.fromisoformat(education["eca_date"]) + ECA_VALID_FOR < today:
        where = "expired_eca"
    recognised = level is Education.LESS_THAN_SECONDARY or where in ("canada", "eca")
    spouse = None
    if has_partner(answers):
        partner = answers["partner"]
        comes = partner.get("p_accompanying") == "yes" and partner.get("p_canadian") == "no"
        spouse = crs.Spouse(
            accompanying=partner.get("p_accompanying") == "yes",
            canadian_citizen_or_pr=partner.get("p_canadian") == "yes",
            education=Education(partner["p_edu"]) if comes else Education.LESS_THAN_SECONDARY,
            language=levels(partner, "p_test", "sp") if comes else None,
            canadian_work_years=int(partner["p_work"]) if comes else 0,
        )
    first = levels(languages, "test1", "s1")
    assert first is not None
    second = levels(languages, "test2", "s2")
    jobs = answers.get("work", {}).get("jobs", [])
    profile = crs.CrsProfile(
        age=age_on(dt.date.fromisoformat(personal["dob"]), today),
        education=level if recognised else Education.LESS_THAN_SECONDARY,
        canadian_education=canadian,
        first_language=first,
        second_language=second,
        canadian_work_years=work_years(jobs, today, in_canada=True),
        foreign_work_years=work_years(jobs, today, in_canada=False),
        certificate_of_qualification=education.get("certificate") == "yes",
        provincial_nomination=answers.get("nomination", {}).get("pnp") == "yes",
        sibling_in_canada=answers.get("family", {}).get("sibling") == "yes",
        spouse=spouse,
    )
    result = crs.score(profile, as_of=today)
    return result.total, result.rules_version


def stale_results(answers: Mapping[str, Any], today: dt.date) -> list[str]:
    """Which of the profile's dated documents no longer count: language results over 2 years old."""
    stale = []
    languages = answers.get("languages", {})
    for date_field in ("date1", "date2"):
        taken = languages.get(date_field)
        if taken and dt.date.fromisoformat(taken) + LANGUAGE_VALID_FOR < today:
            stale.append("languages")
    return sorted(set(stale))
