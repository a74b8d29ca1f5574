"""The CRS and FSW calculators as pages: cookie-free GET forms, a full breakdown, clear errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from haven.surge.persona import CRS_ANSWERS
from haven.web.pagecache import PUBLIC_PAGE
from tests.html import elements

CRS = "/en/immigrate/express-entry/crs-calculator"
CRS_FR = "/fr/immigrer/entree-express/calculateur-scg"
FSW = "/en/immigrate/express-entry/federal-skilled-workers/points-calculator"


FSW_ANSWERS = {
    "age": "29", "education": "bachelor", "where": "eca", "t1": "ielts_general",
    "s1r": "7.5", "s1w": "7", "s1l": "8", "s1s": "7", "t2": "none", "exp": "3", "continuous": "yes",
    "family": "1", "funds": "$20,000",
}  # fmt: skip


async def follow(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
    response = await client.get(path, params={**params, "go": "1"})
    assert response.status_code == 303, response.text[:500]
    return await client.get(response.headers["location"])


async def test_the_crs_calculator_shows_the_breakdown_of_the_documented_example(
    client: httpx.AsyncClient,
) -> None:
    result = await follow(client, CRS, CRS_ANSWERS)
    assert result.status_code == 200
    html = result.text
    assert '<span class="score__number">429</span>' in html
    assert "Skill transferability: 75 of 100" in html
    assert result.headers["cache-control"] == PUBLIC_PAGE
    assert "set-cookie" not in result.headers
    change = next(a["href"] for a in elements(html, "a") if a.get("href", "").startswith(CRS + "?"))
    assert parse_qs(urlsplit(change).query)["s1r"] == ["7.5"]


async def test_the_crs_result_toggles_to_french_with_the_same_answers(client: httpx.AsyncClient) -> None:
    result = await follow(client, CRS, CRS_ANSWERS)
    toggle = elements(result.text, "a", hreflang="fr")[0]["href"]
    assert toggle.startswith(CRS_FR + "/resultat?")
    french = await client.get(toggle)
    assert french.status_code == 200
    assert '<span class="score__number">429</span>' in french.text


async def test_partner_details_count_only_when_the_partner_comes(client: httpx.AsyncClient) -> None:
    partner = {
        "p_edu": "master",
        "p_work": "2",
        "p_test": "celpip_general",
        "spr": "9",
        "spw": "9",
        "spl": "9",
        "sps": "9",
    }
    not_coming = await follow(client, CRS, {**CRS_ANSWERS, **partner, "partner": "not_coming"})
    coming = await follow(client, CRS, {**CRS_ANSWERS, **partner, "partner": "coming"})
    assert '<span class="score__number">429</span>' in not_coming.text
    assert "Spouse or partner: 37 of 40" in coming.text  # 10 + 4 × 5 + 7


async def test_crs_errors_name_each_field_and_keep_the_answers(client: httpx.AsyncClient) -> None:
    response = await client.get(
        CRS, params={**CRS_ANSWERS, "s1r": "12", "age": "", "t2": "celpip_general", "go": "1"}
    )
    assert response.status_code == 422
    summary = {a["href"] for a in elements(response.text, "a") if a.get("href", "").startswith("#")}
    assert {"#age", "#s1r", "#t2", "#s2r"} <= summary
    assert elements(response.text, "input", name="s1w")[0]["value"] == "7"


async def test_a_canadian_credential_above_the_highest_education_is_an_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        CRS, params={**CRS_ANSWERS, "education": "secondary", "cedu": "three_year_or_more", "go": "1"}
    )
    assert response.status_code == 422
    assert "#cedu" in {a.get("href") for a in elements(response.text, "a")}


async def test_the_fsw_calculator_gives_the_grid_and_the_requirements(client: httpx.AsyncClient) -> None:
    result = await follow(client, FSW, FSW_ANSWERS)
    html = result.text
    assert "Selection grid: 68 out of 100, pass mark 67" in html
    assert "You may be eligible for the Federal Skilled Worker Program" in html


async def test_the_fsw_calculator_explains_an_unmet_requirement(client: httpx.AsyncClient) -> None:
    result = await follow(client, FSW, {**FSW_ANSWERS, "funds": "1000"})
    assert "You are not eligible for the Federal Skilled Worker Program yet" in result.text
    assert "you need to show $15,263 to settle" in result.text


async def test_a_hand_edited_result_address_goes_back_to_the_form(client: httpx.AsyncClient) -> None:
    response = await client.get(CRS + "/result", params={**CRS_ANSWERS, "age": "old"})
    assert response.status_code == 303
    again = await client.get(response.headers["location"])
    assert again.status_code == 422
