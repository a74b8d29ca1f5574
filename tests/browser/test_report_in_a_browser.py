"""'Report a problem with this page' in a real browser, on a phone, in both languages: from a page's
footer to the form (which knows the page), a report refused for want of words, then sent; axe-core
checks every step."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

FROM = {"en": "/en/study", "fr": "/fr/etudier"}
LINK = {"en": "Report a problem with this page", "fr": "Signaler un problème sur cette page"}
SEND = {"en": "Send the report", "fr": "Envoyer le signalement"}
SAVED = {"en": "Your report is saved", "fr": "Votre signalement est enregistré"}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_problem_is_reported_from_a_pages_footer(
    server: RunningServer, browser: Browser, lang: str
) -> None:
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(server.base_url + FROM[lang])
    page.get_by_role("link", name=LINK[lang]).click()
    assert page.locator("#page").input_value() == FROM[lang]  # the page it came from
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_role("button", name=SEND[lang]).click()
    assert page.locator(".error-summary a[href='#text']").count() == 1
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.fill("#text", "The table of fees is cut off on my phone.")
    page.get_by_role("button", name=SEND[lang]).click()
    assert SAVED[lang] in page.locator("main").inner_text()
    violations = axe_violations(page)
    assert not violations, describe(violations)
    context.close()
