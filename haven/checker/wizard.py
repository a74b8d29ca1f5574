"""The eligibility check as data: its questions, one per page, in sequences of at most seven, and the
branching that decides which apply. Answers live in the query string, never on the server.

``answers_to_applicant`` turns a complete set of answers into the rules' ``Applicant``; answers to
questions that no longer apply (a partner removed after their details were given) are dropped on the
way, so stale answers can never score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

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
from haven.rules import crs, programs
from haven.rules.common import POST_SECONDARY, Education, Language
from haven.web.i18n import N_
from haven.web.i18n import Language as SiteLanguage

Answers = Mapping[str, str]

BASE: Final[dict[SiteLanguage, str]] = {"en": "/en/check-eligibility", "fr": "/fr/verifier-admissibilite"}
CHECK_SLUG: Final[dict[SiteLanguage, str]] = {"en": "check-answers", "fr": "verifier-reponses"}
RESULTS_SLUG: Final[dict[SiteLanguage, str]] = {"en": "results", "fr": "resultats"}

SEQUENCES: Final = {
    "about_you": N_("About you"),
    "languages": N_("Your languages"),
    "partner": N_("Your spouse or partner"),
    "work": N_("Your work"),
    "situation": N_("Your situation"),
}


@dataclass(frozen=True)
class Question:
    key: str
    slugs: Mapping[SiteLanguage, str]
    sequence: str
    title: str  # msgid: the page's h1, and the legend or label of its answer
    fields: tuple[Field, ...]
    hint: str | None = None
    applies: Callable[[Answers], bool] = lambda answers: True
    # For score pages: the answer naming the test whose scale applies.
    test_answer: str | None = None
    # For a radio whose choices depend on earlier answers (the other language's tests).
    choices: Callable[[Answers], tuple[Option, ...]] | None = None
    # The title (and the answer's label) for someone with no spouse or partner, where the title
    # speaks of one.
    alone: str | None = None

    def title_for(self, answers: Answers) -> str:
        return self.alone if self.alone is not None and answers.get("partner") == "none" else self.title

    def fields_for(self, answers: Answers) -> tuple[Field, ...]:
        fields = self.fields
        if self.title_for(answers) != self.title:
            fields = tuple(dataclasses.replace(spec, label=self.title_for(answers)) for spec in fields)
        if self.choices is None:
            return fields
        return tuple(dataclasses.replace(spec, options=self.choices(answers)) for spec in fields)

    def path(self, lang: SiteLanguage) -> str:
        return f"{BASE[lang]}/{self.slugs[lang]}"

    def answered(self, answers: Answers) -> bool:
        return all(spec.optional or spec.name in answers for spec in self.fields)

    def read(self, params: Answers, words: Words) -> Reading:
        reading = Reading()
        if self.test_answer is not None:
            read_scores(params.get(self.test_answer), self.fields, params, words, reading)
        else:
            read_fields(self.fields_for(params), params, words, reading)
        # Listed in the order of the fields on the page (a score off the test's scale is found
        # after every score is read, and would otherwise come after a later field's "enter it").
        order = {spec.name: index for index, spec in enumerate(self.fields)}
        reading.errors.sort(key=lambda error: order.get(error.field, len(order)))
        return reading


def _settled(answers: Answers) -> bool:
    return answers.get("status") in ("citizen", "permanent_resident")


def _immigrating(answers: Answers) -> bool:
    return "status" in answers and not _settled(answers)


def _partner_comes(answers: Answers) -> bool:
    return _immigrating(answers) and answers.get("partner") == "coming"


def _int(answers: Answers, name: str) -> int:
    value = answers.get(name, "0")
    return int(value) if value.isdigit() else 0


def _first_test_language(answers: Answers) -> Language | None:
    choice = answers.get("test1")
    if choice is None or choice == "none":
        return None
    return chosen_test(choice)[1]


def _other_language_tests(answers: Answers) -> tuple[Option, ...]:
    first = _first_test_language(answers)
    other = Language.FRENCH if first is Language.ENGLISH else Language.ENGLISH
    return (*language_tests(other), NO_TEST)


def _years(name: str, label: str, required: str, top: int, hint: str | None = None) -> Field:
    return Field(name, Kind.RADIO, label, required=required, options=year_options(top), hint=hint)


QUESTIONS: Final[tuple[Question, ...]] = (
    # About you
    Question(
        "status",
        {"en": "status", "fr": "statut"},
        "about_you",
        N_("What is your status in Canada?"),
        (
            Field(
                "status",
                Kind.RADIO,
                N_("What is your status in Canada?"),
                required=N_("Select your status in Canada"),
                options=(
                    Option("outside", N_("I live outside Canada, or I have no status in Canada")),
                    Option("visitor", N_("I am in Canada as a visitor")),
                    Option("student", N_("I am in Canada with a study permit")),
                    Option("worker", N_("I am in Canada with a work permit")),
                    Option("permanent_resident", N_("I am a permanent resident of Canada")),
                    Option("citizen", N_("I am a Canadian citizen")),
                ),
            ),
        ),
    ),
    Question(
        "age",
        {"en": "age", "fr": "age"},
        "about_you",
        N_("How old are you?"),
        (AGE,),
        applies=_immigrating,
    ),
    Question(
        "partner",
        {"en": "partner", "fr": "conjoint"},
        "about_you",
        N_("Do you have a spouse or common-law partner?"),
        (PARTNER,),
        applies=_immigrating,
    ),
    Question(
        "education",
        {"en": "education", "fr": "etudes"},
        "about_you",
        N_("What is your highest level of education?"),
        (EDUCATION_LEVEL,),
        applies=_immigrating,
    ),
    Question(
        "education_where",
        {"en": "education-location", "fr": "lieu-etudes"},
        "about_you",
        N_("Where did you get this education?"),
        (EDUCATION_WHERE,),
        applies=lambda a: (
            _immigrating(a) and a.get("education", "less_than_secondary") != "less_than_secondary"
        ),
    ),
    Question(
        "study_in_canada",
        {"en": "study-in-canada", "fr": "etudes-au-canada"},
        "about_you",
        N_("How long was the program you completed in Canada?"),
        (
            Field(
                "study",
                Kind.RADIO,
                N_("How long was the program you completed in Canada?"),
                required=N_("Select how long your program in Canada was"),
                hint=N_(
                    "Count full-time study at a school in Canada, where you lived for at least 8 months."
                ),
                options=(
                    Option("1", N_("1 year")),
                    Option("2", N_("2 years")),
                    Option("3", N_("3 years or more")),
                ),
            ),
        ),
        applies=lambda a: (
            _immigrating(a)
            and a.get("where") == "canada"
            and a.get("education") in {level.value for level in POST_SECONDARY}
        ),
    ),
    # Languages
    Question(
        "test1",
        {"en": "language-test", "fr": "test-langue"},
        "languages",
        N_("Which language test have you taken?"),
        (
            Field(
                "test1",
                Kind.RADIO,
                N_("Which language test have you taken?"),
                required=N_("Select the language test you have taken"),
                hint=N_("Choose the test of your stronger official language. Results count for 2 years."),
                options=(*language_tests(None), NO_TEST),
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "scores1",
        {"en": "test-results", "fr": "resultats-test"},
        "languages",
        N_("What are your test results?"),
        score_fields("s1"),
        applies=lambda a: _immigrating(a) and a.get("test1", "none") != "none",
        test_answer="test1",
    ),
    Question(
        "test2",
        {"en": "other-language-test", "fr": "test-autre-langue"},
        "languages",
        N_("Have you taken a test in the other official language?"),
        (
            Field(
                "test2",
                Kind.RADIO,
                N_("Have you taken a test in the other official language?"),
                required=N_("Select a test, or that you have not taken one"),
                options=(*language_tests(None), NO_TEST),
            ),
        ),
        applies=lambda a: _immigrating(a) and a.get("test1", "none") != "none",
        choices=_other_language_tests,
    ),
    Question(
        "scores2",
        {"en": "other-test-results", "fr": "resultats-autre-test"},
        "languages",
        N_("What are your results in the other language?"),
        score_fields("s2"),
        applies=lambda a: (
            _immigrating(a) and a.get("test1", "none") != "none" and a.get("test2", "none") != "none"
        ),
        test_answer="test2",
    ),
    # Partner
    Question(
        "partner_education",
        {"en": "partner-education", "fr": "etudes-conjoint"},
        "partner",
        N_("What is your spouse or partner’s highest level of education?"),
        (PARTNER_EDUCATION,),
        applies=_partner_comes,
    ),
    Question(
        "partner_test",
        {"en": "partner-language-test", "fr": "test-langue-conjoint"},
        "partner",
        N_("Which language test has your spouse or partner taken?"),
        (
            Field(
                "p_test",
                Kind.RADIO,
                N_("Which language test has your spouse or partner taken?"),
                required=N_("Select the test your spouse or partner has taken"),
                options=(*language_tests(None), NO_TEST),
            ),
        ),
        applies=_partner_comes,
    ),
    Question(
        "partner_scores",
        {"en": "partner-test-results", "fr": "resultats-test-conjoint"},
        "partner",
        N_("What are your spouse or partner’s test results?"),
        score_fields("sp"),
        applies=lambda a: _partner_comes(a) and a.get("p_test", "none") != "none",
        test_answer="p_test",
    ),
    Question(
        "partner_work",
        {"en": "partner-canadian-work", "fr": "travail-canadien-conjoint"},
        "partner",
        N_("How many years of skilled work in Canada does your spouse or partner have?"),
        (PARTNER_WORK,),
        applies=_partner_comes,
    ),
    Question(
        "partner_study",
        {"en": "partner-study", "fr": "etudes-conjoint-canada"},
        "partner",
        N_("Has your spouse or partner studied full time in Canada for at least 2 years?"),
        (
            Field(
                "p_study",
                Kind.RADIO,
                N_("Has your spouse or partner studied full time in Canada for at least 2 years?"),
                required=N_("Select yes or no"),
                options=YES_NO,
            ),
        ),
        applies=_partner_comes,
    ),
    # Work
    Question(
        "canadian_work",
        {"en": "canadian-work", "fr": "travail-canadien"},
        "work",
        N_("How many years of skilled work experience do you have in Canada?"),
        (CANADIAN_WORK,),
        applies=_immigrating,
    ),
    Question(
        "recent_canadian_work",
        {"en": "recent-canadian-work", "fr": "travail-canadien-recent"},
        "work",
        N_("Did you do at least 1 year of this work in Canada in the last 3 years?"),
        (
            Field(
                "recent",
                Kind.RADIO,
                N_("Did you do at least 1 year of this work in Canada in the last 3 years?"),
                required=N_("Select whether you did 1 year of this work in the last 3 years"),
                hint=N_("Self-employment and work while you were a full-time student do not count here."),
                options=(
                    Option("teer_0_1", N_("Yes, in a TEER 0 or 1 job")),
                    Option("teer_2_3", N_("Yes, in a TEER 2 or 3 job")),
                    Option("no", N_("No")),
                ),
            ),
        ),
        applies=lambda a: _immigrating(a) and _int(a, "cwork") >= 1,
    ),
    Question(
        "foreign_work",
        {"en": "foreign-work", "fr": "travail-etranger"},
        "work",
        N_("How many years of skilled work experience do you have outside Canada?"),
        (
            _years(
                "fwork",
                N_("How many years of skilled work experience do you have outside Canada?"),
                N_("Select how many years of skilled work you have outside Canada"),
                6,
                N_(
                    "Count the last 10 years: paid work, full time or equal part time, "
                    "in a TEER 0, 1, 2 or 3 job."
                ),
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "continuous",
        {"en": "continuous-work", "fr": "travail-continu"},
        "work",
        N_("Was at least 1 year of your skilled work continuous, in the same occupation?"),
        (
            Field(
                "continuous",
                Kind.RADIO,
                N_("Was at least 1 year of your skilled work continuous, in the same occupation?"),
                required=N_("Select yes or no"),
                hint=N_("Continuous means without a break, in the same job category (NOC code)."),
                options=YES_NO,
            ),
        ),
        applies=lambda a: _immigrating(a) and _int(a, "cwork") + _int(a, "fwork") >= 1,
    ),
    Question(
        "trade",
        {"en": "skilled-trade", "fr": "metier-specialise"},
        "work",
        N_("Have you worked in a skilled trade in the last 5 years?"),
        (
            Field(
                "trade",
                Kind.RADIO,
                N_("Have you worked in a skilled trade in the last 5 years?"),
                required=N_("Select whether you have worked in a skilled trade"),
                hint=N_(
                    "For example electricians, plumbers, welders, heavy equipment operators, "
                    "cooks and bakers."
                ),
                options=(
                    Option("no", N_("No")),
                    Option("1", N_("Yes, for less than 2 years")),
                    Option("2", N_("Yes, for 2 years or more")),
                ),
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "certificate",
        {"en": "trade-certificate", "fr": "certificat-metier"},
        "work",
        N_("Do you have a certificate of qualification in your trade from a Canadian province or territory?"),
        (
            Field(
                "cert",
                Kind.RADIO,
                N_(
                    "Do you have a certificate of qualification in your trade "
                    "from a Canadian province or territory?"
                ),
                required=N_("Select yes or no"),
                options=YES_NO,
            ),
        ),
        applies=lambda a: _immigrating(a) and a.get("trade", "no") != "no",
    ),
    # Situation
    Question(
        "job_offer",
        {"en": "job-offer", "fr": "offre-emploi"},
        "situation",
        N_("Do you have a valid job offer in Canada?"),
        (
            Field(
                "offer",
                Kind.RADIO,
                N_("Do you have a valid job offer in Canada?"),
                required=N_("Select yes or no"),
                hint=N_("Full-time, not seasonal, for at least 1 year, in a TEER 0, 1, 2 or 3 job."),
                options=YES_NO,
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "nomination",
        {"en": "nomination", "fr": "designation"},
        "situation",
        N_("Has a province or territory nominated you?"),
        (
            Field(
                "pnp",
                Kind.RADIO,
                N_("Has a province or territory nominated you?"),
                required=N_("Select yes or no"),
                hint=N_("Only a nomination through a stream aligned with Express Entry counts."),
                options=YES_NO,
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "relative",
        {"en": "relatives", "fr": "famille-au-canada"},
        "situation",
        N_("Do you or your spouse or partner have a close relative in Canada?"),
        alone=N_("Do you have a close relative in Canada?"),
        fields=(
            Field(
                "relative",
                Kind.RADIO,
                N_("Do you or your spouse or partner have a close relative in Canada?"),
                required=N_("Select whether you have a close relative in Canada"),
                hint=N_("Aged 18 or over, living in Canada, and a Canadian citizen or permanent resident."),
                options=(
                    Option("sibling", N_("Yes, a brother or sister")),
                    Option(
                        "other",
                        N_("Yes, another close relative"),
                        N_("A parent, grandparent, child, grandchild, aunt, uncle, niece or nephew."),
                    ),
                    Option("none", N_("No")),
                ),
            ),
        ),
        applies=_immigrating,
    ),
    Question(
        "family_size",
        {"en": "family-size", "fr": "taille-famille"},
        "situation",
        N_("How many people are in your family?"),
        (FAMILY_SIZE,),
        applies=_immigrating,
    ),
    Question(
        "funds",
        {"en": "settlement-funds", "fr": "fonds"},
        "situation",
        N_("How much money can you bring to settle in Canada?"),
        (SETTLEMENT_FUNDS,),
        applies=_immigrating,
    ),
    Question(
        "province",
        {"en": "province", "fr": "province"},
        "situation",
        N_("Where in Canada do you plan to live?"),
        (
            Field(
                "quebec",
                Kind.RADIO,
                N_("Where in Canada do you plan to live?"),
                required=N_("Select where you plan to live"),
                options=(
                    Option("no", N_("Outside Quebec")),
                    Option("yes", N_("In Quebec"), N_("Quebec selects its own skilled workers.")),
                    Option("unsure", N_("I do not know yet")),
                ),
            ),
        ),
        applies=_immigrating,
    ),
)

FIELD_NAMES: Final = frozenset(spec.name for question in QUESTIONS for spec in question.fields)


def applicable(answers: Answers) -> list[Question]:
    return [question for question in QUESTIONS if question.applies(answers)]


def prune(answers: Answers) -> dict[str, str]:
    """Only the answers of questions that apply now, in question order."""
    kept: dict[str, str] = {}
    for question in applicable(answers):
        for spec in question.fields:
            if spec.name in answers:
                kept[spec.name] = answers[spec.name]
    return kept


def next_after(question: Question, answers: Answers) -> Question | None:
    """The next question that applies, or None when the check-answers page comes next."""
    keys = [q.key for q in QUESTIONS]
    for candidate in QUESTIONS[keys.index(question.key) + 1 :]:
        if candidate.applies(answers):
            return candidate
    return None


def first_unanswered(answers: Answers) -> Question | None:
    return next((q for q in applicable(answers) if not q.answered(answers)), None)


def previous_before(question: Question, answers: Answers) -> Question | None:
    keys = [q.key for q in QUESTIONS]
    earlier = [q for q in QUESTIONS[: keys.index(question.key)] if q.applies(answers)]
    return earlier[-1] if earlier else None


def position(question: Question) -> tuple[int, int]:
    """The part of the check this question is in, and how many parts there are: a total that never
    changes under a person's feet (a count of questions would, as answers bring questions in or
    take them out). A part that does not apply (a partner's, with no partner) is skipped."""
    parts = list(SEQUENCES)
    return parts.index(question.sequence) + 1, len(parts)


def answers_to_applicant(answers: Answers) -> programs.Applicant:
    """The rules' applicant from a complete set of answers (already read and pruned)."""
    status = programs.Status(answers["status"])
    if status in (programs.Status.CITIZEN, programs.Status.PERMANENT_RESIDENT):
        return programs.Applicant(
            status=status, age=0, education=Education.LESS_THAN_SECONDARY, education_recognized=False
        )
    education = Education(answers["education"])
    where = answers.get("where")
    study_years = int(answers.get("study", "0"))
    canadian_education = crs.CanadianEducation.NONE
    if study_years:
        three_year = education in {
            Education.BACHELOR,
            Education.TWO_OR_MORE,
            Education.MASTER,
            Education.DOCTORAL,
        }
        canadian_education = (
            crs.CanadianEducation.THREE_YEAR_OR_MORE
            if study_years >= 3 and three_year
            else crs.CanadianEducation.ONE_OR_TWO_YEAR
        )
    test1, test2, partner_test = (
        answers.get("test1", "none"),
        answers.get("test2", "none"),
        answers.get("p_test", "none"),
    )
    recent = answers.get("recent", "no")
    partner = programs.Partner(answers["partner"])
    details = programs.PartnerDetails()
    if partner is programs.Partner.COMING:
        details = programs.PartnerDetails(
            education=Education(answers["p_edu"]),
            language=levels_from(partner_test, "sp", answers) if partner_test != "none" else None,
            canadian_work_years=int(answers["p_work"]),
            studied_in_canada=answers.get("p_study") == "yes",
        )
    return programs.Applicant(
        status=status,
        age=int(answers["age"]),
        education=education,
        education_recognized=where in ("canada", "eca"),
        canadian_education=canadian_education,
        canadian_study_years=study_years,
        first_language=levels_from(test1, "s1", answers) if test1 != "none" else None,
        second_language=levels_from(test2, "s2", answers) if test1 != "none" and test2 != "none" else None,
        canadian_work_years=int(answers["cwork"]),
        canadian_work_recent_teer=programs.Teer(recent) if recent != "no" else None,
        foreign_work_years=int(answers["fwork"]),
        continuous_year_in_one_occupation=answers.get("continuous") == "yes",
        trade_years_last_5=int(answers["trade"]) if answers["trade"] != "no" else 0,
        certificate_of_qualification=answers.get("cert") == "yes",
        job_offer=answers["offer"] == "yes",
        provincial_nomination=answers["pnp"] == "yes",
        relative=programs.Relative(answers["relative"]),
        settlement_funds=int(answers["funds"]),
        family_size=int(answers["family"]),
        plans_to_live_in_quebec=answers["quebec"] == "yes",
        partner=partner,
        partner_details=details,
    )


def validate_all(answers: Answers, words: Words) -> Question | None:
    """The first applicable question whose answer is missing or unreadable, if any."""
    for question in applicable(answers):
        reading = question.read(answers, words)
        if reading.errors:
            return question
    return None
