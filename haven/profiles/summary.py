"""A profile's answers written out for people to read: check your answers, the list of jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from babel.dates import format_date
from babel.numbers import format_decimal

from haven.checker.explain import money
from haven.checker.fields import levels_from
from haven.profiles import noc
from haven.profiles.models import Profile
from haven.profiles.sections import Section, applicable, teer
from haven.rules.common import ABILITIES
from haven.web.countries import countries
from haven.web.forms import Field, Kind
from haven.web.i18n import LOCALES, N_, Language, long_date, translations


@dataclass(frozen=True)
class Row:
    question: str
    answer: str
    href: str | None = None  # where this answer is changed (none on a print view)
    more: tuple[str, ...] = ()  # further lines of the answer


@dataclass(frozen=True)
class Group:
    title: str
    rows: list[Row]


def _date(value: str, lang: Language) -> str:
    if len(value) == 7:  # a month
        return format_date(dt.date.fromisoformat(value + "-01"), "MMMM y", locale=LOCALES[lang])
    return long_date(dt.date.fromisoformat(value), lang)


def _answer(spec: Field, answers: Mapping[str, Any], lang: Language) -> str:
    words = translations(lang).gettext
    raw = answers.get(spec.name, "")
    if spec.labels is not None:  # a code, named in this language (or as typed before the list)
        return spec.labels(lang).get(raw, str(raw))
    if spec.kind is Kind.RADIO:
        option = next((o for o in spec.options if o.value == raw), None)
        return words(option.label) if option else str(raw)  # as typed before it was a choice
    if spec.kind in (Kind.DATE, Kind.MONTH):
        return _date(raw, lang) if raw else ""
    if spec.kind is Kind.MONEY and str(raw).isdigit():
        return money(int(raw), lang)
    if spec.kind is Kind.CHECKBOX:
        return words(N_("Yes")) if raw == "yes" else words(N_("No"))
    return str(raw)


def _score_rows(
    own: Mapping[str, Any], test: str, specs: list[Field], lang: Language, href: Callable[[str], str | None]
) -> list[Row]:
    """One row per band score, each with the level it gives (CLB for English, NCLC for French)."""
    words = translations(lang).gettext
    choice = own.get(test, "none")
    try:
        levels = levels_from(choice, specs[0].name[:2], own) if choice and choice != "none" else None
    except (KeyError, ValueError):  # a draft's scores, not all typed yet
        levels = None
    rows = []
    for spec in specs:
        raw = str(own.get(spec.name, ""))
        if not raw:
            rows.append(Row(words(spec.label), words(N_("Not provided")), href(spec.name)))
            continue
        shown = format_decimal(float(raw), locale=LOCALES[lang]) if _number(raw) else raw
        if levels is not None:
            ability = next(a for a in ABILITIES if spec.name.endswith(a.value[0]))
            name = "NCLC" if levels.language.value == "fr" else "CLB"
            shown = words(N_("%(score)s (%(name)s %(level)s)")) % {
                "score": shown,
                "name": name,
                "level": levels.level(ability),
            }
        rows.append(Row(words(spec.label), shown, href(spec.name)))
    return rows


def _number(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def answer_rows(
    profile: Profile,
    passport: str | None,
    lang: Language,
    href: Callable[[Section], str] | None,
) -> list[Group]:
    """Every answer of the profile, section by section, each row with the link that changes it
    (``href`` gives a section's page; none: a view with no links, for printing)."""
    words = translations(lang).gettext
    groups = []
    for section in applicable(profile.answers):
        own = profile.answers.get(section.key, {})
        base = href(section) if href else None

        def at(anchor: str, base: str | None = base) -> str | None:
            return f"{base}#{anchor}" if base else None

        rows: list[Row] = []
        if section.key == "work":
            for index, job in enumerate(own.get("jobs", [])):
                summary = job_summary(job, lang)
                rows.append(
                    Row(
                        summary["title"],
                        summary["noc"],
                        f"{base}/{index}" if base else None,
                        (summary["noc_title"], summary["where"], summary["period"], summary["hours"]),
                    )
                )
            if not rows:
                rows.append(Row(words(section.title), words(N_("No jobs listed")), base))
        else:
            specs = list(section.fields_for(own, profile.answers))
            for index, spec in enumerate(specs):
                if spec.kind is Kind.SCORE:
                    if index == 0 or specs[index - 1].kind is not Kind.SCORE:
                        test = next(t for t, p in TESTS if spec.name.startswith(p))
                        four = [s for s in specs if s.kind is Kind.SCORE and s.name[:2] == spec.name[:2]]
                        rows.extend(_score_rows(own, test, four, lang, at))
                    continue
                value = passport or "" if spec.name == "passport_number" else _answer(spec, own, lang)
                rows.append(Row(words(spec.label), value or words(N_("Not provided")), at(spec.parts()[0])))
        groups.append(Group(words(section.title), rows))
    return groups


# Each test's answer and the prefix of its four scores.
TESTS: Final = (("test1", "s1"), ("test2", "s2"), ("p_test", "sp"))


def job_summary(job: Mapping[str, Any], lang: Language) -> dict[str, str]:
    words = translations(lang).gettext
    start = _date(job["start"], lang)
    if job.get("current") == "yes":
        period = words(N_("since %(start)s")) % {"start": start}
    else:
        period = words(N_("%(start)s to %(end)s")) % {"start": start, "end": _date(job["end"], lang)}
    country = str(job.get("country", ""))
    where = words(N_("In Canada")) if job.get("in_canada") == "yes" else countries(lang).get(country, country)
    return {
        "title": f"{job['title']}, {job['employer']}",
        "noc": words(N_("NOC %(code)s, TEER %(teer)s")) % {"code": job["noc"], "teer": teer(job["noc"])},
        "noc_title": noc.title(job["noc"], lang) or "",
        "where": where,
        "period": period,
        "hours": words(N_("%(hours)s hours a week")) % {"hours": job["hours"]},
    }
