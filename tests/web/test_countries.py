"""The countries people choose from: ISO 3166-1 only, the same codes in both languages, each named
in the page's language and sorted as people read (accents aside)."""

from __future__ import annotations

from haven.web.countries import STATELESS, citizenships, countries
from haven.web.i18n import fold


def test_both_languages_name_the_same_countries_and_only_countries() -> None:
    english, french = countries("en"), countries("fr")
    assert set(english) == set(french)
    assert len(english) == 250  # the 249 of ISO 3166-1, and Kosovo (XK), as IRCC's lists have it
    assert {"CA", "NG", "IN", "PH", "XK", "CI"} <= set(english)
    assert not {"EU", "UN", "ZZ", "AC", "IC", "XA"} & set(english)
    assert english["DE"] == "Germany"
    assert french["DE"] == "Allemagne"
    assert french["CI"] == "Côte d’Ivoire"


def test_names_are_sorted_as_read_accents_aside() -> None:
    for lang in ("en", "fr"):
        names = list(countries(lang).values())
        assert names == sorted(names, key=fold)
    french = list(countries("fr").values())
    assert french.index("Égypte") < french.index("Émirats arabes unis") < french.index("Équateur")
    assert french.index("Danemark") < french.index("Égypte") < french.index("Espagne")


def test_a_citizenship_can_be_none() -> None:
    assert list(citizenships("en"))[-1] == STATELESS
    assert citizenships("fr")[STATELESS].startswith("Apatride")
    assert set(citizenships("en")) - {STATELESS} == set(countries("en"))
