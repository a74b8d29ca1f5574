"""Every public page in a real browser: no WCAG 2.2 A/AA violation axe-core can find, reflow at
320 px, and a language toggle that lands on the equivalent page."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from haven.app import create_app
from haven.content.pages import load_library
from tests.browser.conftest import axe_violations, describe
from tests.conftest import make_settings
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

LIBRARY = load_library()
PATHS = ["/", "/api/v1/docs", *[page.path for lang in ("en", "fr") for page in LIBRARY.in_language(lang)]]


@pytest.mark.parametrize("path", PATHS)
def test_every_page_passes_axe_and_reflows_at_320_px(
    server: RunningServer, context: BrowserContext, path: str
) -> None:
    page = context.new_page()
    response = page.goto(server.base_url + path)
    assert response is not None
    assert response.status == 200
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.set_viewport_size({"width": 320, "height": 640})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{path} scrolls sideways at 320 px ({width} px wide)"


def test_axe_finds_a_planted_violation(server: RunningServer, page: Page) -> None:
    """The checker itself can fail: an unlabelled field and an image without text are caught."""
    page.goto(server.base_url + "/en/")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<input type=text><img src=/x.png>')"
    )
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"label", "image-alt"} <= found


def test_the_404_page_passes_axe(server: RunningServer, page: Page) -> None:
    response = page.goto(server.base_url + "/en/no-such-page")
    assert response is not None
    assert response.status == 404
    assert page.locator("section[lang=fr] h1").inner_text() == "Nous ne pouvons trouver cette page"
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_the_busy_page_passes_axe(server: RunningServer, page: Page) -> None:
    # The busy page is served by nginx or the shield, not at an address of its own: show it in place.
    busy = create_app(make_settings(server.log.parent)).site.busy

    def fulfil(route: Route) -> None:
        route.fulfill(status=503, body=busy.body, content_type="text/html; charset=utf-8")

    page.route(server.base_url + "/busy-preview", fulfil)
    page.goto(server.base_url + "/busy-preview")
    assert "Sorry, the service is busy" in page.content()
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_the_language_toggle_lands_on_the_equivalent_page(server: RunningServer, page: Page) -> None:
    page.goto(server.base_url + "/en/immigrate/express-entry/federal-skilled-workers")
    page.get_by_role("link", name="Français").click()
    page.wait_for_url("**/fr/immigrer/entree-express/travailleurs-qualifies-federal")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/en/immigrate/express-entry/federal-skilled-workers")


def test_the_skip_link_is_the_first_stop_and_moves_to_the_content(server: RunningServer, page: Page) -> None:
    page.goto(server.base_url + "/fr/etudier")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Passer au contenu principal"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pages_work_without_javascript(server: RunningServer, context: BrowserContext) -> None:
    browser = context.browser
    assert browser is not None
    no_script = browser.new_context(java_script_enabled=False)
    try:
        page = no_script.new_page()
        page.goto(server.base_url + "/en/")
        page.get_by_role("link", name="Express Entry").first.click()
        page.wait_for_url("**/en/immigrate/express-entry")
        assert page.locator("h1").inner_text() == "Express Entry"
    finally:
        no_script.close()
