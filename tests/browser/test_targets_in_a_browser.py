"""Keyboard and touch in a real browser, on a phone's width: every control a person presses is at
least 24 px each way (WCAG 2.2, 2.5.8), radios and checkboxes 40 px as GOV.UK's, and a radio
reached by the keyboard shows a strong focus ring (a dark outline in a yellow halo)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from haven.checker.wizard import QUESTIONS
from tests.server import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Controls, but not the links inside running text (2.5.8's "inline" exception).
SIZES = """() => [...document.querySelectorAll(
    'button, select, textarea, summary, input:not([type=hidden]), header a, nav a, a.button, .footer-report a'
  )].filter(e => e.offsetParent !== null).map(e => {
    const box = e.getBoundingClientRect();
    return {what: e.outerHTML.slice(0, 80), type: e.type || '', width: box.width, height: box.height};
  })"""


def small(found: list[dict[str, Any]], least: float) -> list[dict[str, Any]]:
    return [control for control in found if control["width"] < least or control["height"] < least]


@pytest.mark.parametrize(
    "path",
    [
        "/en/",
        "/fr/compte/connexion",
        "/en/report-a-problem",
        "/fr/immigrer/entree-express/trouver-code-cnp?q=infirmier",
        QUESTIONS[0].path("en"),
        QUESTIONS[1].path("fr"),
    ],
)
def test_every_control_is_large_enough_to_press(server: RunningServer, browser: Browser, path: str) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.goto(server.base_url + path)
    found: list[dict[str, Any]] = page.evaluate(SIZES)
    assert found, "no controls found"
    assert not small(found, 24), small(found, 24)
    choices = [control for control in found if control["type"] in ("radio", "checkbox")]
    assert not small(choices, 40), small(choices, 40)
    page.context.close()


def test_a_radio_reached_by_the_keyboard_shows_its_focus(server: RunningServer, browser: Browser) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.goto(server.base_url + QUESTIONS[0].path("en"))
    first = page.locator("input[type=radio]").first
    assert first.count() == 1, "the first question has radios"
    first.focus()
    page.keyboard.press("ArrowDown")  # moves the focus (and the choice) to the next radio, as a person does
    page.keyboard.press("ArrowUp")
    style = page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
           return {type: document.activeElement.type, outline: s.outlineStyle, width: s.outlineWidth,
                   shadow: s.boxShadow}; }"""
    )
    assert style["type"] == "radio"
    assert style["outline"] == "solid"
    assert style["width"] == "3px"
    assert "rgb(255, 212, 59)" in style["shadow"], style  # the yellow of every focus (--focus)
    page.context.close()
