"""The dated tables of Express Entry category-based selection (haven/rules/data/categories.toml),
checked against reference §H.2 and the schema the loader is written for. Reads the TOML directly, so
an editor who breaks the file is told so here, whatever the loader does with it."""

from __future__ import annotations

import datetime as dt
import pathlib
import tomllib
from typing import Any

import pytest

DATA = pathlib.Path(__file__).resolve().parents[2] / "haven" / "rules" / "data" / "categories.toml"

VERSION_KEYS = {
    "effective",
    "version",
    "experience_months",
    "window_years",
    "continuous",
    "source",
    "category",
}
CATEGORY_KEYS = {
    "key",
    "title_en",
    "title_fr",
    "source",
    "language",
    "nocs",
    "experience_months",
    "continuous",
    "canadian_work",
    "needs",
}
NOC_KEYS = {"code", "title", "confirmed"}
KNOWN_KEYS = {
    "french",
    "healthcare",
    "healthcare_social",
    "stem",
    "trades",
    "transport",
    "agriculture",
    "education",
    "physicians",
    "senior_managers",
    "researchers",
    "military",
}
EDUCATION_2025 = {"43100", "42203", "42202", "41221", "41220"}
TRANSPORT_2026_AT_LEAST = {"72600", "72410", "72404", "22313"}


def _load() -> list[dict[str, Any]]:
    with DATA.open("rb") as f:
        versions: list[dict[str, Any]] = tomllib.load(f)["version"]
    return versions


VERSIONS = _load()
BY_EFFECTIVE = {v["effective"]: v for v in VERSIONS}
ALL_CATEGORIES = [(v["version"], c) for v in VERSIONS for c in v["category"]]


def _ids(pairs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{version}:{cat.get('key')}" for version, cat in pairs]


def _categories(effective: str) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in BY_EFFECTIVE[effective]["category"]}


def _codes(category: dict[str, Any]) -> set[str]:
    return {row["code"] for row in category.get("nocs", [])}


# --- the file as a whole ---------------------------------------------------------------------------


def test_the_expected_versions_are_present_oldest_first() -> None:
    assert [v["effective"] for v in VERSIONS] == ["2023-05-31", "2025-02-27", "2025-12-08", "2026-02-18"]


def test_versions_are_strictly_in_date_order() -> None:
    dates = [dt.date.fromisoformat(v["effective"]) for v in VERSIONS]
    assert all(dates[i] < dates[i + 1] for i in range(len(dates) - 1))


@pytest.mark.parametrize("version", VERSIONS, ids=[v["version"] for v in VERSIONS])
def test_version_id_is_categories_plus_effective(version: dict[str, Any]) -> None:
    assert version["version"] == "categories-" + version["effective"]
    dt.date.fromisoformat(version["effective"])  # an ISO date, not just a string that sorts


@pytest.mark.parametrize("version", VERSIONS, ids=[v["version"] for v in VERSIONS])
def test_version_has_the_schema_fields_and_no_others(version: dict[str, Any]) -> None:
    assert set(version) == VERSION_KEYS
    assert isinstance(version["experience_months"], int)
    assert isinstance(version["window_years"], int)
    assert isinstance(version["continuous"], bool)
    assert version["experience_months"] > 0
    assert version["window_years"] > 0
    assert version["source"].strip()
    assert version["category"]


@pytest.mark.parametrize("version", VERSIONS, ids=[v["version"] for v in VERSIONS])
def test_keys_are_unique_within_a_version(version: dict[str, Any]) -> None:
    keys = [c["key"] for c in version["category"]]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("version", VERSIONS, ids=[v["version"] for v in VERSIONS])
def test_exactly_one_language_category_french_without_nocs(version: dict[str, Any]) -> None:
    language = [c for c in version["category"] if "language" in c]
    assert len(language) == 1
    (french,) = language
    assert french["key"] == "french"
    assert french["language"] == "french"
    assert "nocs" not in french


# --- every category -----------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "category"), ALL_CATEGORIES, ids=_ids(ALL_CATEGORIES))
def test_category_has_titles_and_source(version: str, category: dict[str, Any]) -> None:
    assert set(category) <= CATEGORY_KEYS
    for field in ("title_en", "title_fr", "source"):
        assert isinstance(category.get(field), str)
        assert category[field].strip(), field


@pytest.mark.parametrize(("version", "category"), ALL_CATEGORIES, ids=_ids(ALL_CATEGORIES))
def test_key_is_a_stable_lowercase_ascii_key(version: str, category: dict[str, Any]) -> None:
    key = category["key"]
    assert key.isascii()
    assert key == key.lower()
    assert all(part.isalpha() for part in key.split("_")), key
    assert category["key"] in KNOWN_KEYS


OCCUPATION_CATEGORIES = [
    (version, category) for version, category in ALL_CATEGORIES if "language" not in category
]


@pytest.mark.parametrize(("version", "category"), OCCUPATION_CATEGORIES, ids=_ids(OCCUPATION_CATEGORIES))
def test_occupation_category_has_nocs_five_digit_and_unique(version: str, category: dict[str, Any]) -> None:
    rows = category.get("nocs")
    assert rows, "an occupation category needs a non-empty nocs list"
    codes = [row["code"] for row in rows]
    for row in rows:
        assert set(row) == NOC_KEYS
        assert isinstance(row["code"], str)
        assert len(row["code"]) == 5, row["code"]
        assert row["code"].isascii()
        assert row["code"].isdigit(), row["code"]
        assert isinstance(row["title"], str)
        assert row["title"].strip()
        assert isinstance(row["confirmed"], bool)
    assert len(codes) == len(set(codes)), "a code appears twice in one category"


# --- what §H.2 says about each date ---------------------------------------------------------------


def test_2023_categories_and_experience_rule() -> None:
    version = BY_EFFECTIVE["2023-05-31"]
    assert set(_categories("2023-05-31")) == {
        "french",
        "healthcare",
        "stem",
        "trades",
        "transport",
        "agriculture",
    }
    assert version["experience_months"] == 6
    assert version["window_years"] == 3
    assert version["continuous"] is True


def test_2025_categories_transport_removed_education_added() -> None:
    categories = _categories("2025-02-27")
    assert set(categories) == {"french", "healthcare_social", "trades", "education", "stem", "agriculture"}
    assert "transport" not in categories
    version = BY_EFFECTIVE["2025-02-27"]
    assert (version["experience_months"], version["window_years"], version["continuous"]) == (6, 3, True)


def test_2025_education_list_is_exactly_the_five_codes_and_confirmed() -> None:
    education = _categories("2025-02-27")["education"]
    assert _codes(education) == EDUCATION_2025
    assert all(row["confirmed"] for row in education["nocs"])


def test_2025_agriculture_keeps_only_butchers() -> None:
    assert _codes(_categories("2025-02-27")["agriculture"]) == {"63201"}


def test_2025_12_physicians_added_to_the_2025_tables() -> None:
    before = _categories("2025-02-27")
    after = _categories("2025-12-08")
    assert set(after) == {*before, "physicians"}
    assert _codes(after["physicians"]) == {"31100", "31101", "31102"}
    for key, category in before.items():
        assert _codes(after[key]) == _codes(category), key


def test_2026_transport_back_agriculture_retired() -> None:
    categories = _categories("2026-02-18")
    assert "transport" in categories
    assert _codes(categories["transport"]) >= TRANSPORT_2026_AT_LEAST
    assert "agriculture" not in categories


def test_2026_new_categories_and_their_codes() -> None:
    categories = _categories("2026-02-18")
    assert _codes(categories["senior_managers"]) == {"00012", "00013", "00014", "00015"}
    assert _codes(categories["researchers"]) == {"41200", "41201"}
    assert _codes(categories["military"]) == {"40042", "42102", "43204"}
    assert "physicians" in categories


def test_2026_experience_rule_is_twelve_months_not_continuous() -> None:
    version = BY_EFFECTIVE["2026-02-18"]
    assert version["experience_months"] == 12
    assert version["window_years"] == 3
    assert version["continuous"] is False


def test_healthcare_key_changes_once_with_the_category() -> None:
    assert "healthcare" in _categories("2023-05-31")
    for effective in ("2025-02-27", "2025-12-08", "2026-02-18"):
        categories = _categories(effective)
        assert "healthcare_social" in categories
        assert "healthcare" not in categories
