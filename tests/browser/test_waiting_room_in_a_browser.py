"""The waiting page in a real browser: English, French and bilingual, axe-core clean; the "Check your
place" button without JavaScript; and the script that works the place and the wait out from the
public room state, and goes in with one personal request when the counter passes its number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

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


def public_state(server: RunningServer) -> dict[str, Any]:
    answer = httpx.get(server.base_url + "/api/v1/waiting-room/state")
    assert answer.status_code == 200
    state: dict[str, Any] = answer.json()
    return state


def number_on(page: Page) -> int:
    return int(page.locator("[role=status]").first.get_attribute("data-number") or "")


def personal_checks(page: Page) -> list[str]:
    """Every personal status request the page makes from now on (the public state not included)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url) if urlsplit(request.url).path == "/api/v1/waiting-room" else None
        ),
    )
    return seen


ENGLISH_WAIT = "Your place in the queue: 12,345. Estimated wait: between 4 minutes and 7 minutes."
FRENCH_WAIT = (
    "Votre place dans la file\u00a0: 12\u00a0345. Attente estimée\u00a0: entre 4 minutes et 7 minutes."
)


def crafted_state(serving: int) -> dict[str, Any]:
    """A public state of a line moving 30 to 52 places a second."""
    return {
        "room": "main", "status": "queueing", "mode": "auto", "queueing": True, "serving": serving,
        "issued": serving + 20000, "waiting": 20000, "speed": 41.0, "speed_low": 30.0, "speed_high": 52.0,
        "no_show": 0.0, "tick_seconds": 1.0, "place_kept_seconds": 600, "opens_at": None,
        "computed_at": "2026-12-02T16:00:00.000+00:00", "computed_at_ms": 1796227200000,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("/en/account/sign-up", [ENGLISH_WAIT]),
        ("/fr/compte/inscription", [FRENCH_WAIT]),
        ("/waiting-room", [ENGLISH_WAIT, FRENCH_WAIT]),  # the bilingual page: both columns
    ],
)
def test_the_script_works_out_the_place_and_wait_from_the_public_state(
    browser: Browser, queueing_server: tuple[RunningServer, Path], address: str, expected: list[str]
) -> None:
    server, _ = queueing_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.clock.install()
    polls: list[dict[str, str]] = []
    number_box: list[int] = []

    def answer(route: Route) -> None:
        polls.append(route.request.headers)
        # 12,345 places ahead: 12,345 / 52 s is 4 minutes, 12,345 / 30 + 1 s is 7.
        route.fulfill(
            json=crafted_state(number_box[0] - 12345), headers={"cache-control": "public, max-age=1"}
        )

    page.route("**/api/v1/waiting-room/state", answer)
    personal = personal_checks(page)
    page.goto(server.base_url + address)
    number_box.append(number_on(page))
    page.clock.run_for(3000)  # the first look at the public state comes within about 2 s
    shown = page.locator("[role=status]")
    for index, text in enumerate(expected):
        expect(shown.nth(index)).to_have_text(text)
    assert len(polls) == 1
    assert "cookie" not in polls[0]  # the public state is asked for without the ticket
    assert personal == []  # far from the front: no personal request at all
    assert_accessible(page)
    context.close()


def test_a_poll_answered_by_a_host_a_tick_behind_never_moves_the_place_back(
    browser: Browser, queueing_server: tuple[RunningServer, Path]
) -> None:
    server, _ = queueing_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.clock.install()
    behind = [0, 4]  # the second poll reaches a host whose reading is four places older
    number_box: list[int] = []
    polls = 0

    def answer(route: Route) -> None:
        nonlocal polls
        lag = behind[min(polls, len(behind) - 1)]
        polls += 1
        route.fulfill(json=crafted_state(number_box[0] - 12345 - lag), headers={"cache-control": "no-store"})

    page.route("**/api/v1/waiting-room/state", answer)
    page.goto(server.base_url + "/waiting-room")
    number_box.append(number_on(page))
    page.clock.run_for(3000)
    shown = page.locator("[role=status]").first
    expect(shown).to_have_text(ENGLISH_WAIT)
    # The next poll comes within a minute; the one after it only once the page followed the answer.
    for _ in range(100):
        if polls >= 3:
            break
        page.clock.run_for(5_000)
        page.wait_for_timeout(50)  # real time, for the page to take the answer
    assert polls >= 3
    expect(shown).to_have_text(ENGLISH_WAIT)  # 12,345 still, not 12,349
    context.close()


def test_when_the_counter_passes_the_number_the_page_goes_in_with_one_personal_request(
    browser: Browser, queueing_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = queueing_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.clock.install()
    personal = personal_checks(page)
    page.goto(server.base_url + "/en/account/sign-up")
    expect(page.locator("h1")).to_have_text("You are in the queue for Haven")
    number = number_on(page)
    serving = public_state(server)["serving"]
    page.clock.run_for(3000)  # the script's own look at the (paused) line
    expect(page.locator("[role=status]")).to_contain_text(f"Your place in the queue: {number - serving}.")
    assert "not moving" in status_text(page)
    steer(server, var_dir, {"action": "rate", "rate": 50})
    for _ in range(600):  # the line moves once a second: wait until the counter has passed the number
        if public_state(server)["serving"] >= number:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the counter never passed the number")
    # Nobody touches the page: its next look at the public state (30 to 60 s later for a line that
    # was not moving) sees its number passed, asks Haven once and goes on.
    page.clock.run_for(61_000)
    expect(page.locator("h1")).to_have_text(re.compile("Create"), timeout=30_000)
    assert page.url.endswith("/en/account/sign-up")
    assert personal == [server.base_url + "/api/v1/waiting-room"]
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


@pytest.mark.parametrize(
    ("start", "button", "kept"),
    [
        ("/en/account/sign-in", "Email me when it is my turn", "We will email you when it is your turn"),
        (
            "/fr/compte/connexion",
            "M’écrire quand ce sera mon tour",
            "Nous vous écrirons quand ce sera votre tour",
        ),
    ],
)
def test_leaving_an_email_address_from_the_waiting_page(
    browser: Browser, queueing_server: tuple[RunningServer, Path], start: str, button: str, kept: str
) -> None:
    """A mistyped address gets a field-level error and keeps the place; a good one the page that
    says the person may close the tab. Both axe-clean, in each language (a plain form: the page's
    script plays no part in it)."""
    server, _ = queueing_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server.base_url + start)
    page.fill("input[name=email]", "not an address")
    page.get_by_role("button", name=button).click()
    field = page.locator("#email-error")
    expect(field).to_be_visible()
    assert page.locator(".error-summary a[href='#email']").count() == 1
    assert_accessible(page)
    page.fill("input[name=email]", "night.owl@example.org")
    page.get_by_role("button", name=button).click()
    expect(page.locator("h1")).to_contain_text(kept)
    assert "night.owl@example.org" in page.content()
    assert_accessible(page)
    context.close()
