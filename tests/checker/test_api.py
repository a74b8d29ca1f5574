"""The checker's JSON API: right answers, and a 422 naming every bad field."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import httpx
import pytest

from haven.app import Haven, create_app
from haven.checker.schemas import CRS_EXAMPLE
from haven.web.clock import FixedClock
from tests.conftest import make_settings

TODAY = dt.date(2026, 11, 27)

# The body published in the API's documentation; scored by hand: 110 + 120 + 4 × 31 + 25 + 50 = 429.
EXAMPLE: dict[str, Any] = CRS_EXAMPLE


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Haven:
    return create_app(make_settings(tmp_path_factory.mktemp("var")), clock=FixedClock(TODAY))


@pytest.fixture
async def api(api_app: Haven) -> Any:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        yield client


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


def locations(response: httpx.Response) -> list[tuple[str | int, ...]]:
    return [tuple(error["loc"]) for error in response.json()["detail"]]


async def test_the_documented_example_scores_429_with_a_breakdown(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/crs", json=EXAMPLE)
    assert response.status_code == 200
    result = response.json()
    assert (result["total"], result["core"], result["spouse"]) == (429, 354, 0)
    assert (result["transferability"], result["additional"]) == (75, 0)
    assert result["rules_version"] == "crs-2025-03-25"
    assert result["details"]["first_language"]["parts"] == {
        "reading": 31, "writing": 31, "listening": 31, "speaking": 31,
    }  # fmt: skip
    assert result["details"]["age"]["label"] == {"en": "Age", "fr": "Âge"}
    assert "set-cookie" not in response.headers


async def test_an_accompanying_spouse_switches_to_the_spouse_columns(api: httpx.AsyncClient) -> None:
    spouse = {"accompanying": True, "canadian_citizen_or_pr": False, "education": "bachelor"}
    with_spouse = (await api.post("/api/v1/crs", json=body(spouse=spouse))).json()
    citizen = (
        await api.post("/api/v1/crs", json=body(spouse={**spouse, "canadian_citizen_or_pr": True}))
    ).json()
    assert with_spouse["with_spouse"] is True
    assert with_spouse["details"]["age"]["points"] == 100
    assert with_spouse["spouse"] == 8
    assert citizen["with_spouse"] is False
    assert citizen["total"] == 429


async def test_job_offers_score_only_under_the_rules_before_2025_03_25(api: httpx.AsyncClient) -> None:
    now = (await api.post("/api/v1/crs", json=body(job_offer="teer_0_to_3"))).json()
    before = (await api.post("/api/v1/crs", json=body(job_offer="teer_0_to_3", as_of="2025-03-24"))).json()
    assert now["details"]["job_offer"]["points"] == 0
    assert before["details"]["job_offer"]["points"] == 50
    assert before["rules_version"] == "crs-2020-10-27"


async def test_a_date_before_any_known_rules_is_a_422_on_as_of(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/crs", json=body(as_of="2019-01-01"))
    assert response.status_code == 422
    assert locations(response) == [("body", "as_of")]


async def test_every_bad_field_is_named_at_once(api: httpx.AsyncClient) -> None:
    first = {
        "language": "en",
        "test": "tef_canada",
        "reading": 301,
        "writing": 7,
        "listening": 8,
        "speaking": 9.5,
    }
    second = {
        "language": "fr",
        "test": "tcf_canada",
        "reading": 50,
        "writing": 12,
        "listening": 600,
        "speaking": 12,
    }
    response = await api.post("/api/v1/crs", json=body(first_language=first, second_language=second))
    assert response.status_code == 422
    assert set(locations(response)) == {
        ("body", "first_language", "test"),
        ("body", "first_language", "reading"),
        ("body", "first_language", "speaking"),
        ("body", "second_language", "reading"),
    }
    messages = " ".join(error["msg"] for error in response.json()["detail"])
    assert "TEF Canada is a test of French" in messages
    assert "Équivalence ancien score" in messages


async def test_schema_errors_name_their_fields_too(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/crs", json=body(age=-1, education="phd", colour="blue"))
    assert response.status_code == 422
    assert set(locations(response)) == {("body", "age"), ("body", "education"), ("body", "colour")}


async def test_a_canadian_credential_above_the_highest_education_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/crs", json=body(education="secondary", canadian_education="three_year_or_more")
    )
    assert response.status_code == 422
    assert locations(response) == [("body", "canadian_education")]


async def test_two_tests_of_the_same_language_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/crs", json=body(second_language=EXAMPLE["first_language"]))
    assert response.status_code == 422
    assert locations(response) == [("body", "second_language", "language")]


async def test_clb_converts_each_ability(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/clb",
        json={
            "language": "fr",
            "test": "tcf_canada",
            "reading": 549,
            "writing": 16,
            "listening": 458,
            "speaking": 9,
        },
    )
    assert response.status_code == 200
    assert response.json()["levels"] == {"reading": 10, "writing": 10, "listening": 7, "speaking": 6}
    assert response.json()["lowest"] == 6


async def test_fsw_gives_the_grid_and_each_unmet_requirement_with_its_reason(api: httpx.AsyncClient) -> None:
    request = {
        "age": 29,
        "education": "bachelor",
        "education_recognized": True,
        "first_language": EXAMPLE["first_language"],
        "skilled_work_years": 3,
        "settlement_funds": 10000,
        "family_size": 1,
    }
    response = await api.post("/api/v1/fsw", json=request)
    assert response.status_code == 200
    result = response.json()
    assert result["total"] == 68
    assert result["eligible"] is False
    unmet = [r for r in result["requirements"] if not r["met"]]
    assert [r["code"] for r in unmet] == ["settlement_funds"]
    assert unmet[0]["facts"]["needed"] == 15263
    assert "$15,263" in unmet[0]["message"]["en"]
    assert "15\u00a0263\u00a0$" in unmet[0]["message"]["fr"]


async def test_eligibility_checks_each_program_and_estimates_crs_when_one_fits(
    api: httpx.AsyncClient,
) -> None:
    request = {
        "status": "outside",
        "age": 29,
        "education": "bachelor",
        "education_recognized": True,
        "first_language": EXAMPLE["first_language"],
        "foreign_work_years": 3,
        "continuous_year_in_one_occupation": True,
        "settlement_funds": 20000,
    }
    result = (await api.post("/api/v1/eligibility", json=request)).json()
    verdicts = {program["program"]: program["eligible"] for program in result["programs"]}
    assert verdicts == {
        "federal_skilled_worker": True,
        "canadian_experience_class": False,
        "federal_skilled_trades": False,
    }
    assert result["crs"]["total"] == 429
    assert {pointer["route"] for pointer in result["pointers"]} >= {"provincial-nominees", "refugees"}


async def test_eligibility_without_any_program_gives_no_crs_estimate(api: httpx.AsyncClient) -> None:
    request = {"status": "outside", "age": 29, "education": "secondary", "education_recognized": False}
    result = (await api.post("/api/v1/eligibility", json=request)).json()
    assert result["crs"] is None
    assert not any(program["eligible"] for program in result["programs"])
    assert {"work", "study"} <= {pointer["route"] for pointer in result["pointers"]}


async def test_the_openapi_document_is_published(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/crs", "/api/v1/clb", "/api/v1/fsw", "/api/v1/eligibility"} <= set(paths)


async def test_an_unknown_api_address_answers_json_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


async def test_the_api_reference_is_a_page_of_our_own_in_both_languages(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.text
    for path in ("/api/v1/crs", "/api/v1/clb", "/api/v1/fsw", "/api/v1/eligibility"):
        assert f"POST {path}" in html
    assert "API de Haven" in html
    assert '<script src="http' not in html  # nothing loaded from elsewhere
