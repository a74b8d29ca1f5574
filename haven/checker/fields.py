"""The checker's fields: language tests and their scores (checked against each test's scale), and
the questions the eligibility check and the calculators both ask. The field machinery itself is in
``haven/web/forms.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from haven.checker.explain import EDUCATION
from haven.rules import clb
from haven.rules.common import ABILITIES, Ability, Education, Language, LanguageLevels
from haven.web.forms import Field, FormError, Kind, Option, Reading, Translate, read_field, read_fields
from haven.web.i18n import N_

__all__ = ["Field", "FormError", "Kind", "Option", "Reading", "read_field", "read_fields"]


# Language tests ------------------------------------------------------------------------------------

TEST_OPTIONS: Final = {
    "ielts_general": Option("ielts_general", N_("IELTS General Training"), N_("English")),
    "celpip_general": Option("celpip_general", N_("CELPIP-General"), N_("English")),
    "pte_core": Option("pte_core", N_("PTE Core"), N_("English")),
    "tef_canada": Option("tef_canada", N_("TEF Canada"), N_("French")),
    "tcf_canada": Option("tcf_canada", N_("TCF Canada"), N_("French")),
    "clb_en": Option("clb_en", N_("I know my CLB levels (English)")),
    "clb_fr": Option("clb_fr", N_("I know my NCLC levels (French)")),
}
NO_TEST: Final = Option("none", N_("I have not taken an approved test"))


def chosen_test(choice: str) -> tuple[clb.Test, Language]:
    """The rules' test and language for a test option's value."""
    if choice == "clb_en":
        return clb.Test.CLB, Language.ENGLISH
    if choice == "clb_fr":
        return clb.Test.CLB, Language.FRENCH
    test = clb.Test(choice)
    language = clb.test_language(test)
    assert language is not None
    return test, language


def language_tests(language: Language | None, *, levels: bool = False) -> tuple[Option, ...]:
    """Test options, all of them or those of one language, with the "levels" shortcuts if asked."""
    chosen = [
        option
        for value, option in TEST_OPTIONS.items()
        if (levels or not value.startswith("clb")) and (language is None or chosen_test(value)[1] is language)
    ]
    return tuple(chosen)


SCORE_LABELS: Final = {
    Ability.READING: N_("Reading"),
    Ability.WRITING: N_("Writing"),
    Ability.LISTENING: N_("Listening"),
    Ability.SPEAKING: N_("Speaking"),
}


WHOLE_SCORE: Final = N_("Enter the score for %(ability)s as a whole number, like 7")


def score_fields(prefix: str) -> tuple[Field, ...]:
    """Four score inputs named ``{prefix}r``, ``{prefix}w``, ``{prefix}l``, ``{prefix}s``."""
    return tuple(
        Field(
            name=f"{prefix}{ability.value[0]}",
            kind=Kind.SCORE,
            label=SCORE_LABELS[ability],
            required=N_("Enter the score for %(ability)s"),
            invalid=N_("Enter the score for %(ability)s as a number, like 7 or 6.5"),
            width=4,
        )
        for ability in ABILITIES
    )


def scale_hint(choice: str, words: Translate) -> str:
    """How the chosen test reports its scores, for the hint above the four inputs."""
    test, _language = chosen_test(choice)
    chart = clb.CHARTS[test]
    if test is clb.Test.CLB:
        return words(N_("Enter each level as a whole number from 0 to 12."))
    if test is clb.Test.IELTS_GENERAL:
        return words(N_("Enter each band from 0 to 9, in steps of 0.5."))
    if test is clb.Test.TEF_CANADA:
        return words(
            N_(
                "Use the “Équivalence ancien score” values on your certificate: reading up to 300, "
                "writing and speaking up to 450, listening up to 360."
            )
        )
    if test is clb.Test.TCF_CANADA:
        return words(N_("Reading and listening go from 100 to 699; writing and speaking from 0 to 20."))
    scale = chart.scales[Ability.READING]
    return words(N_("Enter each score from %(low)s to %(high)s.")) % {
        "low": f"{scale.low:g}",
        "high": f"{scale.high:g}",
    }


def read_scores(
    choice: str | None, fields: Sequence[Field], params: Mapping[str, str], words: Translate, reading: Reading
) -> None:
    """Read four scores for the chosen test and check each against the test's scale."""
    if choice is not None and chosen_test(choice)[0] is not clb.Test.IELTS_GENERAL:
        # Only IELTS has half bands: every other test's example is a whole number.
        fields = [replace(spec, invalid=WHOLE_SCORE) for spec in fields]
    for spec in fields:
        ability = next(a for a in ABILITIES if spec.name.endswith(a.value[0]))
        label = words(SCORE_LABELS[ability]).lower()
        local = Reading()
        read_field(spec, params.get(spec.name), words, local)
        reading.answers.update(local.answers)
        reading.errors.extend(FormError(e.field, e.message % {"ability": label}) for e in local.errors)
    if choice is None:
        return
    test, language = chosen_test(choice)
    # Check the scale of every score that could be read, even when another is still missing.
    scores = {
        ability: float(reading.answers[spec.name])
        for spec, ability in zip(fields, ABILITIES, strict=True)
        if spec.name in reading.answers
    }
    for problem in clb.check(test, language, scores):
        if problem.code == "missing_score" or problem.field not in {a.value for a in ABILITIES}:
            continue
        spec = fields[ABILITIES.index(Ability(problem.field))]
        message = words(N_("This %(ability)s score is not on the test’s scale. %(scale)s")) % {
            "ability": words(SCORE_LABELS[Ability(problem.field)]).lower(),
            "scale": scale_hint(choice, words),
        }
        reading.errors.append(FormError(spec.name, message))


def levels_from(choice: str, prefix: str, answers: Mapping[str, str]) -> LanguageLevels:
    test, language = chosen_test(choice)
    scores = {ability: float(answers[f"{prefix}{ability.value[0]}"]) for ability in ABILITIES}
    return clb.convert(test, language, scores)


# Shared option lists ----------------------------------------------------------------------------

EDUCATION_OPTIONS: Final = tuple(Option(level.value, EDUCATION[level]) for level in Education)

# Years as radio choices, 0 to a top that means "that many or more". Spelled out, one msgid each, so
# each language can say "1 year" and "2 years" its own way.
_YEARS: Final = {
    0: N_("Less than 1 year"),
    1: N_("1 year"),
    2: N_("2 years"),
    3: N_("3 years"),
    4: N_("4 years"),
    5: N_("5 years"),
}
_YEARS_OR_MORE: Final = {3: N_("3 years or more"), 5: N_("5 years or more"), 6: N_("6 years or more")}


def year_options(top: int) -> tuple[Option, ...]:
    return tuple(Option(str(n), _YEARS_OR_MORE[n] if n == top else _YEARS[n]) for n in range(top + 1))


YES_NO: Final = (Option("yes", N_("Yes")), Option("no", N_("No")))


# Questions both the eligibility check and the calculators ask, worded once ----------------------

AGE: Final = Field(
    "age",
    Kind.NUMBER,
    N_("How old are you?"),
    required=N_("Enter your age"),
    invalid=N_("Enter your age as a whole number from %(minimum)s to %(maximum)s"),
    # The ages of the people the check is for: no younger than 16 (a younger child comes with a
    # parent), no older than anyone alive.
    minimum=16,
    maximum=110,
    suffix=N_("years old"),
    hint=N_("Your age today, in years. Points for age change on your birthday."),
)
EDUCATION_LEVEL: Final = Field(
    "education",
    Kind.RADIO,
    N_("What is your highest level of education?"),
    required=N_("Select your highest level of education"),
    hint=N_("Education from outside Canada counts only with an educational credential assessment (ECA)."),
    options=EDUCATION_OPTIONS,
)
EDUCATION_WHERE: Final = Field(
    "where",
    Kind.RADIO,
    N_("Where did you get this education?"),
    required=N_("Select where you got this education"),
    options=(
        Option("canada", N_("In Canada")),
        Option(
            "eca",
            N_("Outside Canada, and I have an educational credential assessment (ECA)"),
            N_("An ECA report is valid for 5 years."),
        ),
        Option("no_eca", N_("Outside Canada, and I do not have an ECA")),
    ),
)
PARTNER: Final = Field(
    "partner",
    Kind.RADIO,
    N_("Do you have a spouse or common-law partner?"),
    required=N_("Select whether you have a spouse or common-law partner"),
    hint=N_("A common-law partner has lived with you in a marriage-like relationship for at least 1 year."),
    options=(
        Option("none", N_("No")),
        Option("coming", N_("Yes, and they would come with me to Canada")),
        Option("not_coming", N_("Yes, but they would not come with me")),
        Option("canadian", N_("Yes, and they are a Canadian citizen or permanent resident")),
    ),
)
PARTNER_EDUCATION: Final = Field(
    "p_edu",
    Kind.RADIO,
    N_("What is your spouse or partner’s highest level of education?"),
    required=N_("Select your spouse or partner’s highest level of education"),
    options=EDUCATION_OPTIONS,
)
PARTNER_WORK: Final = Field(
    "p_work",
    Kind.RADIO,
    N_("How many years of skilled work in Canada does your spouse or partner have?"),
    required=N_("Select how many years your spouse or partner has worked in Canada"),
    hint=N_("Paid, full-time or equal part-time, in the last 10 years, with authorization."),
    options=year_options(5),
)
CANADIAN_WORK: Final = Field(
    "cwork",
    Kind.RADIO,
    N_("How many years of skilled work experience do you have in Canada?"),
    required=N_("Select how many years of skilled work you have in Canada"),
    hint=N_(
        "Count the last 10 years: paid work, full time or equal part time (1,560 hours a year), "
        "in a TEER 0, 1, 2 or 3 job, with authorization."
    ),
    options=year_options(5),
)
FAMILY_SIZE: Final = Field(
    "family",
    Kind.NUMBER,
    N_("How many people are in your family?"),
    required=N_("Enter the number of people in your family"),
    invalid=N_("Enter a whole number from %(minimum)s to %(maximum)s"),
    minimum=1,
    maximum=30,
    hint=N_(
        "Count yourself, your spouse or partner, and your dependent children and theirs, "
        "even those who will not come with you."
    ),
)
SETTLEMENT_FUNDS: Final = Field(
    "funds",
    Kind.MONEY,
    N_("How much money can you bring to settle in Canada?"),
    required=N_("Enter the amount of money you can bring, in Canadian dollars"),
    invalid=N_("Enter the amount in Canadian dollars as a whole number, like 20000"),
    minimum=0,
    maximum=1_000_000_000,
    width=10,
    hint=N_(
        "In Canadian dollars. Count money you can use right away; borrowed money and the "
        "value of a property do not count."
    ),
)
