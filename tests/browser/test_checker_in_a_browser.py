"""The eligibility check and the calculators in a real browser, in both languages: every step passes
axe-core, the error state included, and everything works without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from haven.surge.persona import PERSONA
from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

START = {"en": "/en/check-eligibility", "fr": "/fr/verifier-admissibilite"}
BUTTON = {
    "en": ("Start now", "Continue", "See your results"),
    "fr": ("Commencer", "Continuer", "Voir vos résultats"),
}


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def answer_this_page(page: Page) -> None:
    """Fill what this question asks from PERSONA, the way a person would."""
    for name in page.eval_on_selector_all(
        "main form input[type=radio]", "inputs => [...new Set(inputs.map(i => i.name))]"
    ):
        page.check(f"input[name='{name}'][value='{PERSONA[name]}']")
    for name in page.eval_on_selector_all("main form input[type=text]", "inputs => inputs.map(i => i.name)"):
        page.fill(f"input[name='{name}']", PERSONA[name])


def run_check(page: Page, base: str, lang: str) -> int:
    page.goto(base + START[lang])
    start, carry_on, see_results = BUTTON[lang]
    page.get_by_role("link", name=start).click()
    steps = 0
    while page.url.split("?")[0].rsplit("/", 1)[1] not in ("results", "resultats"):
        assert steps < 40, "the check never ended"
        assert_accessible(page)
        if page.locator("main form").count():
            answer_this_page(page)
            page.get_by_role("button", name=carry_on).click()
        else:  # check your answers
            page.get_by_role("link", name=see_results).click()
        steps += 1
    assert_accessible(page)
    return steps


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_whole_check_passes_axe_at_every_step(server: RunningServer, page: Page, lang: str) -> None:
    steps = run_check(page, server.base_url, lang)
    assert steps > 20
    assert page.locator(".score__number").inner_text() == "551"
    assert page.locator("html").get_attribute("lang") == lang


def test_the_check_works_without_javascript(server: RunningServer, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(server.base_url + START["en"])
        page.get_by_role("link", name="Start now").click()
        answer_this_page(page)
        page.get_by_role("button", name="Continue").click()
        assert page.url.split("?")[0].endswith("/en/check-eligibility/age")
    finally:
        context.close()


def test_an_error_is_summarised_focused_and_accessible(server: RunningServer, page: Page) -> None:
    page.goto(server.base_url + "/en/check-eligibility/status")
    page.get_by_role("button", name="Continue").click()
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.dataset.errorSummary !== undefined")
    assert_accessible(page)
    page.get_by_role("link", name="Select your status in Canada").click()
    assert page.evaluate("document.activeElement.name") == "status"


def test_switching_language_mid_check_keeps_the_answers(server: RunningServer, page: Page) -> None:
    page.goto(server.base_url + "/en/check-eligibility/status")
    answer_this_page(page)
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=age]", "29")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Français").click()
    assert "/fr/verifier-admissibilite/conjoint?" in page.url
    page.get_by_role("link", name="Retour").click()
    assert page.input_value("input[name=age]") == "29"


@pytest.mark.parametrize(
    "path",
    [
        "/en/immigrate/express-entry/crs-calculator",
        "/fr/immigrer/entree-express/calculateur-scg",
        "/en/immigrate/express-entry/federal-skilled-workers/points-calculator",
        "/fr/immigrer/entree-express/travailleurs-qualifies-federal/calculateur-points",
    ],
)
def test_calculators_pass_axe_empty_with_errors_and_with_a_result(
    server: RunningServer, context: BrowserContext, path: str
) -> None:
    page = context.new_page()
    page.goto(server.base_url + path)
    assert_accessible(page)
    page.locator("main form button[type=submit]").click()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)
    answers = {
        "age": "29", "education": "bachelor", "cedu": "none", "where": "eca", "t1": "ielts_general",
        "s1r": "7.5", "s1w": "7", "s1l": "8", "s1s": "7", "t2": "none", "cwork": "0", "fwork": "3",
        "partner": "none", "exp": "3", "continuous": "yes", "family": "1", "funds": "20000",
    }  # fmt: skip
    for name in page.eval_on_selector_all(
        "main form input[type=radio]", "inputs => [...new Set(inputs.map(i => i.name))]"
    ):
        if name in answers:
            page.check(f"input[name='{name}'][value='{answers[name]}']")
    for name in page.eval_on_selector_all("main form input[type=text]", "inputs => inputs.map(i => i.name)"):
        if name in answers:
            page.fill(f"input[name='{name}']", answers[name])
    page.locator("main form button[type=submit]").click()
    assert page.locator(".breakdown").count() >= 1
    assert_accessible(page)
