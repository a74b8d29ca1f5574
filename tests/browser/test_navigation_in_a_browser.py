"""Finding one's way from the home page, on a phone and at a desk, in both languages: the main
sections and tools in the header (a menu that opens without JavaScript on a phone, a bar at a
desk) and the way to sign in. axe-core checks each page, the menu open."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

EXPRESS_ENTRY = {"en": "Express Entry", "fr": "Entrée express"}
SIGN_IN = {"en": ("Sign in", "/en/account/sign-in"), "fr": ("Se connecter", "/fr/compte/connexion")}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("script", [True, False])
def test_the_header_leads_to_the_sections_the_tools_and_signing_in(
    server: RunningServer, browser: Browser, lang: str, script: bool
) -> None:
    phone = browser.new_context(
        bypass_csp=True, viewport={"width": 390, "height": 900}, java_script_enabled=script
    )
    page = phone.new_page()
    page.goto(f"{server.base_url}/{lang}/")
    menu = page.locator(".site-nav__menu")
    assert menu.is_visible()
    assert not page.locator(".site-nav__bar").is_visible()
    assert not menu.get_by_role("link", name=EXPRESS_ENTRY[lang], exact=True).is_visible()  # closed
    menu.locator("summary").click()
    link = menu.get_by_role("link", name=EXPRESS_ENTRY[lang], exact=True)
    assert link.is_visible()
    if script:
        violations = axe_violations(page)
        assert not violations, describe(violations)
    link.click()
    assert page.locator("h1").inner_text() == EXPRESS_ENTRY[lang]
    phone.close()

    desk = browser.new_context(
        bypass_csp=True, viewport={"width": 1280, "height": 900}, java_script_enabled=script
    )
    page = desk.new_page()
    page.goto(f"{server.base_url}/{lang}/")
    bar = page.locator(".site-nav__bar")
    assert bar.is_visible()
    assert not page.locator(".site-nav__menu").is_visible()
    if script:
        violations = axe_violations(page)
        assert not violations, describe(violations)
    words, sign_in_path = SIGN_IN[lang]
    page.locator(".site-header").get_by_role("link", name=words, exact=True).click()
    assert sign_in_path in page.url
    desk.close()


@pytest.mark.parametrize(("lang", "query"), [("en", "express entry"), ("fr", "entrée express")])
def test_a_search_from_the_home_page_by_keyboard_reaches_the_page(
    server: RunningServer, browser: Browser, lang: str, query: str
) -> None:
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/{lang}/")
    box = page.locator("#site-search-q")
    box.focus()
    page.keyboard.type(query)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("ol.search-results li").count() >= 1
    violations = axe_violations(page)
    assert not violations, describe(violations)
    first = page.locator("ol.search-results a").first
    first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == EXPRESS_ENTRY[lang]
    context.close()
