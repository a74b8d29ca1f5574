"""The eligibility check in both languages: one question per page, branching, errors, results."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from haven.app import Haven
from haven.checker import wizard
from haven.surge.persona import PERSONA, form_fields
from haven.web.pagecache import PUBLIC_PAGE
from tests.checker.walk import walk
from tests.html import elements

START = {"en": "/en/check-eligibility/status", "fr": "/fr/verifier-admissibilite/statut"}
# The answers about a spouse or partner, asked only when the partner comes.
PARTNER_ANSWERS = frozenset({"p_edu", "p_test", "spr", "spw", "spl", "sps", "p_work", "p_study"})


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_a_full_check_ends_on_results_with_each_program_and_a_crs_estimate(
    client: httpx.AsyncClient, lang: str
) -> None:
    results, asked = await walk(client, START[lang], PERSONA)
    html = results.text
    assert elements(html, "html")[0]["lang"] == lang
    if lang == "en":
        assert "Federal Skilled Worker Program" in html
        assert "You may be eligible" in html
        assert "You need at least 2 years of full-time work in a skilled trade" in html
    else:
        assert "Programme des travailleurs qualifiés (fédéral)" in html
        assert "Vous pourriez être admissible" in html
    assert '<span class="score__number">551</span>' in html  # 366 + 20 + 100 + 65, worked in tests/rules
    assert results.headers["cache-control"] == PUBLIC_PAGE
    assert "set-cookie" not in results.headers
    assert len(asked) == len(set(asked)), "no question is asked twice"


async def test_no_sequence_has_more_than_seven_questions() -> None:
    every = [question.sequence for question in wizard.QUESTIONS]
    assert max(Counter(every).values()) <= 7


async def test_citizens_skip_straight_to_check_answers(client: httpx.AsyncClient) -> None:
    results, asked = await walk(client, START["en"], {**PERSONA, "status": "citizen"})
    assert asked == ["/en/check-eligibility/status"]
    assert "You are already a Canadian citizen" in results.text


async def test_without_a_partner_coming_the_partner_questions_are_not_asked(
    client: httpx.AsyncClient,
) -> None:
    _results, asked = await walk(client, START["en"], {**PERSONA, "partner": "none"})
    assert not [path for path in asked if "partner-" in path]
    _results, asked = await walk(client, START["en"], PERSONA)
    assert [path for path in asked if "partner-" in path]


async def test_stale_partner_answers_are_dropped_when_the_partner_no_longer_comes(
    client: httpx.AsyncClient,
) -> None:
    stale = {**PERSONA, "partner": "none", "go": "1"}
    response = await client.get("/en/check-eligibility/partner", params=stale)
    assert response.status_code == 303
    onward = urlsplit(response.headers["location"])
    assert onward.path == "/en/check-eligibility/education"
    assert PERSONA.keys() >= PARTNER_ANSWERS, "the stale answers were there to drop"
    kept = {name: [value] for name, value in stale.items() if name not in PARTNER_ANSWERS | {"go"}}
    assert parse_qs(onward.query) == kept


async def test_an_empty_answer_comes_back_with_an_error_summary_and_the_other_answers_kept(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/fr/verifier-admissibilite/age", params={"status": "outside", "go": "1"})
    assert response.status_code == 422
    html = response.text
    assert "<title>Erreur\u00a0: " in html
    assert elements(html, "a", href="#age")
    assert 'class="error-message"' in html
    _names, hidden = form_fields(html)
    assert hidden == {"status": "outside"}


async def test_a_score_off_the_test_scale_is_named_with_the_scale(client: httpx.AsyncClient) -> None:
    params = {
        "status": "outside",
        "test1": "ielts_general",
        "s1r": "12",
        "s1w": "7,5",
        "s1l": "8",
        "s1s": "7",
        "go": "1",
    }
    response = await client.get("/en/check-eligibility/test-results", params=params)
    assert response.status_code == 422
    assert "This reading score is not on the test’s scale" in response.text
    # Everything typed comes back as typed, the wrong score and the decimal comma too.
    for name in ("s1r", "s1w", "s1l", "s1s"):
        assert elements(response.text, "input", name=name)[0]["value"] == params[name], name


async def test_a_decimal_comma_is_read_as_a_decimal_point(client: httpx.AsyncClient) -> None:
    params = {
        "status": "outside",
        "test1": "ielts_general",
        "s1r": "7,5",
        "s1w": "7",
        "s1l": "8",
        "s1s": "7",
        "go": "1",
    }
    response = await client.get("/en/check-eligibility/test-results", params=params)
    assert response.status_code == 303
    assert "s1r=7.5" in response.headers["location"]


async def test_the_language_toggle_keeps_the_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/en/check-eligibility/education", params={"status": "outside", "age": "29"})
    toggle = elements(response.text, "a", hreflang="fr")[0]["href"]
    assert toggle.startswith("/fr/verifier-admissibilite/etudes?")
    assert parse_qs(urlsplit(toggle).query) == {"status": ["outside"], "age": ["29"]}


async def test_the_back_link_goes_to_the_previous_question_with_the_answers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/en/check-eligibility/partner", params={"status": "outside", "age": "29"})
    back = elements(response.text, "a", **{"class": "back-link"})[0]["href"]
    assert urlsplit(back).path == "/en/check-eligibility/age"
    # Every answer so far rides along, the one asked on that page too: it shows filled in.
    assert parse_qs(urlsplit(back).query) == {"status": ["outside"], "age": ["29"]}
    previous = await client.get(back)
    assert elements(previous.text, "input", name="age")[0]["value"] == "29"


async def test_check_answers_lists_each_answer_with_a_change_link(client: httpx.AsyncClient) -> None:
    results, _asked = await walk(client, START["en"], PERSONA)
    answers = parse_qs(urlsplit(str(results.url)).query)
    check = await client.get(
        "/en/check-eligibility/check-answers", params={k: v[0] for k, v in answers.items()}
    )
    assert check.status_code == 200
    changes = [a["href"] for a in elements(check.text, "a") if "return=check" in a.get("href", "")]
    assert len(changes) == len(wizard.applicable({k: v[0] for k, v in answers.items()}))


async def test_an_incomplete_results_address_sends_you_to_the_first_missing_question(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/en/check-eligibility/results", params={"status": "outside", "age": "29"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/en/check-eligibility/partner?")


async def test_junk_parameters_do_not_reach_the_page_or_its_cache(
    client: httpx.AsyncClient, app: Haven
) -> None:
    first = await client.get("/en/check-eligibility/status?utm_source=x")
    hits = app.query_pages.hits
    second = await client.get("/en/check-eligibility/status?utm_source=y&junk=1")
    assert app.query_pages.hits == hits + 1, "the second address is answered with the first one's page"
    assert first.content == second.content
    assert b"utm_source" not in first.content
    assert not [key for key in app.query_pages._cache if "utm_source" in repr(key) or "junk" in repr(key)]


async def test_the_start_page_starts_the_check(client: httpx.AsyncClient) -> None:
    for lang, path in (("en", "/en/check-eligibility"), ("fr", "/fr/verifier-admissibilite")):
        html = (await client.get(path)).text
        assert elements(html, "a", href=START[lang])


async def test_the_progress_counts_parts_whose_total_never_changes(client: httpx.AsyncClient) -> None:
    captions: list[str] = []

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        found = re.search(r"– part (\d) of (\d)", response.text)
        if found:
            captions.append(found.group(0))

    client.event_hooks["response"] = [hook]
    try:
        for answers in (PERSONA, {**PERSONA, "partner": "none"}):
            captions.clear()
            await walk(client, START["en"], answers)
            totals = {caption.rsplit(" ", 1)[1] for caption in captions}
            assert totals == {str(len(wizard.SEQUENCES))}, captions  # the same total on every step
            numbers = [int(caption.split()[2]) for caption in captions]
            assert numbers == sorted(numbers)  # never backwards
            assert numbers[0] == 1
    finally:
        client.event_hooks["response"] = []


async def test_a_score_example_fits_the_test_and_an_age_is_one_a_person_can_have(
    client: httpx.AsyncClient,
) -> None:
    scores = "/en/check-eligibility/test-results"
    celpip = await client.get(scores, params={"test1": "celpip_general", "s1r": "x", "go": "1"})
    ielts = await client.get(scores, params={"test1": "ielts_general", "s1r": "x", "go": "1"})
    assert "as a whole number, like 7" in celpip.text
    assert "like 7 or 6.5" in ielts.text
    age = "/en/check-eligibility/age"
    for wrong in ("0", "15", "121"):
        answer = await client.get(age, params={"age": wrong, "go": "1"})
        assert "Enter your age as a whole number from 16 to 110" in answer.text, wrong


async def test_the_relatives_question_speaks_of_a_partner_only_to_someone_with_one(
    client: httpx.AsyncClient,
) -> None:
    page = "/en/check-eligibility/relatives"
    alone = await client.get(page, params={"status": "outside", "partner": "none"})
    together = await client.get(page, params={"status": "outside", "partner": "coming"})
    assert "Do you have a close relative in Canada?" in alone.text
    assert "spouse or partner" not in alone.text
    assert "Do you or your spouse or partner have a close relative in Canada?" in together.text


@pytest.mark.parametrize(
    ("lang", "path", "before"),
    [
        ("en", "/en/check-eligibility", "Before you start"),
        ("fr", "/fr/verifier-admissibilite", "Avant de commencer"),
    ],
)
async def test_the_start_button_comes_before_what_to_have_ready(
    client: httpx.AsyncClient, lang: str, path: str, before: str
) -> None:
    html = (await client.get(path)).text
    button = html.index('class="button button--start"')
    assert button < html.index(f">{before}</h2>")
    assert html.count("button--start") == 1
    assert START[lang] in html[button : button + 200]


async def test_results_say_how_the_score_could_rise_and_show_no_empty_row(client: httpx.AsyncClient) -> None:
    results, _asked = await walk(client, START["en"], PERSONA)
    html = results.text
    assert "How your score could rise" in html
    # 65 additional points already (551 = 366 + 20 + 100 + 65): a nomination brings the rest of 600.
    assert "A nomination from a province or territory (Provincial Nominee Program): 535 more points" in html
    assert "A French test" not in html  # she has one
    assert "Job offer" not in html  # a factor that earns nothing is no row of "0 of 0"
    french, _asked = await walk(client, START["fr"], PERSONA)
    assert "Comment votre note pourrait augmenter" in french.text


async def test_errors_come_in_the_order_of_the_fields_and_rule_codes_stay_in_a_details(
    client: httpx.AsyncClient,
) -> None:
    # Reading off the scale (found after every score is read), writing missing: reading first.
    page = await client.get(
        "/en/check-eligibility/test-results",
        params={"test1": "ielts_general", "s1r": "11", "s1w": "", "s1l": "7", "s1s": "7", "go": "1"},
    )
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', page.text, re.S)
    assert summary is not None
    assert re.findall(r'href="#([^"]+)"', summary.group(1)) == ["s1r", "s1w"]
    results, _asked = await walk(client, START["en"], PERSONA)
    note = re.search(r'<p class="aside">(.*?)</p>', results.text, re.S)
    assert note is not None
    assert "version" not in note.group(1)
    assert "<summary>Which version of the rules</summary>" in results.text
