"""A profile's answers written out for people to read: check your answers, the list of jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date

from haven.checker.explain import money
from haven.checker.fields import levels_from
from haven.profiles.models import Profile
from haven.profiles.sections import Section, applicable, teer
from haven.rules.common import ABILITIES
from haven.web.forms import Field, Kind, Translate
from haven.web.i18n import LOCALES, N_, Language, long_date, translations


@dataclass(frozen=True)
class Row:
    question: str
    answer: str


@dataclass(frozen=True)
class Group:
    title: str
    rows: list[Row]
    change_href: str


def _date(value: str, lang: Language) -> str:
    if len(value) == 7:  # a month
        return format_date(dt.date.fromisoformat(value + "-01"), "MMMM y", locale=LOCALES[lang])
    return long_date(dt.date.fromisoformat(value), lang)


def _answer(spec: Field, answers: Mapping[str, Any], lang: Language) -> str:
    words = translations(lang).gettext
    raw = answers.get(spec.name, "")
    if spec.kind is Kind.RADIO:
        option = next((o for o in spec.options if o.value == raw), None)
        return words(option.label) if option else ""
    if spec.kind in (Kind.DATE, Kind.MONTH):
        return _date(raw, lang) if raw else ""
    if spec.kind is Kind.MONEY and str(raw).isdigit():
        return money(int(raw), lang)
    if spec.kind is Kind.CHECKBOX:
        return words(N_("Yes")) if raw == "yes" else words(N_("No"))
    return str(raw)


def _levels_text(answers: Mapping[str, Any], test: str, prefix: str, words: Translate) -> str | None:
    choice = answers.get(test, "none")
    if not choice or choice == "none":
        return None
    levels = levels_from(choice, prefix, answers)
    name = "NCLC" if levels.language.value == "fr" else "CLB"
    return words(N_("%(name)s levels: %(levels)s")) % {
        "name": name,
        "levels": ", ".join(str(levels.level(ability)) for ability in ABILITIES),
    }


def answer_rows(
    profile: Profile, passport: str | None, lang: Language, href: Callable[[Section], str]
) -> list[Group]:
    words = translations(lang).gettext
    groups = []
    for section in applicable(profile.answers):
        own = profile.answers.get(section.key, {})
        rows: list[Row] = []
        if section.key == "work":
            for job in own.get("jobs", []):
                summary = job_summary(job, lang)
                rows.append(
                    Row(summary["title"], f"{summary['where']}, {summary['period']}, {summary['hours']}")
                )
            if not rows:
                rows.append(Row(words(section.title), words(N_("No jobs listed"))))
        else:
            for spec in section.fields_for(own, profile.answers):
                if spec.kind is Kind.SCORE:
                    continue
                value = passport or "" if spec.name == "passport_number" else _answer(spec, own, lang)
                rows.append(Row(words(spec.label), value or words(N_("Not provided"))))
            for test, prefix in (("test1", "s1"), ("test2", "s2"), ("p_test", "sp")):
                text = _levels_text(own, test, prefix, words)
                if text:
                    rows.append(Row(words(N_("Levels from these results")), text))
        groups.append(Group(words(section.title), rows, href(section)))
    return groups


def job_summary(job: Mapping[str, Any], lang: Language) -> dict[str, str]:
    words = translations(lang).gettext
    start = _date(job["start"], lang)
    if job.get("current") == "yes":
        period = words(N_("since %(start)s")) % {"start": start}
    else:
        period = words(N_("%(start)s to %(end)s")) % {"start": start, "end": _date(job["end"], lang)}
    where = words(N_("In Canada")) if job.get("in_canada") == "yes" else str(job.get("country", ""))
    return {
        "title": f"{job['title']}, {job['employer']}",
        "noc": words(N_("NOC %(code)s, TEER %(teer)s")) % {"code": job["noc"], "teer": teer(job["noc"])},
        "where": where,
        "period": period,
        "hours": words(N_("%(hours)s hours a week")) % {"hours": job["hours"]},
    }
