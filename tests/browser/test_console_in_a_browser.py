"""The operators' console in a real browser, on a phone's width and a desk's, in both languages:
signing in with a TOTP code, the room live (its figures refreshed by the page's script), a pause
asked for, confirmed and seen by the room, the audit log, and the controls with JavaScript off.
axe-core checks every page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

PASSWORD = "a long operator password"
ROOM = {"en": "/admin/en", "fr": "/admin/fr"}
SIGN_IN = {"en": "/admin/en/sign-in", "fr": "/admin/fr/connexion"}
AUDIT = {"en": "/admin/en/audit-log", "fr": "/admin/fr/journal"}
ROUNDS = {"en": "/admin/en/rounds", "fr": "/admin/fr/rondes"}
YES = {"en": "Yes, do it", "fr": "Oui, le faire"}


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    var_dir = tmp_path_factory.mktemp("console-var")
    with start_server(var_dir, HAVEN_WORKERS="1") as running:
        yield running, var_dir


def add_operator(var_dir: Path, name: str) -> str:
    """``haven operator add`` as an administrator runs it; returns the TOTP secret it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "haven", "operator", "add", name, "--password-file", "-"],
        input=PASSWORD + "\n",
        env={**os.environ, "HAVEN_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"secret: ([A-Z2-7]+)", done.stdout)
    assert found, done.stdout
    return found.group(1)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def sign_in(page: Page, base: str, lang: str, name: str, secret: str) -> None:
    page.goto(base + ROOM[lang])
    assert page.url.startswith(base + SIGN_IN[lang])  # sent to sign in first
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("main form button[type=submit]").click()
    assert page.url == base + ROOM[lang], page.url


@pytest.mark.parametrize(("lang", "width"), [("en", 390), ("fr", 1280), ("en", 1280), ("fr", 390)])
def test_the_console_signs_in_shows_the_room_and_pauses_it(
    browser: Browser, console_server: tuple[RunningServer, Path], lang: str, width: int
) -> None:
    server, var_dir = console_server
    base = server.base_url
    name = f"op-{lang}-{width}"
    secret = add_operator(var_dir, name)
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(base + SIGN_IN[lang])
    assert page.locator("html").get_attribute("lang") == lang
    assert_accessible(page)
    # A wrong code is refused with the form's error, in the page's language.
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.locator("main form button[type=submit]").click()
    assert page.locator(".error-summary").count() == 1
    assert_accessible(page)
    sign_in(page, base, lang, name, secret)
    assert_accessible(page)
    assert page.locator(".chart").count() == 7
    page.screenshot(path=str(var_dir / f"console-{lang}-{width}.png"), full_page=True)

    # The figures are refreshed in place by the page's script, every few seconds.
    with page.expect_response(
        lambda answer: "/figures" in answer.url or "/chiffres" in answer.url, timeout=15_000
    ):
        pass
    assert page.locator("#figures .chart").count() == 7

    # Pause: asked, confirmed, done; a newcomer is then queued by the room.
    pause = page.locator("form.control", has=page.locator("input[name=action][value=pause]"))
    pause.locator("button").click()
    assert_accessible(page)  # the confirmation
    page.get_by_role("button", name=YES[lang]).click()
    assert page.url.endswith("?done=pause")
    assert page.locator(".notice[role=status]").count() == 1
    assert_accessible(page)
    newcomer = httpx.get(base + "/en/account", headers={"x-forwarded-for": "198.18.0.77"})
    assert newcomer.status_code == 503
    assert "waiting" in newcomer.text.lower()

    # The audit log shows it with the operator's name.
    page.goto(base + AUDIT[lang])
    assert_accessible(page)
    assert page.locator("tbody tr").first.locator("td").nth(1).inner_text() == name

    # The rounds of invitations: the list and a dry run, both accessible.
    page.goto(base + ROUNDS[lang])
    assert_accessible(page)
    page.fill("#size", "3")
    page.locator("form.form", has=page.locator("#size")).locator("button").click()
    assert page.locator("main dl").count() == 1  # the dry run, nobody invited yet
    assert_accessible(page)

    # Resume, and sign out: the console asks to sign in again.
    page.goto(base + ROOM[lang])
    page.locator("form.control", has=page.locator("input[name=action][value=resume]")).locator(
        "button"
    ).click()
    page.get_by_role("button", name=YES[lang]).click()
    page.locator(".console-nav__out button").click()
    assert page.url.startswith(base + SIGN_IN[lang])
    page.goto(base + ROOM[lang])
    assert page.url.startswith(base + SIGN_IN[lang])
    context.close()


def test_the_controls_work_without_javascript(
    browser: Browser, console_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = console_server
    base = server.base_url
    secret = add_operator(var_dir, "op-no-script")
    context = browser.new_context(viewport={"width": 390, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, base, "en", "op-no-script", secret)
    rate = page.locator("form.control", has=page.locator("input[name=action][value=rate]"))
    rate.locator("#rate").fill("none")
    rate.locator("button").click()
    assert page.locator(".error-summary a[href='#rate']").count() == 1  # said, field by field
    rate = page.locator("form.control", has=page.locator("input[name=action][value=rate]"))
    rate.locator("#rate").fill("25")
    rate.locator("button").click()
    page.get_by_role("button", name="Yes, do it").click()
    assert "Fixed rate: 25 people a second are let in." in page.locator("main").inner_text()
    page.locator("form.control", has=page.locator("input[name=action][value=resume]")).locator(
        "button"
    ).click()
    page.get_by_role("button", name="Yes, do it").click()
    assert "Safety net" in page.locator(".room-mode").inner_text()
    context.close()
