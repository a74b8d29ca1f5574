"""A complete, valid profile, filled in through the pages the way a person would."""

from __future__ import annotations

from typing import Final

from tests.visitor import Visitor, hidden

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
        "birth_country": "Nigeria",
        "citizenship": "Nigeria",
        "residence": "Nigeria",
        "marital": "never_married",
        "passport_number": PASSPORT,
        "passport_country": "Nigeria",
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
        "country": "Nigeria",
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
        "eca_org": "World Education Services",
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
    "country": "Nigeria",
    "start-month": "1",
    "start-year": "2021",
    "current": "yes",
    "hours": "40",
    "paid": "yes",
}


async def start_profile(visitor: Visitor, lang: str = "en") -> str:
    """Start a profile from the account page; returns its task list path."""
    home = await visitor.get("/en/account" if lang == "en" else "/fr/compte")
    response = await visitor.client.post(
        BASE[lang], data={"csrf": hidden(home.text, "csrf"), "create_key": hidden(home.text, "create_key")}
    )
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


async def fill_profile(visitor: Visitor, task_list: str, lang: str = "en") -> None:
    for key, answers in ANSWERS.items():
        path = f"{task_list}/{SECTIONS[lang][key]}"
        response = await visitor.submit(path, {**answers, "action": "continue"})
        assert response.status_code == 303, f"{key}: {response.status_code} {response.text[:2000]}"
    work = f"{task_list}/{SECTIONS[lang]['work']}"
    add = f"{work}/{'add' if lang == 'en' else 'ajouter'}"
    response = await visitor.submit(add, JOB)
    assert response.status_code == 303, response.text[:2000]
    response = await visitor.submit(work, {"action": "continue"})
    assert response.status_code == 303
