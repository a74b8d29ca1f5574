"""Rounds of invitations in a real browser, on a phone's width and a desk's, in both languages: the
public page, an invitation accepted (the application's checklist), one declined with JavaScript off,
and "not invited in this round" with the way to withdraw. axe-core checks every page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from haven.profiles.paths import BASE
from tests.browser.applicants import applicants, signed_in_page
from tests.browser.conftest import axe_violations, describe
from tests.profiles.crowd import Submitter
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROUNDS = {
    "en": "/en/immigrate/express-entry/rounds-of-invitations",
    "fr": "/fr/immigrer/entree-express/rondes-invitations",
}
WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def rounds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    """A server of this module's own (its round must not invite another test's profiles)."""
    var_dir = tmp_path_factory.mktemp("rounds-var")
    with start_server(var_dir, HAVEN_WORKERS="1") as running:
        yield running, var_dir


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def _submit(server: RunningServer, person: Submitter) -> str:
    """Submit the person's complete draft as its check page would; returns the confirmation path."""
    response = httpx.post(
        f"{server.base_url}{BASE['en']}/{person.profile_id}/submit",
        data={"csrf": person.csrf, "submit_key": person.submit_key, "declaration": "yes"},
        headers={"cookie": person.cookie_header()},
    )
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"]


def test_a_round_seen_by_the_invited_and_the_others(
    browser: Browser, rounds_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = rounds_server
    people = applicants(var_dir, 3, "round")
    pages = [_submit(server, person) for person in people]
    draw = subprocess.run(
        [sys.executable, "-m", "haven", "rounds", "draw", "--size", "2", "--id", "browser-round"],
        env={**os.environ, "HAVEN_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert draw.returncode == 0, draw.stderr
    assert json.loads(draw.stdout)["invited"] == 2

    # The public page, once the workers have seen the round (they look every few seconds).
    # (Asked without a browser first: a browser keeps the page it was given for 30 seconds.)
    deadline = time.monotonic() + 20
    while "browser-round" not in httpx.get(server.base_url + "/api/v1/rounds").text:
        assert time.monotonic() < deadline, "the workers never showed the round"
        time.sleep(0.25)
    public = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 900}).new_page()
    for lang, path in ROUNDS.items():
        public.goto(server.base_url + path)
        assert public.locator("table.rounds tbody tr").count() == 1, lang
        assert public.locator("html").get_attribute("lang") == lang
        assert_accessible(public)
        public.screenshot(path=str(var_dir / f"rounds-{lang}-390.png"), full_page=True)
    public.context.close()

    # The first, invited, accepts on a phone; the checklist opens and keeps what is ticked.
    first = signed_in_page(browser, server, people[0], 390)
    first.goto(server.base_url + pages[0])
    assert first.locator("h1").inner_text() == "You are invited to apply for permanent residence"
    assert_accessible(first)
    first.click("button:has-text('Send my answer')")  # no choice yet: the page says so
    assert first.locator(".error-summary").count() == 1
    assert_accessible(first)
    first.check("#answer-accept")
    first.click("button:has-text('Send my answer')")
    assert first.url.endswith("/application")
    assert_accessible(first)
    first.check("#ready-passport")
    first.click("main form button[type=submit]")
    assert first.locator("#ready-passport").is_checked()
    assert_accessible(first)
    first.screenshot(path=str(var_dir / "application-390.png"), full_page=True)
    first.context.close()

    # The second, invited, declines in French with JavaScript off, at a desk's width.
    # (axe needs JavaScript: each page is checked again in a browser that runs it.)
    second = signed_in_page(browser, server, people[1], 1280, script=False)
    checker = signed_in_page(browser, server, people[1], 1280)
    french = pages[1].replace(BASE["en"], BASE["fr"])
    second.goto(server.base_url + french)
    assert second.locator("html").get_attribute("lang") == "fr"
    checker.goto(server.base_url + french)
    assert_accessible(checker)
    second.check("#answer-decline")
    second.locator("main form button[type=submit]").click()
    assert "bassin" in second.locator("main").inner_text()
    checker.goto(second.url)
    assert_accessible(checker)
    second.context.close()
    checker.context.close()

    # The third was not invited: the page says so, and offers to withdraw (which asks first).
    third = signed_in_page(browser, server, people[2], 390)
    third.goto(server.base_url + pages[2])
    assert "You were not invited in this round" in third.locator("main").inner_text()
    assert_accessible(third)
    third.screenshot(path=str(var_dir / "not-invited-390.png"), full_page=True)
    third.get_by_role("link", name="Withdraw your profile").click()
    assert_accessible(third)
    third.get_by_role("link", name="Keep my profile in the pool").click()
    assert third.url.endswith("/confirmation")
    third.context.close()
