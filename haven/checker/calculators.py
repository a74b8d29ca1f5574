"""The CRS calculator and the FSW 67-point grid calculator: one form each, and a result page with the
full breakdown. Both are cookie-free GET forms; the result's address holds every answer, so it can be
bookmarked, shared and served from a cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from haven.checker.explain import Words
from haven.checker.fields import (
    AGE,
    CANADIAN_WORK,
    EDUCATION_LEVEL,
    EDUCATION_WHERE,
    FAMILY_SIZE,
    NO_TEST,
    PARTNER,
    PARTNER_EDUCATION,
    PARTNER_WORK,
    SETTLEMENT_FUNDS,
    YES_NO,
    Field,
    FormError,
    Kind,
    Option,
    Reading,
    chosen_test,
    language_tests,
    levels_from,
    read_fields,
    read_scores,
    score_fields,
    year_options,
)
from haven.checker.views import PageMaker, crs_view, fsw_view, other, with_query
from haven.rules import crs, fsw
from haven.rules.common import Education, LanguageLevels
from haven.web.forms import field_view
from haven.web.i18n import LANGUAGES, N_, Language
from haven.web.pagecache import CachedResponse
from haven.web.querypages import Params, QueryRoute, Render

YEARS_0_5: Final = year_options(5)

FIRST_TEST: Final = Field(
    "t1",
    Kind.RADIO,
    N_("Which test did you take in your first official language?"),
    required=N_("Select the test you took in your first official language"),
    options=language_tests(None, levels=True),
)
SECOND_TEST: Final = Field(
    "t2",
    Kind.RADIO,
    N_("Did you take a test in your second official language?"),
    required=N_("Select a test, or that you have not taken one"),
    options=(*language_tests(None, levels=True), Option("none", N_("No, or not in the other language"))),
)
SCORES_HINT: Final = N_(
    "Enter the results from your test report. For TEF Canada, use the “Équivalence ancien score” "
    "values. For CLB or NCLC levels, enter each level from 0 to 12."
)


@dataclass(frozen=True)
class Section:
    title: str  # msgid
    fields: tuple[Field, ...]
    hint: str | None = None
    scores: tuple[Field, ...] = ()  # four score inputs after the section's test question


def _check_second_language(reading: Reading, words: Words) -> None:
    first, second = reading.answers.get("t1", "none"), reading.answers.get("t2", "none")
    if "none" not in (first, second) and chosen_test(first)[1] is chosen_test(second)[1]:
        reading.errors.append(FormError("t2", words(N_("Choose a test in the other official language"))))


def _levels(answers: Mapping[str, str], test: str, prefix: str) -> LanguageLevels | None:
    choice = answers.get(test, "none")
    return levels_from(choice, prefix, answers) if choice != "none" else None


# The CRS calculator ---------------------------------------------------------------------------

CRS_SECTIONS: Final = (
    Section(
        N_("About you"),
        (
            AGE,
            EDUCATION_LEVEL,
            Field(
                "cedu",
                Kind.RADIO,
                N_("Have you completed post-secondary education in Canada?"),
                required=N_("Select whether you have completed post-secondary education in Canada"),
                hint=N_("Full-time study at a school in Canada, where you lived for at least 8 months."),
                options=(
                    Option("none", N_("No")),
                    Option("one_or_two_year", N_("Yes, a credential of 1 or 2 years")),
                    Option(
                        "three_year_or_more",
                        N_(
                            "Yes, a credential of 3 years or more, or a master’s, professional or "
                            "doctoral degree"
                        ),
                    ),
                ),
            ),
        ),
    ),
    Section(N_("First official language"), (FIRST_TEST,), scores=score_fields("s1"), hint=SCORES_HINT),
    Section(N_("Second official language"), (SECOND_TEST,), scores=score_fields("s2")),
    Section(
        N_("Work experience"),
        (
            CANADIAN_WORK,
            Field(
                "fwork",
                Kind.RADIO,
                N_("How many years of skilled work experience do you have outside Canada?"),
                required=N_("Select how many years of skilled work you have outside Canada"),
                hint=N_("In the last 10 years: paid, full time or equal part time, TEER 0, 1, 2 or 3."),
                options=(
                    Option("0", N_("None, or less than 1 year")),
                    Option("1", N_("1 year")),
                    Option("2", N_("2 years")),
                    Option("3", N_("3 years or more")),
                ),
            ),
        ),
    ),
    Section(
        N_("Other factors"),
        (
            Field(
                "cert",
                Kind.CHECKBOX,
                N_("I have a certificate of qualification in a trade from a Canadian province or territory"),
            ),
            Field("pnp", Kind.CHECKBOX, N_("I have a provincial or territorial nomination")),
            Field(
                "sibling",
                Kind.CHECKBOX,
                N_(
                    "I or my spouse or partner have a brother or sister in Canada who is 18 or over "
                    "and a citizen or permanent resident"
                ),
            ),
        ),
    ),
    Section(N_("Spouse or partner"), (PARTNER,)),
    Section(
        N_("Your spouse or partner’s details"),
        (
            PARTNER_EDUCATION,
            PARTNER_WORK,
            Field(
                "p_test",
                Kind.RADIO,
                N_("Which language test has your spouse or partner taken?"),
                required=N_("Select the test your spouse or partner has taken"),
                options=(*language_tests(None, levels=True), NO_TEST),
            ),
        ),
        hint=N_(
            "Answer these only if your spouse or partner would come with you and is not a Canadian "
            "citizen or permanent resident."
        ),
        scores=score_fields("sp"),
    ),
)


def _crs_active(params: Mapping[str, str]) -> Sequence[Section]:
    if params.get("partner") == "coming":
        return CRS_SECTIONS
    return CRS_SECTIONS[:-1]


def crs_profile(answers: Mapping[str, str]) -> crs.CrsProfile:
    first = _levels(answers, "t1", "s1")
    assert first is not None
    partner = answers["partner"]
    spouse = None
    if partner != "none":
        spouse = crs.Spouse(
            accompanying=partner != "not_coming",
            canadian_citizen_or_pr=partner == "canadian",
            education=Education(answers.get("p_edu", "less_than_secondary")),
            language=_levels(answers, "p_test", "sp") if partner == "coming" else None,
            canadian_work_years=int(answers.get("p_work", "0")),
        )
    education = Education(answers["education"])
    canadian = crs.CanadianEducation(answers["cedu"])
    return crs.CrsProfile(
        age=int(answers["age"]),
        education=education,
        canadian_education=canadian,
        first_language=first,
        second_language=_levels(answers, "t2", "s2"),
        canadian_work_years=int(answers["cwork"]),
        foreign_work_years=int(answers["fwork"]),
        certificate_of_qualification=answers.get("cert") == "yes",
        provincial_nomination=answers.get("pnp") == "yes",
        sibling_in_canada=answers.get("sibling") == "yes",
        spouse=spouse,
    )


def _crs_cross_check(answers: Mapping[str, str], words: Words) -> list[FormError]:
    education, canadian = answers.get("education"), answers.get("cedu")
    if education is None or canadian is None:
        return []
    three_year = {"bachelor", "two_or_more", "master", "doctoral"}
    if (canadian == "three_year_or_more" and education not in three_year) or (
        canadian == "one_or_two_year" and education in ("less_than_secondary", "secondary")
    ):
        return [
            FormError(
                "cedu",
                words(N_("Your Canadian credential cannot be higher than your highest level of education")),
            )
        ]
    return []


# The FSW grid calculator ------------------------------------------------------------------------

FSW_SECTIONS: Final = (
    Section(
        N_("About you"),
        (
            AGE,
            EDUCATION_LEVEL,
            EDUCATION_WHERE,
        ),
    ),
    Section(
        N_("First official language"),
        (
            Field(
                "t1",
                Kind.RADIO,
                N_("Which test did you take in your first official language?"),
                required=N_("Select the test you took in your first official language"),
                options=(*language_tests(None, levels=True), NO_TEST),
            ),
        ),
        scores=score_fields("s1"),
        hint=SCORES_HINT,
    ),
    Section(N_("Second official language"), (SECOND_TEST,), scores=score_fields("s2")),
    Section(
        N_("Work experience"),
        (
            Field(
                "exp",
                Kind.RADIO,
                N_("How many years of skilled work experience do you have?"),
                required=N_("Select how many years of skilled work experience you have"),
                hint=N_(
                    "In Canada or abroad, in the last 10 years: paid, full time or equal part time, "
                    "TEER 0, 1, 2 or 3."
                ),
                options=year_options(6),
            ),
            Field(
                "continuous",
                Kind.RADIO,
                N_("Was at least 1 year of it continuous, in the same occupation?"),
                required=N_("Select yes or no"),
                options=YES_NO,
            ),
        ),
    ),
    Section(
        N_("Job offer and funds"),
        (
            Field(
                "offer",
                Kind.CHECKBOX,
                N_("I have a valid job offer in Canada: full time, not seasonal, for at least 1 year"),
            ),
            Field("authorized", Kind.CHECKBOX, N_("I am authorized to work in Canada now")),
            Field("quebec", Kind.CHECKBOX, N_("I plan to live in Quebec")),
            FAMILY_SIZE,
            SETTLEMENT_FUNDS,
        ),
    ),
    Section(
        N_("Adaptability"),
        (
            Field(
                "a_spouse_lang",
                Kind.CHECKBOX,
                N_("My spouse or partner, coming with me, has CLB or NCLC 4 or higher in all four abilities"),
            ),
            Field(
                "a_study", Kind.CHECKBOX, N_("I studied full time in Canada for at least 2 academic years")
            ),
            Field(
                "a_spouse_study",
                Kind.CHECKBOX,
                N_("My spouse or partner studied full time in Canada for at least 2 academic years"),
            ),
            Field(
                "a_work",
                Kind.CHECKBOX,
                N_(
                    "I worked full time in Canada for at least 1 year in a TEER 0, 1, 2 or 3 job, with "
                    "authorization"
                ),
            ),
            Field(
                "a_spouse_work",
                Kind.CHECKBOX,
                N_("My spouse or partner worked full time in Canada for at least 1 year, with authorization"),
            ),
            Field(
                "a_relative",
                Kind.CHECKBOX,
                N_(
                    "I or my spouse or partner have a relative in Canada who is 18 or over and a "
                    "citizen or permanent resident"
                ),
            ),
        ),
        hint=N_("Tick each one that is true. Adaptability counts for at most 10 points."),
    ),
)


def fsw_applicant(answers: Mapping[str, str]) -> fsw.FswApplicant:
    return fsw.FswApplicant(
        age=int(answers["age"]),
        education=Education(answers["education"]),
        education_recognized=answers["where"] in ("canada", "eca"),
        first_language=_levels(answers, "t1", "s1"),
        second_language=_levels(answers, "t2", "s2") if answers.get("t1", "none") != "none" else None,
        skilled_work_years=int(answers["exp"]),
        continuous_year_in_one_occupation=answers["continuous"] == "yes",
        arranged_employment=answers.get("offer") == "yes",
        authorized_to_work_in_canada=answers.get("authorized") == "yes",
        settlement_funds=int(answers["funds"]),
        family_size=int(answers["family"]),
        plans_to_live_in_quebec=answers.get("quebec") == "yes",
        adaptability=fsw.Adaptability(
            spouse_language_clb4=answers.get("a_spouse_lang") == "yes",
            studied_in_canada=answers.get("a_study") == "yes",
            spouse_studied_in_canada=answers.get("a_spouse_study") == "yes",
            worked_in_canada=answers.get("a_work") == "yes",
            spouse_worked_in_canada=answers.get("a_spouse_work") == "yes",
            relative_in_canada=answers.get("a_relative") == "yes",
        ),
    )


@dataclass(frozen=True)
class Calculator:
    key: str  # the link key content pages use
    paths: Mapping[Language, str]
    result_slugs: Mapping[Language, str]
    title: str  # msgid
    parent: str  # the content page it sits under
    sections: tuple[Section, ...]
    active: Callable[[Mapping[str, str]], Sequence[Section]]
    cross_check: Callable[[Mapping[str, str], Words], list[FormError]]
    result_template: str

    def result_path(self, lang: Language) -> str:
        return f"{self.paths[lang]}/{self.result_slugs[lang]}"

    @property
    def names(self) -> frozenset[str]:
        names = {spec.name for section in self.sections for spec in (*section.fields, *section.scores)}
        return frozenset(names | {"go"})

    def read(self, params: Mapping[str, str], words: Words) -> Reading:
        reading = Reading()
        for section in self.active(params):
            read_fields(section.fields, params, words, reading)
            test = section.fields[-1].name
            if section.scores and reading.answers.get(test, "none") != "none":
                read_scores(reading.answers[test], section.scores, params, words, reading)
        _check_second_language(reading, words)
        reading.errors.extend(self.cross_check(reading.answers, words))
        return reading


CRS_CALCULATOR: Final = Calculator(
    key="crs-calculator",
    paths={
        "en": "/en/immigrate/express-entry/crs-calculator",
        "fr": "/fr/immigrer/entree-express/calculateur-scg",
    },
    result_slugs={"en": "result", "fr": "resultat"},
    title=N_("Estimate your Express Entry score (CRS)"),
    parent="express-entry",
    sections=CRS_SECTIONS,
    active=_crs_active,
    cross_check=_crs_cross_check,
    result_template="checker/crs_result.html",
)

FSW_CALCULATOR: Final = Calculator(
    key="fsw-calculator",
    paths={
        "en": "/en/immigrate/express-entry/federal-skilled-workers/points-calculator",
        "fr": "/fr/immigrer/entree-express/travailleurs-qualifies-federal/calculateur-points",
    },
    result_slugs={"en": "result", "fr": "resultat"},
    title=N_("Check your Federal Skilled Worker points (67-point grid)"),
    parent="federal-skilled-workers",
    sections=FSW_SECTIONS,
    active=lambda params: FSW_SECTIONS,
    cross_check=lambda answers, words: [],
    result_template="checker/fsw_result.html",
)

CALCULATORS: Final = (CRS_CALCULATOR, FSW_CALCULATOR)


class CalculatorPages:
    def __init__(self, maker: PageMaker) -> None:
        self.maker = maker

    def routes(self) -> dict[str, QueryRoute]:
        routes: dict[str, QueryRoute] = {}
        for calculator in CALCULATORS:
            for lang in LANGUAGES:
                routes[calculator.paths[lang]] = QueryRoute(
                    lang, calculator.names, self._form_page(calculator, lang)
                )
                routes[calculator.result_path(lang)] = QueryRoute(
                    lang, calculator.names, self._result_page(calculator, lang), daily=True
                )
        return routes

    def _form_page(self, calculator: Calculator, lang: Language) -> Render:
        def render(params: Params, today: dt.date) -> CachedResponse:
            return self.form(calculator, lang, params)

        return render

    def _result_page(self, calculator: Calculator, lang: Language) -> Render:
        def render(params: Params, today: dt.date) -> CachedResponse:
            return self.result(calculator, lang, params, today)

        return render

    def form(self, calculator: Calculator, lang: Language, params: Params) -> CachedResponse:
        words = self.maker.words(lang)
        answers = {name: value for name, value in params.items() if name != "go"}
        reading: Reading | None = None
        if params.get("go") == "1":
            reading = calculator.read(answers, words)
            if not reading.errors:
                return self.maker.go(calculator.result_path(lang), reading.answers)
        sections = [
            {
                "title": words(section.title),
                "hint": words(section.hint) if section.hint else None,
                "fields": [field_view(spec, answers, reading, words) for spec in section.fields],
                "scores": [field_view(spec, answers, reading, words) for spec in section.scores],
                "scores_legend": words(N_("Your results")),
            }
            for section in calculator.sections
        ]
        return self.maker.render(
            lang,
            "checker/calculator.html",
            title=words(calculator.title),
            path=calculator.paths[lang],
            other_path=calculator.paths[other(lang)],
            params=answers,
            errors=reading.errors if reading else (),
            crumbs=self.maker.site.crumbs(lang, calculator.parent),
            sections=sections,
            action=calculator.paths[lang],
        )

    def result(
        self, calculator: Calculator, lang: Language, params: Params, today: dt.date
    ) -> CachedResponse:
        words = self.maker.words(lang)
        answers = {name: value for name, value in params.items() if name != "go"}
        reading = calculator.read(answers, words)
        if reading.errors:  # an address edited by hand: show the form with its problems
            return self.maker.go(calculator.paths[lang], {**answers, "go": "1"})
        clean = reading.answers
        context: dict[str, Any] = {}
        if calculator is CRS_CALCULATOR:
            result = crs.score(crs_profile(clean), as_of=today)
            context.update(total=result.total, sections=crs_view(result, words), version=result.rules_version)
        else:
            outcome = fsw.assess(fsw_applicant(clean), as_of=today)
            context.update(
                outcome=outcome,
                rows=fsw_view(outcome, words),
                requirements=[
                    (r.met, words.reason("federal_skilled_worker", r)) for r in outcome.requirements
                ],
                version=outcome.rules_version,
            )
        return self.maker.render(
            lang,
            calculator.result_template,
            title=words(N_("Your result")),
            path=calculator.result_path(lang),
            other_path=calculator.result_path(other(lang)),
            params=clean,
            crumbs=self.maker.site.crumbs(lang, calculator.parent),
            change_href=with_query(calculator.paths[lang], clean),
            check_href=self.maker.site.library.get(lang, "check-eligibility").path,
            today=today,
            **context,
        )
