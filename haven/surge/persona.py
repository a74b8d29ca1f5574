"""The people the surge simulator (and the tests) play: one applicant's complete profile, one
person's answers to the eligibility check and the CRS calculator, and how to read Haven's forms."""

from __future__ import annotations

import re
from html import unescape
from typing import Final

BASE: Final = {"en": "/en/account/profiles", "fr": "/fr/compte/profils"}
SECTIONS: Final = {
    "en": {
        "personal": "personal-details",
        "contact": "contact-details",
        "languages": "language-tests",
        "education": "education",
        "work": "work-history",
        "partner": "spouse-or-partner",
        "family": "family",
        "funds": "settlement-funds",
        "nomination": "provincial-nomination",
    },
    "fr": {
        "personal": "renseignements-personnels",
        "contact": "coordonnees",
        "languages": "tests-langue",
        "education": "etudes",
        "work": "experience-travail",
        "partner": "epoux-conjoint",
        "family": "famille",
        "funds": "fonds",
        "nomination": "designation-provinciale",
    },
}
PASSPORT: Final = "ZX4417093"
ANSWERS: Final[dict[str, dict[str, str]]] = {
    "personal": {
        "family_name": "Okafor",
        "given_names": "Chiamaka Ada",
        "dob-day": "14",
        "dob-month": "2",
        "dob-year": "1997",
        "birth_country": "NG",
        "citizenship": "NG",
        "residence": "NG",
        "marital": "never_married",
        "passport_number": PASSPORT,
        "passport_country": "NG",
        "passport_expiry-day": "1",
        "passport_expiry-month": "6",
        "passport_expiry-year": "2031",
    },
    "contact": {
        "phone": "+234 801 555 0100",
        "address": "12 Marina Road",
        "city": "Lagos",
        "region": "Lagos",
        "postal_code": "101001",
        "country": "NG",
    },
    "languages": {
        "test1": "ielts_general",
        "date1-day": "10",
        "date1-month": "9",
        "date1-year": "2026",
        "s1r": "7.5",
        "s1w": "7",
        "s1l": "8",
        "s1s": "7",
        "test2": "none",
    },
    "education": {
        "level": "bachelor",
        "where": "eca",
        "eca_org": "wes",
        "eca_date-day": "3",
        "eca_date-month": "3",
        "eca_date-year": "2025",
        "eca_ref": "WES-7781-22",
        "certificate": "no",
    },
    "family": {"children": "0", "sibling": "no"},
    "funds": {"funds": "21000"},
    "nomination": {"pnp": "no"},
}
JOB: Final = {
    "title": "Software developer",
    "noc": "21232",
    "employer": "Andela",
    "in_canada": "no",
    "country": "NG",
    "start-month": "1",
    "start-year": "2021",
    "current": "yes",
    "hours": "40",
    "paid": "yes",
}
# A full set of answers; only those each page asks for are sent.
PERSONA: Final[dict[str, str]] = {
    "status": "outside", "age": "29", "partner": "coming", "education": "master", "where": "eca",
    "test1": "ielts_general", "s1r": "8", "s1w": "7.5", "s1l": "8.5", "s1s": "7.5",
    "test2": "tef_canada", "s2r": "210", "s2w": "320", "s2l": "250", "s2s": "320",
    "p_edu": "bachelor", "p_test": "celpip_general", "spr": "7", "spw": "7", "spl": "7", "sps": "7",
    "p_work": "0", "p_study": "no", "cwork": "0", "fwork": "3", "continuous": "yes", "trade": "no",
    "offer": "no", "pnp": "no", "relative": "sibling", "family": "2", "funds": "30000", "quebec": "no",
}  # fmt: skip


def form_fields(html: str) -> tuple[set[str], dict[str, str]]:
    """(names of the visible inputs, hidden inputs with their values) of the page's form."""
    form = html.split('<form method="get"', 1)[1].split("</form>", 1)[0]
    hidden = {
        n: unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }
    hidden.pop("go", None)  # the "submitted" marker, not an answer
    names = set(re.findall(r'<input[^>]*name="([^"]+)"', form)) - set(hidden) - {"go"}
    return names, hidden


CRS_ANSWERS: Final = {
    "age": "29", "education": "bachelor", "cedu": "none", "t1": "ielts_general",
    "s1r": "7.5", "s1w": "7", "s1l": "8", "s1s": "7", "t2": "none", "cwork": "0", "fwork": "3",
    "partner": "none",
}  # fmt: skip


def hidden(html: str, name: str) -> str | None:
    """The value of the hidden input ``name`` in ``html``, or None."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    return unescape(found.group(1)) if found else None
