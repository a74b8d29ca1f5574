"""A profile that forgives, in a real browser, in both languages, on a phone's width and a desk's:
the warning before a session ends (and staying signed in), the road through a session that ended
mid-form (what was typed is put back after signing in again), and the print view of a submitted
profile (on screen and as the printer sees it). axe-core checks every page."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from haven.profiles.paths import BASE
from haven.surge.persona import SECTIONS
from haven.web.i18n import LANGUAGES, Language
from tests.browser.applicants import applicants, signed_in_page
from tests.browser.conftest import axe_violations, describe
from tests.profiles.crowd import PASSWORD
from tests.server import RunningServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

WIDTHS = (390, 1280)


@pytest.fixture(scope="module")
def profile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    var_dir = tmp_path_factory.mktemp("profile-var")
    with start_server(var_dir, HAVEN_WORKERS="1") as running:
        yield running, var_dir


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def test_a_submitted_profile_is_viewed_and_printed(
    browser: Browser, profile_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = profile_server
    (person,) = applicants(var_dir, 1, "printer")
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


def test_the_session_warns_before_it_ends_and_what_was_typed_survives_its_end(
    browser: Browser, profile_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = profile_server
    combinations = [(lang, width) for lang in LANGUAGES for width in WIDTHS]
    crowd = applicants(var_dir, len(combinations), "session")
    words = {
        "en": {
            "soon": "Your session will end soon",
            "out": "You have been signed out",
            "stay": "Stay signed in",
        },
        "fr": {
            "soon": "Votre session va bientôt prendre fin",
            "out": "Vous avez été déconnecté",
            "stay": "Rester connecté",
        },
    }
    for (lang, width), person in zip(combinations, crowd, strict=True):
        said = words[lang]
        page = signed_in_page(browser, server, person, width)
        page.clock.install()
        personal = f"{BASE[lang]}/{person.profile_id}/{SECTIONS[lang]['personal']}"
        page.goto(server.base_url + personal)
        dialog = page.locator("dialog[data-session-warning]")
        assert not dialog.is_visible()
        assert_accessible(page)

        # 25 minutes later (less the minute of grace): the warning, with the time left.
        page.clock.fast_forward("24:00")
        assert dialog.is_visible()
        assert dialog.locator("h2").inner_text() == said["soon"]
        assert " 5 " in dialog.inner_text()
        assert page.evaluate("document.activeElement.textContent.trim()") == said["stay"]
        assert not dialog.locator("[data-session-close]").is_visible()
        assert_accessible(page)
        page.screenshot(path=str(var_dir / f"warning-{lang}-{width}.png"))
        dialog.get_by_role("button", name=said["stay"]).click()
        dialog.wait_for(state="hidden")
        # Warned again later: Escape closes the warning, and counts as staying signed in.
        page.clock.fast_forward("25:00")
        assert dialog.is_visible()
        with page.expect_response(
            lambda response: "/stay-signed-in" in response.url or "/rester-connecte" in response.url
        ) as kept:
            page.keyboard.press("Escape")
        assert kept.value.status == 204
        dialog.wait_for(state="hidden")

        # Nobody answers this time: the dialog says the session has ended, and what to do.
        page.clock.fast_forward("30:00")
        assert dialog.is_visible()
        assert dialog.locator("h2").inner_text() == said["out"]
        assert not dialog.get_by_role("button", name=said["stay"]).is_visible()
        assert_accessible(page)
        dialog.locator("[data-session-close]").click()
        dialog.wait_for(state="hidden")

        # The session ends for real (on the server), while the person types.
        page.fill("#family_name", f"Okafor-{lang}-{width}")
        with sqlite3.connect(var_dir / "haven.sqlite3") as database:
            gone = database.execute(
                "DELETE FROM web_sessions WHERE account_id = ?", (person.account_id.hex,)
            ).rowcount
        assert gone == 1
        page.click("form button[name='action'][value='continue']")
        assert "/connexion" in page.url or "/sign-in" in page.url
        assert page.locator("main .notice").count() == 1
        assert_accessible(page)
        page.fill("#email", person.email)
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]")
        assert page.url == server.base_url + personal
        assert page.locator("#family_name").input_value() == f"Okafor-{lang}-{width}"
        assert page.locator("main .notice").count() == 1
        assert_accessible(page)
        page.screenshot(path=str(var_dir / f"restored-{lang}-{width}.png"), full_page=True)
        page.click("form button[name='action'][value='continue']")
        assert page.locator("ol.task-list").count() == 1
        page.goto(server.base_url + personal)
        assert page.locator("#family_name").input_value() == f"Okafor-{lang}-{width}"  # saved
        page.context.close()


def test_follow_up_questions_show_in_place_as_the_person_answers(
    browser: Browser, profile_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = profile_server
    crowd = applicants(var_dir, 2, "follow")
    tries: tuple[tuple[Language, int], ...] = (("en", 390), ("fr", 1280))
    for (lang, width), person in zip(tries, crowd, strict=True):
        page = signed_in_page(browser, server, person, width)
        education = f"{BASE[lang]}/{person.profile_id}/{SECTIONS[lang]['education']}"
        page.goto(server.base_url + education)
        where = page.locator(".question[data-field='where']")
        eca = page.locator(".question[data-field='eca_org']")
        study = page.locator(".question[data-field='study']")
        assert where.is_visible()  # the persona's bachelor's degree, assessed (ECA)
        assert eca.is_visible()
        assert not study.is_visible()
        assert not page.locator(".no-script").is_visible()  # the note for pages without the script
        page.check("form [name='where'][value='canada']")  # in Canada: no ECA, a length of study
        assert not eca.is_visible()
        assert study.is_visible()
        assert_accessible(page)
        page.check("form [name='level'][value='less_than_secondary']")
        assert not where.is_visible()
        assert not study.is_visible()
        page.check("form [name='level'][value='master']")
        page.check("form [name='where'][value='canada']")
        page.check("form [name='study'][value='2']")
        page.click("form button[name='action'][value='continue']")
        assert page.locator("ol.task-list").count() == 1  # saved at once: every question was seen
        assert page.locator(".error-summary").count() == 0

        job = f"{BASE[lang]}/{person.profile_id}/{SECTIONS[lang]['work']}/0"
        page.goto(server.base_url + job)
        country = page.locator(".question[data-field='country']")
        authorized = page.locator(".question[data-field='authorized']")
        end = page.locator(".question[data-field='end']")
        assert country.is_visible()  # the persona's job abroad, still held
        assert not authorized.is_visible()
        assert not end.is_visible()
        page.check("form [name='in_canada'][value='yes']")
        assert not country.is_visible()
        assert authorized.is_visible()
        page.uncheck("#current")
        assert end.is_visible()
        assert_accessible(page)
        page.screenshot(path=str(var_dir / f"follow-ups-{lang}-{width}.png"), full_page=True)
        page.context.close()


def test_a_noc_code_is_found_by_job_title_from_the_job_page(
    browser: Browser, profile_server: tuple[RunningServer, Path]
) -> None:
    server, var_dir = profile_server
    (person,) = applicants(var_dir, 1, "noc")
    typed = {"en": ("nurse", "31301"), "fr": ("infirmière", "31301")}
    for lang in LANGUAGES:
        for width in WIDTHS:
            page = signed_in_page(browser, server, person, width)
            page.goto(f"{server.base_url}{BASE[lang]}/{person.profile_id}/{SECTIONS[lang]['work']}/0")
            link = page.locator(".field-aid a")
            assert link.get_attribute("target") == "_blank"
            with page.context.expect_page() as opened:
                link.click()
            lookup = opened.value
            lookup.wait_for_load_state()
            assert lookup.locator("html").get_attribute("lang") == lang
            assert_accessible(lookup)
            query, code = typed[lang]
            lookup.fill("#noc-q", query)
            lookup.locator("main form button[type=submit]").click()
            assert code in lookup.locator("main table").inner_text()
            assert_accessible(lookup)
            lookup.screenshot(path=str(var_dir / f"noc-{lang}-{width}.png"), full_page=True)
            assert page.locator("#noc").input_value() == "21232"  # the job's page is as it was
            page.context.close()
