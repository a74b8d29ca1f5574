"""The live service status page in a real browser, in both languages: complete without JavaScript,
axe-core clean, reflowing at 320 px, and showing the room as it is (here, paused with people in
line)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def paused_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    var_dir = tmp_path_factory.mktemp("status-var")
    with start_server(var_dir, HAVEN_LOG_LEVEL="warning") as server:
        token = (var_dir / "admin_token").read_text().strip()
        answer = httpx.post(
            server.base_url + "/admin/api/room",
            json={"action": "pause"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        for _ in range(2):  # two people in line
            assert httpx.get(server.base_url + "/en/account/sign-up").status_code == 503
        for _ in range(100):  # the page follows the room at its next tick (once a second)
            if "service-state--paused" in httpx.get(server.base_url + "/en/service-status").text:
                break
            time.sleep(0.1)
        yield server


@pytest.mark.parametrize(
    ("path", "label", "waiting", "other"),
    [
        ("/en/service-status", "Paused: waiting room open", "2", "/fr/etat-service"),
        ("/fr/etat-service", "En pause\u00a0: salle d’attente ouverte", "2", "/en/service-status"),
    ],
)
def test_the_status_page_shows_the_room_without_javascript(
    browser: Browser, paused_server: RunningServer, path: str, label: str, waiting: str, other: str
) -> None:
    context = browser.new_context(bypass_csp=True, java_script_enabled=False)
    page = context.new_page()
    answer = page.goto(paused_server.base_url + path)
    assert answer is not None
    assert answer.status == 200
    assert answer.headers["cache-control"] == "public, max-age=1"
    assert "set-cookie" not in answer.headers
    expect(page.locator(".service-state__label")).to_have_text(label)
    expect(page.locator("[data-figure=waiting]")).to_have_text(waiting)
    expect(page.locator("[data-figure=updated] time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    # The toggle goes to the same page in the other language, and the footer links to it.
    page.locator(f"a[hreflang][href='{other}']").click()
    expect(page).to_have_url(paused_server.base_url + other)
    assert page.locator(f"footer a[href='{other}']").count() == 1
    context.close()


@pytest.mark.parametrize(
    ("path", "title", "wait"),
    [
        ("/en/service-status", "Service status", "Cannot be estimated: the queue is not moving"),
        ("/fr/etat-service", "État du service", "Impossible à estimer\u00a0: la file n’avance pas"),
    ],
)
def test_the_status_page_is_accessible(
    browser: Browser, paused_server: RunningServer, path: str, title: str, wait: str
) -> None:
    context = browser.new_context(bypass_csp=True)  # axe runs as a script
    page = context.new_page()
    page.goto(paused_server.base_url + path)
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("[data-figure=wait]")).to_have_text(wait)
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"
    page.set_viewport_size({"width": 320, "height": 640})  # reflow: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    context.close()
