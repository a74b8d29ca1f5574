"""The Express Entry profile, section by section: what each asks and how its answers are checked.

A section is one page of related questions (reference §F.2). Answers are kept as typed, even when
something is wrong with them, so nothing is ever lost; a section counts as complete when everything
it asks is answered and valid. The work history is a list of jobs with pages of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from haven.checker.fields import (
    EDUCATION_OPTIONS,
    NO_TEST,
    PARTNER_EDUCATION,
    PARTNER_WORK,
    SETTLEMENT_FUNDS,
    YES_NO,
    chosen_test,
    language_tests,
    read_scores,
    score_fields,
)
from haven.profiles.noc import UNIT_GROUPS
from haven.web.countries import citizenships, countries
from haven.web.forms import Field, FormError, Kind, Option, Reading, Translate, read_fields
from haven.web.i18n import N_
from haven.web.i18n import Language as SiteLanguage

Answers = Mapping[str, str]


def _text(
    name: str,
    label: str,
    required: str,
    *,
    optional: bool = False,
    autocomplete: str = "",
    max_length: int = 100,
    hint: str | None = None,
    pattern: str = "",
    invalid: str = "",
) -> Field:
    return Field(
        name,
        Kind.TEXT,
        label,
        required=required,
        optional=optional,
        autocomplete=autocomplete,
        max_length=max_length,
        hint=hint,
        pattern=pattern,
        invalid=invalid or N_("Enter %(maximum)s characters or fewer"),
        width=20,
    )


def _country(
    name: str,
    label: str,
    required: str,
    *,
    optional: bool = False,
    autocomplete: str = "",
    labels: Callable[[SiteLanguage], Mapping[str, str]] = countries,
) -> Field:
    """A country chosen from the list: its ISO code is kept, its name shown in the page's language."""
    return Field(
        name,
        Kind.SELECT,
        label,
        required=required,
        optional=optional,
        autocomplete=autocomplete,
        labels=labels,
    )


def _yes_no(name: str, label: str, hint: str | None = None) -> Field:
    return Field(name, Kind.RADIO, label, required=N_("Select yes or no"), options=YES_NO, hint=hint)


MARITAL: Final = Field(
    "marital",
    Kind.RADIO,
    N_("What is your marital status?"),
    required=N_("Select your marital status"),
    options=(
        Option("never_married", N_("Never married")),
        Option("married", N_("Married")),
        Option("common_law", N_("Common-law")),
        Option("separated", N_("Legally separated")),
        Option("divorced", N_("Divorced")),
        Option("widowed", N_("Widowed")),
    ),
)

PERSONAL: Final = (
    _text("family_name", N_("Family name"), N_("Enter your family name"), autocomplete="family-name"),
    _text(
        "given_names",
        N_("Given names (optional)"),
        "",
        optional=True,
        autocomplete="given-name",
        hint=N_("As they appear on your passport. Leave this empty if you have none."),
    ),
    Field(
        "dob",
        Kind.DATE,
        N_("Date of birth"),
        required=N_("Enter your date of birth"),
        invalid=N_("Date of birth must be a real date"),
        when="past",
        rule=N_("Date of birth must be in the past"),
        hint=N_("For example, 27 3 1990"),
        autocomplete="bday",
    ),
    _country("birth_country", N_("Country of birth"), N_("Select the country where you were born")),
    _country(
        "citizenship",
        N_("Country of citizenship"),
        N_("Select your country of citizenship, or that you are stateless"),
        labels=citizenships,
    ),
    _country("residence", N_("Country where you live"), N_("Select the country where you live")),
    MARITAL,
    _text(
        "passport_number",
        N_("Passport number"),
        N_("Enter your passport number"),
        max_length=20,
        pattern=r"[A-Za-z0-9 ]{5,24}",
        invalid=N_("Enter a passport number of 5 to 20 letters and numbers"),
        hint=N_("Haven encrypts your passport number and never writes it to a log."),
    ),
    _country(
        "passport_country",
        N_("Country that issued your passport"),
        N_("Select the country that issued your passport"),
    ),
    Field(
        "passport_expiry",
        Kind.DATE,
        N_("Passport expiry date"),
        required=N_("Enter your passport’s expiry date"),
        invalid=N_("Passport expiry date must be a real date"),
        when="future",
        rule=N_("Your passport has expired: renew it before you submit a profile"),
    ),
)

CONTACT: Final = (
    _text(
        "phone",
        N_("Telephone number"),
        N_("Enter your telephone number"),
        autocomplete="tel",
        max_length=25,
        pattern=r"[0-9+()\-. ]{7,25}",
        invalid=N_("Enter a telephone number, like +1 613 555 0100"),
    ),
    _text(
        "address",
        N_("Street address"),
        N_("Enter your street address"),
        autocomplete="street-address",
        max_length=200,
    ),
    _text("city", N_("Town or city"), N_("Enter your town or city"), autocomplete="address-level2"),
    _text(
        "region", N_("Province, state or region (optional)"), "", optional=True, autocomplete="address-level1"
    ),
    _text(
        "postal_code",
        N_("Postal code (optional)"),
        "",
        optional=True,
        autocomplete="postal-code",
        max_length=12,
    ),
    _country("country", N_("Country"), N_("Select your country"), autocomplete="country"),
)


def _test_date(name: str) -> Field:
    return Field(
        name,
        Kind.DATE,
        N_("Date of the test results"),
        required=N_("Enter the date of your test results"),
        invalid=N_("The test result date must be a real date"),
        when="past",
        rule=N_("The test result date must be in the past"),
    )


# The organizations IRCC designates to make an educational credential assessment for Express Entry
# (canada.ca, "Educational credential assessment (ECA) for Express Entry: How to get one", as read
# in 2026); the last two only for their professions' own diplomas.
ECA_ORGANIZATIONS: Final = (
    Option("ces", N_("Comparative Education Service – University of Toronto School of Continuing Studies")),
    Option("icas", N_("International Credential Assessment Service of Canada")),
    Option("wes", N_("World Education Services")),
    Option("iqas", N_("International Qualifications Assessment Service")),
    Option("ices", N_("International Credential Evaluation Service")),
    Option(
        "mcc",
        N_("Medical Council of Canada"),
        N_("For specialists and family physicians (NOC 31100, 31101 or 31102): the primary medical diploma."),
    ),
    Option(
        "pebc",
        N_("Pharmacy Examining Board of Canada"),
        N_("For pharmacists (NOC 31120) who need a licence to practise."),
    ),
)

FIRST_TEST: Final = Field(
    "test1",
    Kind.RADIO,
    N_("Which test did you take in your first official language?"),
    required=N_("Select the test you took in your first official language"),
    options=language_tests(None),
)
SECOND_TEST: Final = Field(
    "test2",
    Kind.RADIO,
    N_("Did you take a test in your second official language?"),
    required=N_("Select a test, or that you have not taken one"),
    options=(*language_tests(None), NO_TEST),
)

EDUCATION: Final = (
    Field(
        "level",
        Kind.RADIO,
        N_("What is your highest level of education?"),
        required=N_("Select your highest level of education"),
        options=EDUCATION_OPTIONS,
    ),
    Field(
        "where",
        Kind.RADIO,
        N_("Where did you get it?"),
        required=N_("Select where you got this education"),
        options=(
            Option("canada", N_("In Canada")),
            Option("eca", N_("Outside Canada, and I have an educational credential assessment (ECA)")),
            Option("no_eca", N_("Outside Canada, and I do not have an ECA")),
        ),
    ),
    Field(
        "eca_org",
        Kind.RADIO,
        N_("Which organization made your ECA?"),
        required=N_("Select the organization that made your ECA"),
        options=ECA_ORGANIZATIONS,
        hint=N_("Only these organizations are designated by IRCC to assess education for Express Entry."),
    ),
    Field(
        "eca_date",
        Kind.DATE,
        N_("Date of your ECA report"),
        required=N_("Enter the date of your ECA report"),
        invalid=N_("The ECA date must be a real date"),
        when="past",
        rule=N_("The ECA date must be in the past"),
    ),
    _text("eca_ref", N_("ECA reference number"), N_("Enter your ECA reference number"), max_length=40),
    Field(
        "study",
        Kind.RADIO,
        N_("How long was the program you completed in Canada?"),
        required=N_("Select how long your program in Canada was"),
        options=(Option("1", N_("1 year")), Option("2", N_("2 years")), Option("3", N_("3 years or more"))),
    ),
    _yes_no(
        "certificate",
        N_("Do you have a certificate of qualification in a trade from a Canadian province or territory?"),
    ),
)

JOB: Final = (
    _text("title", N_("Job title"), N_("Enter the job title")),
    _text(
        "noc",
        N_("NOC 2021 code"),
        N_("Enter the 5-digit NOC 2021 code of this job"),
        max_length=5,
        pattern=r"\d{5}",
        invalid=N_("Enter the 5-digit NOC 2021 code, like 21231"),
        hint=N_("The code whose duties match yours. Its second digit is the job’s TEER category."),
    ),
    _text("employer", N_("Employer"), N_("Enter the employer’s name")),
    _yes_no("in_canada", N_("Was this job in Canada?")),
    _country(
        "country",
        N_("Country (if not in Canada)"),
        N_("Select the country where you did this job"),
        optional=True,
    ),
    _yes_no(
        "authorized",
        N_("In Canada, were you authorized to work?"),
        hint=N_("Answer only for a job in Canada."),
    ),
    Field(
        "start",
        Kind.MONTH,
        N_("When did you start?"),
        required=N_("Enter the month and year you started"),
        invalid=N_("The start date must be a real month and year"),
        hint=N_("For example, 3 2019"),
    ),
    Field("current", Kind.CHECKBOX, N_("I still do this job")),
    Field(
        "end",
        Kind.MONTH,
        N_("When did you stop?"),
        required=N_("Enter the month and year you stopped"),
        invalid=N_("The end date must be a real month and year"),
        optional=True,
    ),
    Field(
        "hours",
        Kind.NUMBER,
        N_("Hours worked each week"),
        required=N_("Enter the hours you worked each week"),
        invalid=N_("Enter the hours you worked each week as a whole number from %(minimum)s to %(maximum)s"),
        minimum=1,
        maximum=80,
        width=3,
    ),
    _yes_no("paid", N_("Was this paid work?")),
)

PROVINCES: Final = tuple(
    Option(code, name)
    for code, name in (
        ("ab", N_("Alberta")),
        ("bc", N_("British Columbia")),
        ("mb", N_("Manitoba")),
        ("nb", N_("New Brunswick")),
        ("nl", N_("Newfoundland and Labrador")),
        ("ns", N_("Nova Scotia")),
        ("on", N_("Ontario")),
        ("pe", N_("Prince Edward Island")),
        ("sk", N_("Saskatchewan")),
        ("nt", N_("Northwest Territories")),
        ("nu", N_("Nunavut")),
        ("yt", N_("Yukon")),
    )
)


@dataclass(frozen=True)
class Shown:
    """When a follow-up question is asked: each of these earlier answers on the page is one of its
    values ("" for a question not answered, or a box not ticked). The pages ask by it, and their
    script shows and hides the question in place by the same rule."""

    when: tuple[tuple[str, frozenset[str]], ...]

    def holds(self, answers: Answers) -> bool:
        return all(str(answers.get(name, "")) in values for name, values in self.when)

    def rule(self) -> list[list[object]]:
        """The rule as the page's script reads it: [[name, [value, …]], …]."""
        return [[name, sorted(values)] for name, values in self.when]


def shown(**when: Iterable[str]) -> Shown:
    return Shown(tuple((name, frozenset(values)) for name, values in when.items()))


@dataclass(frozen=True)
class Section:
    key: str
    slugs: Mapping[SiteLanguage, str]
    title: str  # msgid
    fields: tuple[Field, ...]  # every question the page can ask, in order
    follow_ups: Mapping[str, Shown] = field(default_factory=dict)  # by field name
    applies: Callable[[Mapping[str, Answers]], bool] = lambda profile: True
    intro: str | None = None

    def fields_for(self, own: Answers, profile: Mapping[str, Answers]) -> tuple[Field, ...]:
        """The questions asked, given this page's answers."""
        return tuple(
            spec
            for spec in self.fields
            if spec.name not in self.follow_ups or self.follow_ups[spec.name].holds(own)
        )

    def read(
        self, params: Answers, profile: Mapping[str, Answers], words: Translate, today: dt.date
    ) -> Reading:
        reading = Reading()
        specs = self.fields_for(params, profile)
        plain = [spec for spec in specs if spec.kind is not Kind.SCORE]
        read_fields(plain, params, words, reading, today=today)
        for prefix, test in (("s1", "test1"), ("s2", "test2"), ("sp", "p_test")):
            scores = [spec for spec in specs if spec.kind is Kind.SCORE and spec.name.startswith(prefix)]
            if scores:
                read_scores(params.get(test), scores, params, words, reading)
        if self.key == "languages":
            _check_second_language(reading, words)
        if "passport_number" in reading.answers:
            reading.answers["passport_number"] = reading.answers["passport_number"].replace(" ", "").upper()
        return reading


def _check_second_language(reading: Reading, words: Translate) -> None:
    first, second = reading.answers.get("test1", "none"), reading.answers.get("test2", "none")
    if "none" not in (first, second) and chosen_test(first)[1] is chosen_test(second)[1]:
        reading.errors.append(FormError("test2", words(N_("Choose a test in the other official language"))))


# On a job's page, shown in place by the page's script; without it, every question is on the page,
# each saying when to answer it (the job's checks tie them together: ``job_reading``).
JOB_FOLLOW_UPS: Final = {
    "country": shown(in_canada={"no", ""}),
    "authorized": shown(in_canada={"yes", ""}),
    "end": shown(current={""}),
}

TESTS_TAKEN: Final = frozenset(option.value for option in language_tests(None))
# Levels of education that were got somewhere (a study in Canada counts past secondary school).
LEVELS_GOT: Final = frozenset(option.value for option in EDUCATION_OPTIONS) - {"less_than_secondary"}

LANGUAGE_TESTS: Final = (
    FIRST_TEST,
    _test_date("date1"),
    *score_fields("s1"),
    SECOND_TEST,
    _test_date("date2"),
    *score_fields("s2"),
)
LANGUAGE_FOLLOW_UPS: Final = {
    name: shown(test2=TESTS_TAKEN) for name in ("date2", *(f.name for f in score_fields("s2")))
}

EDUCATION_FOLLOW_UPS: Final = {
    "where": shown(level=LEVELS_GOT),
    **dict.fromkeys(("eca_org", "eca_date", "eca_ref"), shown(level=LEVELS_GOT, where={"eca"})),
    "study": shown(level=LEVELS_GOT - {"secondary"}, where={"canada"}),
}


def has_partner(profile: Mapping[str, Answers]) -> bool:
    return profile.get("personal", {}).get("marital") in ("married", "common_law")


PARTNER: Final = (
    _yes_no("p_accompanying", N_("Will your spouse or partner come with you to Canada?")),
    _yes_no("p_canadian", N_("Is your spouse or partner a Canadian citizen or permanent resident?")),
    PARTNER_EDUCATION,
    PARTNER_WORK,
    Field(
        "p_test",
        Kind.RADIO,
        N_("Which language test has your spouse or partner taken?"),
        required=N_("Select the test your spouse or partner has taken"),
        options=(*language_tests(None), NO_TEST),
    ),
    *score_fields("sp"),
)
# A partner's factors count only for a partner who comes and is not already a citizen or resident.
_COUNTED: Final = shown(p_accompanying={"yes"}, p_canadian={"no"})
PARTNER_FOLLOW_UPS: Final = {
    **dict.fromkeys((PARTNER_EDUCATION.name, PARTNER_WORK.name, "p_test"), _COUNTED),
    **{
        spec.name: shown(p_accompanying={"yes"}, p_canadian={"no"}, p_test=TESTS_TAKEN)
        for spec in score_fields("sp")
    },
}

NOMINATION: Final = (
    _yes_no("pnp", N_("Has a province or territory nominated you through Express Entry?")),
    Field(
        "province",
        Kind.RADIO,
        N_("Which province or territory?"),
        required=N_("Select the province or territory that nominated you"),
        options=PROVINCES,
    ),
    _text(
        "nomination_number",
        N_("Nomination certificate number"),
        N_("Enter the nomination certificate number"),
        max_length=40,
    ),
)
NOMINATION_FOLLOW_UPS: Final = dict.fromkeys(("province", "nomination_number"), shown(pnp={"yes"}))


SECTIONS: Final[tuple[Section, ...]] = (
    Section(
        "personal",
        {"en": "personal-details", "fr": "renseignements-personnels"},
        N_("Personal details"),
        PERSONAL,
    ),
    Section("contact", {"en": "contact-details", "fr": "coordonnees"}, N_("Contact details"), CONTACT),
    Section(
        "languages",
        {"en": "language-tests", "fr": "tests-langue"},
        N_("Language tests"),
        LANGUAGE_TESTS,
        follow_ups=LANGUAGE_FOLLOW_UPS,
        intro=N_(
            "Results count for 2 years from the date on them. For TEF Canada, enter the “Équivalence "
            "ancien score” values."
        ),
    ),
    Section(
        "education",
        {"en": "education", "fr": "etudes"},
        N_("Education"),
        EDUCATION,
        follow_ups=EDUCATION_FOLLOW_UPS,
    ),
    Section("work", {"en": "work-history", "fr": "experience-travail"}, N_("Work history"), JOB),
    Section(
        "partner",
        {"en": "spouse-or-partner", "fr": "epoux-conjoint"},
        N_("Spouse or common-law partner"),
        PARTNER,
        follow_ups=PARTNER_FOLLOW_UPS,
        applies=has_partner,
    ),
    Section(
        "family",
        {"en": "family", "fr": "famille"},
        N_("Family"),
        (
            Field(
                "children",
                Kind.NUMBER,
                N_("How many dependent children do you have?"),
                required=N_("Enter the number of your dependent children, or 0"),
                invalid=N_("Enter a whole number from %(minimum)s to %(maximum)s"),
                minimum=0,
                maximum=20,
                hint=N_(
                    "Children under 22 who do not have a spouse or partner, and older children who "
                    "depend on you because of a condition."
                ),
            ),
            _yes_no(
                "sibling",
                N_(
                    "Do you or your spouse or partner have a brother or sister in Canada who is 18 or "
                    "over and a citizen or permanent resident?"
                ),
            ),
        ),
    ),
    Section("funds", {"en": "settlement-funds", "fr": "fonds"}, N_("Settlement funds"), (SETTLEMENT_FUNDS,)),
    Section(
        "nomination",
        {"en": "provincial-nomination", "fr": "designation-provinciale"},
        N_("Provincial nomination"),
        NOMINATION,
        follow_ups=NOMINATION_FOLLOW_UPS,
    ),
)

BY_KEY: Final = {section.key: section for section in SECTIONS}


def applicable(profile: Mapping[str, Answers]) -> list[Section]:
    return [section for section in SECTIONS if section.applies(profile)]


def job_reading(params: Answers, words: Translate, today: dt.date) -> Reading:
    """One job of the work history, with the checks that tie its answers together."""
    reading = Reading()
    specs = [spec for spec in JOB if spec.name != "end" or params.get("current") != "yes"]
    read_fields(specs, params, words, reading, today=today)
    if params.get("current") != "yes" and "end" not in reading.answers and not reading.error_for("end-month"):
        reading.errors.append(
            FormError(
                "end-month",
                words(N_("Enter the month and year you stopped, or select that you still do this job")),
            )
        )
    start, end = reading.answers.get("start"), reading.answers.get("end")
    if start and end and end < start:
        reading.errors.append(FormError("end-month", words(N_("The end date must be after the start date"))))
    if start and start > today.strftime("%Y-%m"):
        reading.errors.append(FormError("start-month", words(N_("The start date must be in the past"))))
    code = reading.answers.get("noc")
    if code is not None and code not in UNIT_GROUPS:
        unknown = words(N_("There is no NOC 2021 code %(code)s: find your job’s code by its title"))
        reading.errors.append(FormError("noc", unknown % {"code": code}))
    if reading.answers.get("in_canada") == "no" and not reading.answers.get("country"):
        reading.errors.append(FormError("country", words(N_("Select the country where you did this job"))))
    if reading.answers.get("in_canada") == "yes":
        reading.answers.pop("country", None)
    else:
        reading.answers.pop("authorized", None)
        reading.errors = [error for error in reading.errors if error.field != "authorized"]
    return reading


def teer(noc: str) -> int:
    """The TEER category of a NOC 2021 code: its second digit."""
    return int(noc[1])


def field_of(input_name: str) -> str:
    """The field an input belongs to: ``dob`` for ``dob-day``."""
    return input_name.split("-", 1)[0]


def new_questions(
    section: Section, values: Answers, profile: Mapping[str, Answers], asked: str | None
) -> set[str]:
    """Fields that apply given the answers just sent but were not on the page that sent them.

    ``asked`` is the page's list of field names; a form without one (an older page, a script) is
    taken to have asked everything."""
    if asked is None:
        return set()
    on_page = set(asked.split())
    return {spec.name for spec in section.fields_for(values, profile) if spec.name not in on_page}
