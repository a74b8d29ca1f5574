"""The waiting page's own parts: the visitor's number and the words its script fills in, in the
page's language(s), and the personal status that carries the number too."""

from __future__ import annotations

import json

import pytest

from haven.app import Haven
from haven.shield.pages import View, WaitingPages, duration, script_words
from haven.web.i18n import translations
from tests.html import elements


@pytest.fixture
def pages(app: Haven) -> WaitingPages:
    return WaitingPages(app.site, ticket_ttl=600.0)


def regions(html: str) -> list[dict[str, str]]:
    return elements(html, "div", role="status")


def test_the_page_carries_the_visitors_number(pages: WaitingPages) -> None:
    first = pages.page("en", View("waiting", position=7, number=12007)).decode()
    second = pages.page("en", View("waiting", position=8, number=12008)).decode()  # the same skeleton
    assert [region["data-number"] for region in regions(first)] == ["12007"]
    assert [region["data-number"] for region in regions(second)] == ["12008"]
    assert regions(first)[0]["data-state-url"] == "/api/v1/waiting-room/state"
    assert regions(first)[0]["data-status-url"] == "/api/v1/waiting-room"


def test_before_a_draw_the_number_is_empty(pages: WaitingPages) -> None:
    html = pages.page("fr", View("before-opening", opens_at=1796227200.0)).decode()
    assert [region["data-number"] for region in regions(html)] == [""]


def test_the_bilingual_page_has_both_columns_with_their_own_words(pages: WaitingPages) -> None:
    html = pages.page(None, View("waiting", position=3, number=42)).decode()
    found = regions(html)
    assert [region["data-lang"] for region in found] == ["en", "fr"]
    assert [region["data-number"] for region in found] == ["42", "42"]
    english, french = (json.loads(region["data-words"]) for region in found)
    assert english["waiting"] == "Your place in the queue: {position}. Estimated wait: {eta}."
    assert french["waiting"] == "Votre place dans la file\u00a0: {position}. Attente estimée\u00a0: {eta}."
    assert english["between"] == "between {low} and {high}"
    assert french["between"] == "entre {low} et {high}"
    assert (english["group"], english["decimal"]) == (",", ".")
    assert (french["group"], french["decimal"]) == ("\u00a0", ",")


def test_the_scripts_words_are_the_pages_words_with_their_placeholders(app: Haven) -> None:
    for lang in ("en", "fr"):
        words = script_words(translations(lang).gettext, lang, 10)
        assert set(words) == {
            "waiting", "still", "between", "about", "minute", "minutes", "hours",
            "turn", "none", "lapsed", "group", "decimal",
        }  # fmt: skip
        assert "{position}" in words["waiting"]
        assert "{eta}" in words["waiting"]
        assert "{position}" in words["still"]
        assert "{time}" in words["about"]
        assert "{n}" in words["minutes"]
        assert "{n}" in words["hours"]
        assert "10" in words["lapsed"]  # the minutes a turn is kept, already filled in
        assert all(value for value in words.values())


def test_the_words_survive_the_html_attribute(pages: WaitingPages) -> None:
    """Quotes and apostrophes (French has many) must not break out of ``data-words``."""
    html = pages.page("fr", View("waiting", position=3, number=3)).decode()
    words = json.loads(regions(html)[0]["data-words"])
    assert words["lapsed"] == (
        "Votre tour est arrivé il y a plus de 10 minutes\u00a0: votre place a donc été libérée. "
        "Appuyez sur «\u00a0Vérifier votre place\u00a0» pour reprendre place dans la file."
    )
    assert words["about"] == "environ {time}"


def test_the_page_says_the_place_is_kept_when_it_is_closed(pages: WaitingPages) -> None:
    english = pages.page("en", View("waiting", position=3, number=3)).decode()
    french = pages.page("fr", View("waiting", position=3, number=3)).decode()
    assert "You can also close this page: your place is kept." in english
    assert "you have 10 minutes to come back to Haven and go in" in english
    assert "This page checks your place by itself" in english
    assert "Keep this page open" not in english
    assert "Vous pouvez aussi fermer cette page\u00a0: votre place est gardée." in french
    assert "vous avez 10 minutes pour revenir sur Haven et entrer" in french


def test_a_lapsed_place_says_why_and_how_to_join_again(pages: WaitingPages) -> None:
    html = pages.page("en", View("lapsed")).decode()
    assert "Your turn came more than 10 minutes ago" in html
    assert "Press “Check your place” to join the queue again." in html
    assert "was not checked" not in html  # no check-ins any more


def test_the_personal_status_carries_the_number(pages: WaitingPages) -> None:
    waiting = json.loads(pages.status(View("waiting", position=5, eta_low=10, eta_high=20, number=105), 1.0))
    assert waiting["number"] == 105
    assert waiting["position"] == 5
    unknown = json.loads(pages.status(View("before-opening", opens_at=1796227200.0), 0.0))
    assert unknown["number"] is None


@pytest.mark.parametrize(
    ("minutes", "english", "french"),
    [
        (1, "1 minute", "1 minute"),
        (89, "89 minutes", "89 minutes"),
        (90, "1.5 hours", "1,5 heures"),
        (120, "2 hours", "2 heures"),
        (135, "2.3 hours", "2,3 heures"),  # 2.25 h: halves go up, as in waiting.js
        (1500, "25 hours", "25 heures"),
    ],
)
def test_durations_are_written_as_the_script_writes_them(minutes: int, english: str, french: str) -> None:
    assert duration(minutes * 60, translations("en").gettext, "en") == english
    assert duration(minutes * 60, translations("fr").gettext, "fr") == french
