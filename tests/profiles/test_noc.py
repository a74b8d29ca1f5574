"""The bundled NOC 2021 table, the page that finds a code by job title (in each language, without
JavaScript, with no database: the app serving these tests never started its services), and the
job form that sends people to it and refuses a code that does not exist."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import httpx
import pytest

from haven.profiles.noc import DATA, UNIT_GROUPS, title
from haven.profiles.noc_pages import PATHS
from haven.profiles.sections import job_reading
from haven.surge.persona import JOB
from haven.web.i18n import Language

CATEGORIES = Path(__file__).resolve().parents[2] / "haven" / "rules" / "data" / "categories.toml"


def codes(response: httpx.Response) -> list[str]:
    return [
        row.split("<strong>", 1)[1].split("</strong>", 1)[0] for row in response.text.split("<tr><td>")[1:]
    ]


def test_the_table_holds_every_unit_group_once_with_both_titles() -> None:
    assert len(UNIT_GROUPS) == 516
    assert all(len(code) == 5 and code.isdigit() for code in UNIT_GROUPS)
    assert {group.teer for group in UNIT_GROUPS.values()} == {0, 1, 2, 3, 4, 5}
    assert {code[0] for code in UNIT_GROUPS} == set("0123456789")  # the ten broad categories
    assert all(group.en and group.fr for group in UNIT_GROUPS.values())
    assert title("21231", "en") == "Software engineers and designers"
    assert title("21231", "fr") == "Ingénieurs/ingénieures et concepteurs/conceptrices en logiciel"
    assert title("10019", "fr") == "Directeurs/directrices d’autres services administratifs"  # ’ shown
    assert title("99999", "en") is None
    assert "Open Government Licence" in DATA.read_text(encoding="utf-8").split("\ncode\t")[0]


def test_every_occupation_of_the_categories_is_a_unit_group_of_the_same_title() -> None:
    # Two sources gathered apart: the categories' lists (read from IRCC's lists as reproduced) and
    # Statistics Canada's table. They must agree on every code, and on its title but for two spellings.
    spelled_otherwise = {"31112", "31300"}  # "speech language" and "co-ordinators" in the lists read
    listed = {
        row["code"]: row["title"]
        for version in tomllib.loads(CATEGORIES.read_text(encoding="utf-8"))["version"]
        for category in version["category"]
        for row in category.get("nocs", [])
    }
    assert len(listed) > 100
    assert set(listed) <= set(UNIT_GROUPS)
    differ = {code for code, name in listed.items() if UNIT_GROUPS[code].en != name}
    assert differ == spelled_otherwise


@pytest.mark.parametrize(
    ("lang", "query", "found"),
    [
        ("en", "software", {"21231", "21232"}),
        ("en", "Truck driver", {"73300"}),
        ("en", "nurse", {"31301", "31302", "32101"}),
        ("fr", "ingenieur logiciel", {"21231"}),  # no accents
        ("fr", "INFIRMIÈRE", {"31301", "32101"}),
        ("fr", "cuisinier", {"63200"}),
        ("en", "21231", {"21231"}),
    ],
)
async def test_a_job_title_finds_its_codes_in_either_language(
    client: httpx.AsyncClient, lang: Language, query: str, found: set[str]
) -> None:
    response = await client.get(PATHS[lang], params={"q": query})
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public")
    assert "set-cookie" not in response.headers
    listed = codes(response)
    assert found <= set(listed), listed
    assert listed == sorted(listed)  # by code, as the classification lists them


async def test_the_first_digits_of_a_code_find_its_groups(client: httpx.AsyncClient) -> None:
    listed = codes(await client.get(PATHS["en"], params={"q": "2123"}))
    assert listed == ["21230", "21231", "21232", "21233", "21234"]
    two = codes(await client.get(PATHS["en"], params={"q": "21"}))
    assert two == sorted(code for code in UNIT_GROUPS if code.startswith("21"))
    assert len(two) > 20


async def test_every_group_a_title_finds_is_listed(client: httpx.AsyncClient) -> None:
    listed = codes(await client.get(PATHS["en"], params={"q": "manager"}))
    managers = [code for code, group in UNIT_GROUPS.items() if "manager" in group.en.lower()]
    assert len(managers) > 20
    assert set(managers) <= set(listed)


async def test_the_lookup_page_without_a_query_and_with_nothing_found(client: httpx.AsyncClient) -> None:
    empty = await client.get(PATHS["fr"])
    assert empty.status_code == 200
    assert '<html lang="fr"' in empty.text
    assert 'name="q"' in empty.text
    assert "<table>" not in empty.text
    assert f'href="{PATHS["en"]}"' in empty.text  # the language switch
    nothing = await client.get(PATHS["en"], params={"q": "<b>zzqx</b>"})
    assert "No unit group for" in nothing.text
    assert "&lt;b&gt;zzqx" in nothing.text
    assert "<b>zzqx" not in nothing.text
    switched = await client.get(PATHS["en"], params={"q": "cook"})
    assert f'href="{PATHS["fr"]}?q=cook"' in switched.text


def test_a_job_with_a_code_that_does_not_exist_is_refused_and_kept() -> None:
    today = dt.date(2026, 11, 27)
    assert not job_reading(JOB, lambda text: text, today).errors
    reading = job_reading({**JOB, "noc": "21299"}, lambda text: text, today)
    assert [(error.field, error.message) for error in reading.errors] == [
        ("noc", "There is no NOC 2021 code 21299: find your job’s code by its title")
    ]
    assert reading.answers["noc"] == "21299"  # as typed, to correct
