"""An applicant's whole journey in a real browser: create an account, confirm the address from the
email, start a profile, switch to French halfway through a page, leave, come back another day (a new
browser), finish in French and submit. axe-core checks every page on the way, error states included."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from haven.surge.persona import ANSWERS, JOB, SECTIONS
from tests.browser.conftest import axe_violations, describe
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

PASSWORD = "paper lantern river stone"


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}\n{describe(violations)}"


def fill(page: Page, answers: dict[str, str], *, only_shown: bool = False) -> set[str]:
    """Answer the way a person would: tick the radio, choose the option, type the text. Returns the
    names answered; with ``only_shown``, questions not on the page (yet) are left for later."""
    answered = set()
    for name, value in answers.items():
        field = page.locator(f"form [name='{name}']")
        if only_shown and not field.count():
            continue
        assert field.count(), f"{page.url} has no field {name}"
        kind = field.first.evaluate("e => e.tagName === 'SELECT' ? 'select' : e.type")
        if kind in ("radio", "checkbox"):
            page.check(f"form [name='{name}'][value='{value}']")
        elif kind == "select":
            field.select_option(value)
        else:
            field.fill(value)
        answered.add(name)
    return answered


def press(page: Page, action: str) -> None:
    page.click(f"form button[name='action'][value='{action}']")


def mail_link(folder: Path, address: str) -> str:
    """The path of the link in the newest email to ``address`` (delivery is in the background)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for mail in sorted(folder.glob("*.eml"), reverse=True):
            text = mail.read_text()
            if f"To: {address}\n" in text:
                found = re.search(r"https?://\S+", text)
                assert found, text
                link = urlsplit(found.group(0))
                return f"{link.path}?{link.query}"
        time.sleep(0.1)
    raise AssertionError(f"no email reached {address}")


def open_section(page: Page, lang: str, key: str) -> None:
    page.click(f"ol.task-list a[href$='/{SECTIONS[lang][key]}']")
    assert_accessible(page)


def answer_page(page: Page, answers: dict[str, str]) -> None:
    """Answer what the page asks; questions that follow from an answer appear once it is given,
    without an error for what was never asked. Ends back on the task list."""
    for _round in range(5):
        fill(page, answers, only_shown=True)
        press(page, "continue")
        assert page.locator(".error-summary").count() == 0, page.content()[:3000]
        if page.locator("ol.task-list").count():
            return
        assert_accessible(page)  # the same page, with its follow-up questions
    raise AssertionError(f"{page.url} kept asking")


def answer_section(page: Page, lang: str, key: str) -> None:
    open_section(page, lang, key)
    answer_page(page, ANSWERS[key])


def sign_in(page: Page, address: str) -> None:
    fill(page, {"email": address, "password": PASSWORD})
    page.click("main form button[type=submit]")


def test_an_applicant_signs_up_leaves_halfway_comes_back_in_french_and_submits(
    server: RunningServer, browser: Browser
) -> None:
    address = f"applicant-{uuid.uuid4().hex[:8]}@example.org"
    mail_folder = server.log.parent / "mail"

    # Day one, in English --------------------------------------------------------------------
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server.base_url + "/en/account/sign-up")
    assert_accessible(page)
    page.click("main form button[type=submit]")  # nothing typed: both fields explained
    assert page.title().startswith("Error: ")
    assert page.locator("#email-error").count() == 1
    assert page.locator("#password-error").count() == 1
    assert_accessible(page)
    fill(page, {"email": address, "password": PASSWORD})
    page.click("main form button[type=submit]")
    assert page.url.endswith("/en/account/check-your-email")
    assert_accessible(page)

    page.goto(server.base_url + mail_link(mail_folder, address))
    assert_accessible(page)
    page.get_by_role("button", name="Confirm my email address").click()
    assert_accessible(page)
    page.get_by_role("link", name="Go to your account").click()
    if "/sign-in" in page.url:
        assert_accessible(page)
        sign_in(page, address)
    assert page.url.endswith("/en/account")
    assert_accessible(page)

    page.get_by_role("button", name="Start an Express Entry profile").click()
    assert_accessible(page)
    task_list = urlsplit(page.url).path
    open_section(page, "en", "personal")
    press(page, "continue")  # an empty page: every question explained
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    answer_page(page, ANSWERS["personal"])
    answer_section(page, "en", "contact")

    # Half of the language page in English, then the switch to French: nothing typed is lost.
    open_section(page, "en", "languages")
    half = {name: ANSWERS["languages"][name] for name in ("test1", "s1r", "s1w")}
    fill(page, half)
    page.click("header .lang-toggle button")
    assert "/fr/compte/profils/" in page.url
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("form [name='s1r']").input_value() == "7.5"
    assert page.locator("form [name='s1w']").input_value() == "7"
    assert page.locator("form [name='test1'][value='ielts_general']").is_checked()
    assert_accessible(page)
    answer_page(page, ANSWERS["languages"])
    assert_accessible(page)

    # Leave halfway: save, sign out, close the browser.
    open_section(page, "fr", "education")
    fill(page, {"level": "bachelor"})
    press(page, "later")
    assert urlsplit(page.url).path == "/fr/compte"
    assert_accessible(page)
    page.get_by_role("button", name="Se déconnecter").click()
    assert_accessible(page)
    context.close()

    # Another day, another browser, in French ------------------------------------------------
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    french_task_list = task_list.replace("/en/account/profiles/", "/fr/compte/profils/")
    page.goto(server.base_url + french_task_list)  # a bookmark: sign in first, then straight back
    assert "/fr/compte/connexion" in page.url
    assert_accessible(page)
    sign_in(page, address)
    assert urlsplit(page.url).path == french_task_list
    assert_accessible(page)
    states = page.locator("ol.task-list .tag").all_inner_texts()
    assert [state.strip() for state in states[:4]] == ["Terminé", "Terminé", "Terminé", "En cours"]
    open_section(page, "fr", "education")
    assert page.locator("form [name='level'][value='bachelor']").is_checked()  # kept from day one
    answer_page(page, ANSWERS["education"])

    open_section(page, "fr", "work")
    page.click("main a[href$='/ajouter']")
    assert_accessible(page)
    fill(page, JOB)
    press(page, "continue")
    assert_accessible(page)  # the list of jobs
    press(page, "continue")
    for key in ("family", "funds", "nomination"):
        answer_section(page, "fr", key)

    page.get_by_role("link", name="Vérifier vos réponses et soumettre").click()
    assert_accessible(page)
    assert "Okafor" in page.content()
    page.get_by_role("button", name="Soumettre le profil").click()  # no declaration yet
    assert page.title().startswith("Erreur")
    assert_accessible(page)
    page.check("#declaration")
    page.get_by_role("button", name="Soumettre le profil").click()
    assert page.url.endswith("/confirmation")
    assert_accessible(page)
    number = page.locator(".reference").inner_text()
    assert re.fullmatch(r"HV-[0-9A-Z-]+", number), number

    page.get_by_role("link", name="Aller à votre compte").click()
    assert_accessible(page)
    row = page.locator("table tbody tr", has_text=number)
    assert row.count() == 1
    assert "Soumis" in row.inner_text()
    context.close()
