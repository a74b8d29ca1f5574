"""The waiting page in a real browser: English, French and bilingual, axe-core clean; the "Check your
place" button without JavaScript; and the script that checks the place and goes in when it is time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def queueing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    var_dir = tmp_path_factory.mktemp("waiting-var")
    with start_server(var_dir, HAVEN_LOG_LEVEL="warning") as server:
        steer(server, var_dir, {"action": "pause"})
        yield server, var_dir


def steer(server: RunningServer, var_dir: Path, body: dict[str, object]) -> None:
    token = (var_dir / "admin_token").read_text().strip()
    answer = httpx.post(
        server.base_url + "/admin/api/room", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def status_text(page: Page) -> str:
    return page.locator("[role=status]").first.inner_text()


def test_the_waiting_page_in_both_languages_and_without_javascript(
    browser: Browser, queueing_server: tuple[RunningServer, Path]
) -> None:
    server, _ = queueing_server
    english = browser.new_context(bypass_csp=True)
    page = english.new_page()
    answer = page.goto(server.base_url + "/en/account/sign-up")
    assert answer is not None
    assert answer.status == 503
    expect(page.locator("h1")).to_have_text("You are in the queue for Haven")
    place = int(re.search(r"queue: (\d+)", status_text(page)).group(1))  # type: ignore[union-attr]
    assert_accessible(page)
    # The other language keeps the place (the toggle carries where the visitor was going).
    page.get_by_role("link", name="Français").click()
    expect(page).to_have_url(re.compile(r"/fr/salle-d-attente\?next=/en/account/sign-up"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert f"file\u00a0: {place}." in status_text(page)
    assert_accessible(page)
    page.goto(server.base_url + "/waiting-room")  # before a language is chosen: both at once
    assert f"queue: {place}." in page.locator("[role=status][data-lang=en]").inner_text()
    assert f"file\u00a0: {place}." in page.locator("[role=status][data-lang=fr]").inner_text()
    assert_accessible(page)
    english.close()

    no_script = browser.new_context(bypass_csp=True, java_script_enabled=False)
    page = no_script.new_page()
    page.goto(server.base_url + "/fr/compte/inscription")
    mine = status_text(page)
    page.get_by_role("button", name="Vérifier votre place").click()
    expect(page).to_have_url(re.compile(r"/fr/salle-d-attente\?next="))
    assert status_text(page) == mine  # the same place, checked by hand
    no_script.close()


def test_the_script_checks_the_place_and_goes_in_when_it_is_time(
    browser: Browser, queueing_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = queueing_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server.base_url + "/en/account/sign-up")
    expect(page.locator("h1")).to_have_text("You are in the queue for Haven")
    steer(server, var_dir, {"action": "rate", "rate": 50})
    # Nobody touches the page: its script checks in, sees the turn has come and goes on.
    # (The line was paused when the page loaded, so its first check comes within about 36 s.)
    expect(page.locator("h1")).to_have_text(re.compile("Create"), timeout=60_000)
    assert page.url.endswith("/en/account/sign-up")
    assert_accessible(page)
    context.close()
    steer(server, var_dir, {"action": "pause"})


def test_the_browser_does_the_proof_of_work_and_gets_a_place(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    var_dir = tmp_path_factory.mktemp("work-var")
    with start_server(var_dir, HAVEN_LOG_LEVEL="warning", HAVEN_JOIN_WORK="12") as server:
        steer(server, var_dir, {"action": "pause"})
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        page.goto(server.base_url + "/en/account/sign-up")
        # The page asks the browser for the work, which takes it on to its place by itself.
        expect(page.locator("h1")).to_have_text("You are in the queue for Haven", timeout=30_000)
        assert "queue: 1." in status_text(page)
        assert_accessible(page)
        context.close()
