"""Words for the rules' results, in either language: factor names, reasons, pointers, amounts.

The rules return codes and figures; this module turns them into sentences through the Babel catalog,
so the pages and the API's ``message`` fields say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from babel.numbers import format_decimal

from haven.rules import programs
from haven.rules.common import Education
from haven.rules.crs import Section
from haven.rules.fsw import Requirement
from haven.web.i18n import LANGUAGES, N_, Language, translations

CRS_FACTORS: Final = {
    "age": N_("Age"),
    "education": N_("Level of education"),
    "first_language": N_("First official language"),
    "second_language": N_("Second official language"),
    "canadian_work": N_("Canadian work experience"),
    "spouse_education": N_("Spouse or partner’s education"),
    "spouse_language": N_("Spouse or partner’s first official language"),
    "spouse_canadian_work": N_("Spouse or partner’s Canadian work experience"),
    "transferability_education": N_("Education, with strong language skills or Canadian work"),
    "transferability_foreign_work": N_("Foreign work, with strong language skills or Canadian work"),
    "transferability_certificate": N_("Certificate of qualification, with language skills"),
    "provincial_nomination": N_("Provincial or territorial nomination"),
    "job_offer": N_("Job offer"),
    "french_language": N_("French-language skills"),
    "canadian_education": N_("Post-secondary education in Canada"),
    "sibling": N_("Brother or sister in Canada"),
}

SECTIONS: Final = {
    Section.CORE: N_("Core: age, education, languages, Canadian work"),
    Section.SPOUSE: N_("Spouse or partner"),
    Section.TRANSFERABILITY: N_("Skill transferability"),
    Section.ADDITIONAL: N_("Additional points"),
}

PARTS: Final = {
    "reading": N_("Reading"),
    "writing": N_("Writing"),
    "listening": N_("Listening"),
    "speaking": N_("Speaking"),
    "with_language": N_("with language skills"),
    "with_canadian_work": N_("with Canadian work experience"),
    "second_language": N_("Second official language"),
    "spouse_language": N_("Spouse or partner’s language skills"),
    "studied_in_canada": N_("Your study in Canada"),
    "spouse_studied_in_canada": N_("Spouse or partner’s study in Canada"),
    "worked_in_canada": N_("Your work in Canada"),
    "spouse_worked_in_canada": N_("Spouse or partner’s work in Canada"),
    "arranged_employment": N_("Arranged employment"),
    "relative_in_canada": N_("Relative in Canada"),
}

FSW_FACTORS: Final = {
    "language": N_("Language skills"),
    "education": N_("Education"),
    "experience": N_("Work experience"),
    "age": N_("Age"),
    "arranged_employment": N_("Arranged employment"),
    "adaptability": N_("Adaptability"),
}

PROGRAMS: Final = {
    programs.Program.FSW: N_("Federal Skilled Worker Program"),
    programs.Program.CEC: N_("Canadian Experience Class"),
    programs.Program.FST: N_("Federal Skilled Trades Program"),
}

EDUCATION: Final = {
    Education.LESS_THAN_SECONDARY: N_("Less than secondary school (high school)"),
    Education.SECONDARY: N_("Secondary school (high school) diploma"),
    Education.ONE_YEAR: N_("One-year program at a university, college, trade or technical school"),
    Education.TWO_YEAR: N_("Two-year program at a university, college, trade or technical school"),
    Education.BACHELOR: N_("Bachelor’s degree, or a program of three years or more"),
    Education.TWO_OR_MORE: N_("Two or more certificates, diplomas or degrees, one of three years or more"),
    Education.MASTER: N_(
        "Master’s degree, or a professional degree needed to practise a licensed profession"
    ),
    Education.DOCTORAL: N_("Doctoral degree (PhD)"),
}

# (program or "*", code) → (unmet, met). Figures come from the requirement's facts.
REASONS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("*", "work_experience"): (
        N_(
            "You need at least 1 year of continuous, paid, full-time (or equal part-time) skilled work "
            "(TEER 0, 1, 2 or 3) in one occupation in the last 10 years."
        ),
        N_("You have at least 1 year of skilled work experience."),
    ),
    ("federal_skilled_worker", "language"): (
        N_("You need CLB or NCLC 7 in all four abilities. Your lowest level is %(lowest_level)s."),
        N_("Your language test results meet the minimum: CLB or NCLC 7 in all four abilities."),
    ),
    ("canadian_experience_class", "language"): (
        N_(
            "For the TEER category of your Canadian job you need CLB or NCLC %(needed)s in all four "
            "abilities. Your lowest level is %(lowest_level)s."
        ),
        N_("Your language test results meet the minimum for your job’s TEER category."),
    ),
    # The same, for someone with no recent skilled job in Canada: there is no "your job" to speak of.
    ("canadian_experience_class", "language_no_job"): (
        N_(
            "The Canadian Experience Class needs CLB or NCLC 7 in all four abilities for a TEER 0 or 1 "
            "job, or 5 for a TEER 2 or 3 job. Your lowest level is %(lowest_level)s."
        ),
        N_("Your language test results meet the minimum for a job of any TEER category."),
    ),
    ("federal_skilled_trades", "language"): (
        N_("You need CLB or NCLC 5 in speaking and listening, and 4 in reading and writing."),
        N_("Your language test results meet the minimum for skilled trades."),
    ),
    ("*", "education"): (
        N_(
            "You need a Canadian secondary or post-secondary credential, or a foreign one with an "
            "educational credential assessment (ECA)."
        ),
        N_("Your education meets the requirement."),
    ),
    ("*", "points"): (
        N_("You score %(points)s out of 100 on the selection grid. You need %(needed)s."),
        N_("You score %(points)s out of 100 on the selection grid. The pass mark is 67."),
    ),
    ("*", "settlement_funds"): (
        N_("For a family of %(family_size)s, you need to show %(needed)s to settle. You have %(funds)s."),
        N_("You have enough money to settle, or you do not need to show it."),
    ),
    ("*", "outside_quebec"): (
        N_(
            "This program is for people who plan to live outside Quebec. "
            "Quebec selects its own skilled workers."
        ),
        N_("You plan to live outside Quebec."),
    ),
    ("*", "canadian_work_experience"): (
        N_("You need at least 1 year of skilled work in Canada in the last 3 years, with authorization."),
        N_("You have at least 1 year of recent skilled work experience in Canada."),
    ),
    ("*", "trade_experience"): (
        N_("You need at least 2 years of full-time work in a skilled trade in the last 5 years."),
        N_("You have at least 2 years of recent work in a skilled trade."),
    ),
    ("*", "job_offer_or_certificate"): (
        N_(
            "You need a valid full-time job offer of at least 1 year, or a certificate of qualification "
            "in your trade from a Canadian province or territory."
        ),
        N_("You have a job offer or a certificate of qualification."),
    ),
}

POINTERS: Final = {
    "permanent_resident": N_("You are already a permanent resident. You may be able to become a citizen."),
    "sponsor_family": N_("As a citizen or permanent resident, you may be able to sponsor family members."),
    "partner_can_sponsor": N_(
        "Your spouse or partner is a Canadian citizen or permanent resident: they may be able to sponsor you."
    ),
    "has_nomination": N_("A provincial or territorial nomination adds 600 points to your CRS score."),
    "provinces_choose": N_(
        "Provinces and territories nominate people who meet their local needs, "
        "sometimes with other requirements."
    ),
    "job_offer_work_permit": N_("With a job offer, you may be able to come first with a work permit."),
    "work_first": N_("Working in Canada first can help you qualify for permanent residence later."),
    "study_first": N_(
        "Studying in Canada can lead to Canadian work experience and then permanent residence."
    ),
    "visit": N_("To visit Canada, you may need a visitor visa or an electronic travel authorization (eTA)."),
    "protection": N_(
        "If you fear persecution or danger in your home country, read about refugee protection."
    ),
}


def money(amount: int, lang: Language) -> str:
    """Canadian dollars the way each language writes them: $15,263 and 15 263 $."""
    if lang == "fr":
        return f"{format_decimal(amount, locale='fr_CA')}\u00a0$"
    return f"${format_decimal(amount, locale='en_CA')}"


class Words:
    """Translated words for one language."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self._ = translations(lang).gettext

    def __call__(self, message: str) -> str:
        return self._(message)

    def reason(self, program: str, requirement: Requirement) -> str:
        code = requirement.code
        if code == "language" and requirement.facts.get("canadian_job") is False:
            code = "language_no_job"
        pair = REASONS.get((program, code)) or REASONS[("*", requirement.code)]
        template = pair[1] if requirement.met else pair[0]
        facts: dict[str, object] = dict(requirement.facts)
        for key in ("needed", "funds"):
            if requirement.code == "settlement_funds" and key in facts:
                facts[key] = money(int(str(facts[key])), self.lang)
        return self._(template) % facts

    def pointer(self, reason: str) -> str:
        return self._(POINTERS[reason])


WORDS: Final[dict[Language, Words]] = {lang: Words(lang) for lang in LANGUAGES}


def translated(message: str) -> dict[str, str]:
    """The same words in English and French, for the API."""
    return {lang: WORDS[lang](message) for lang in LANGUAGES}


def reason_both(program: str, requirement: Requirement) -> dict[str, str]:
    return {lang: WORDS[lang].reason(program, requirement) for lang in LANGUAGES}


def pointer_both(reason: str) -> dict[str, str]:
    return {lang: WORDS[lang].pointer(reason) for lang in LANGUAGES}
