"""A profile that forgives, in a real browser, in both languages, on a phone's width and a desk's:
the print view of a submitted profile (on screen and as the printer sees it). axe-core checks every
page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from haven import settings as settings_module
from haven.profiles.paths import BASE
from tests.browser.conftest import axe_violations, describe
from tests.profiles.crowd import Submitter, prepare
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def profile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    var_dir = tmp_path_factory.mktemp("profile-var")
    with start_server(var_dir, HAVEN_WORKERS="1") as running:
        yield running, var_dir


def people(var_dir: Path, count: int, prefix: str) -> list[Submitter]:
    """Applicants with a complete draft, signed in (their cookies), on the server's database."""
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir)})
    # In a thread of its own: Playwright's sync API keeps this thread's event loop running.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, prepare(settings, count, prefix=prefix)).result()


def signed_in_page(browser: Browser, server: RunningServer, person: Submitter, width: int) -> Page:
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    host = httpx.URL(server.base_url).host
    context.add_cookies(
        [
            {"name": name, "value": value, "domain": host, "path": "/"}
            for name, value in person.cookies.items()
        ]
    )
    return context.new_page()


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def test_a_submitted_profile_is_viewed_and_printed(
    browser: Browser, profile_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = profile_server
    (person,) = people(var_dir, 1, "printer")
    submitted = httpx.post(
        f"{server.base_url}{BASE['en']}/{person.profile_id}/submit",
        data={"csrf": person.csrf, "submit_key": person.submit_key, "declaration": "yes"},
        headers={"cookie": person.cookie_header()},
    )
    assert submitted.status_code == 303, submitted.text[:500]
    link = {"en": "View or print every answer in your profile", "fr": "Voir ou imprimer"}
    for lang in ("en", "fr"):
        for width in WIDTHS:
            page = signed_in_page(browser, server, person, width)
            page.goto(f"{server.base_url}{BASE[lang]}/{person.profile_id}/confirmation")
            page.locator("main a", has_text=link[lang]).click()
            assert page.url.endswith("/print" if lang == "en" else "/imprimer")
            assert page.locator("html").get_attribute("lang") == lang
            assert_accessible(page)
            assert page.locator("main .summary-list__actions").count() == 0  # nothing to change here
            assert "Okafor" in page.locator("main").inner_text()
            button = page.locator("main button[data-print]")
            assert button.is_visible()  # shown by the script, which is what makes it print
            page.screenshot(path=str(var_dir / f"print-{lang}-{width}.png"), full_page=True)
            # As the printer sees it: the answers, without the site's header, footer or links.
            page.emulate_media(media="print")
            assert not page.locator("header.site-header").is_visible()
            assert not page.locator("footer").first.is_visible()
            assert not page.locator(".breadcrumbs").is_visible()
            assert not button.is_visible()
            assert page.locator("main .summary-list").first.is_visible()
            assert page.locator("main .reference").inner_text().startswith("HV-")
            pdf = page.pdf(format="A4")
            assert pdf.startswith(b"%PDF")
            assert len(pdf) > 10_000
            (var_dir / f"print-{lang}-{width}.pdf").write_bytes(pdf)
            page.context.close()
