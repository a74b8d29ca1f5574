"""The live service status page: the room's state, the people in line and the present wait, in both
languages, finished once a tick and served public for a second, without a cookie."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from haven.app import Haven
from haven.shield.public import PublicState, Status
from haven.shield.status_page import CACHE_CONTROL, STATUS_PAGE_PATHS, StatusPages
from haven.web.i18n import LANGUAGES, Language
from tests.html import elements, parse
from tests.shield.gate_kit import browser, gated, steer, tick

COMPUTED_AT = 1796227200.123  # 2026-12-02 16:00:00.123 UTC: 11:00:00 in Ottawa
PATHS: dict[Language, str] = {lang: path for path, lang in STATUS_PAGE_PATHS.items()}


def public_state(status: Status = "queueing", **changes: object) -> PublicState:
    state = PublicState(
        room="main",
        status=status,
        mode="auto",
        queueing=status in ("queueing", "paused", "before-opening"),
        serving=12000,
        issued=24345,
        waiting=12345,
        speed=41.5,
        speed_low=30.0,
        speed_high=52.0,
        no_show=0.1,
        tick_seconds=1.0,
        place_kept_seconds=600,
        opens_at=None,
        computed_at=COMPUTED_AT,
    )
    return replace(state, **changes)  # type: ignore[arg-type]  # the fields' own types, by name


@pytest.fixture
def pages(app: Haven) -> StatusPages:
    contexts = {lang: app.site.live_pages[(lang, "service-status")] for lang in LANGUAGES}
    return StatusPages(app.site.renderer, contexts)


def figures(pages: StatusPages, lang: Language) -> dict[str, str]:
    """The figures of the page in ``lang`` as a reader sees them (the text of each ``dd``)."""
    html = pages.responses[PATHS[lang]].body.decode()
    found: dict[str, str] = {}
    for name in ("waiting", "wait", "kept", "updated"):
        match = re.search(rf'data-figure="{name}">(.*?)</dd>', html, re.S)
        assert match, name
        found[name] = "".join(parse(match.group(1)).text).strip()
    label = re.search(r'class="service-state__label"><strong>(.*?)</strong>', html)
    assert label
    found["label"] = label.group(1)
    return found


def test_a_queue_shows_its_length_and_the_wait_of_someone_arriving_now(pages: StatusPages) -> None:
    pages.update(public_state("queueing"))
    # 12,345 ahead: 12,345 / 52 s = 4 minutes at the fast end, 12,345 / 30 + 1 s = 7 at the slow.
    assert figures(pages, "en") == {
        "label": "Busy: waiting room open",
        "waiting": "12,345",
        "wait": "between 4 minutes and 7 minutes",
        "kept": "10 minutes",
        "updated": "11:00:00 (Ottawa time)",
    }
    assert figures(pages, "fr") == {
        "label": "Achalandé\u00a0: salle d’attente ouverte",
        "waiting": "12\u00a0345",
        "wait": "entre 4 minutes et 7 minutes",
        "kept": "10 minutes",
        "updated": "11 h 00 min 00 s (heure d’Ottawa)",
    }
    html = pages.responses["/en/service-status"].body.decode()
    assert '<time datetime="2026-12-02T16:00:00+00:00">' in html


@pytest.mark.parametrize(
    ("status", "english", "french"),
    [
        ("normal", "Normal", "Normal"),
        ("busy", "Busy", "Achalandé"),
        ("queueing", "Busy: waiting room open", "Achalandé\u00a0: salle d’attente ouverte"),
        ("paused", "Paused: waiting room open", "En pause\u00a0: salle d’attente ouverte"),
        ("before-opening", "Opening soon", "Ouverture prochaine"),
    ],
)
def test_each_state_has_its_name_in_both_languages(
    pages: StatusPages, status: Status, english: str, french: str
) -> None:
    pages.update(public_state(status))
    assert figures(pages, "en")["label"] == english
    assert figures(pages, "fr")["label"] == french
    for lang in LANGUAGES:
        html = pages.responses[PATHS[lang]].body.decode()
        assert f"service-state--{status}" in html
        assert "HAVENMARK" not in html


def test_no_queue_means_no_wait(pages: StatusPages) -> None:
    pages.update(public_state("normal", waiting=0, serving=24345, queueing=False))
    assert figures(pages, "en")["waiting"] == "0"
    assert figures(pages, "en")["wait"] == "No wait"
    assert figures(pages, "fr")["wait"] == "Aucune attente"


def test_a_paused_line_has_no_estimate(pages: StatusPages) -> None:
    pages.update(public_state("paused", speed=0.0, speed_low=0.0, speed_high=0.0))
    assert figures(pages, "en")["wait"] == "Cannot be estimated: the queue is not moving"
    assert figures(pages, "fr")["wait"] == "Impossible à estimer\u00a0: la file n’avance pas"


def test_a_short_line_says_about_one_wait(pages: StatusPages) -> None:
    pages.update(public_state("queueing", waiting=10, speed_low=1.0, speed_high=2.0))
    # 10 / 2 = 5 s and 10 / 1 + 1 = 11 s: both a minute at most.
    assert figures(pages, "en")["wait"] == "about 1 minute"
    assert figures(pages, "fr")["wait"] == "environ 1 minute"


def test_a_scheduled_opening_says_when(pages: StatusPages) -> None:
    pages.update(public_state("before-opening", opens_at=COMPUTED_AT + 3600 - 0.123, speed_low=0.0))
    english = pages.responses["/en/service-status"].body.decode()
    french = pages.responses["/fr/etat-service"].body.decode()
    assert "The service opens at 12:00, Ottawa time." in english
    assert "Le service ouvre à 12 h 00, heure d’Ottawa." in french


def test_before_the_first_tick_the_page_says_it_does_not_know_yet(pages: StatusPages) -> None:
    pages.update(None)
    assert figures(pages, "en")["label"] == "Not known yet"
    assert figures(pages, "en")["waiting"] == "–"
    assert figures(pages, "fr")["label"] == "Pas encore connu"


def test_the_figures_change_with_the_state_and_so_does_the_etag(pages: StatusPages) -> None:
    pages.update(public_state("queueing"))
    first = pages.responses["/en/service-status"]
    pages.update(public_state("queueing", waiting=12346, issued=24346))
    second = pages.responses["/en/service-status"]
    assert figures(pages, "en")["waiting"] == "12,346"
    assert first.plain.etag != second.plain.etag
    pages.update(public_state("queueing", waiting=12346, issued=24346))
    assert pages.responses["/en/service-status"].plain.etag == second.plain.etag  # same tick, same bytes


# Through the app ---------------------------------------------------------------------------------


@pytest.fixture
def haven(app: Haven, tmp_path: Path) -> Haven:
    return gated(app, tmp_path / "var")


async def test_the_page_shows_the_room_as_it_is_public_and_cookie_free(haven: Haven) -> None:
    await steer(haven, action="pause")
    async with browser(haven) as visitor:
        for _ in range(3):
            visitor.cookies.clear()
            assert (await visitor.get("/en/account/sign-up")).status_code == 503  # three in line
    await tick(haven)
    async with browser(haven) as reader:
        answer = await reader.get("/en/service-status", headers={"accept-encoding": "identity"})
        french = await reader.get("/fr/etat-service")
        again = await reader.get(
            "/en/service-status",
            headers={"if-none-match": answer.headers["etag"], "accept-encoding": "identity"},
        )
        head = await reader.head("/en/service-status")
        post = await reader.post("/en/service-status")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == CACHE_CONTROL == "public, max-age=1"
    assert answer.headers["etag"].startswith('"')
    assert "set-cookie" not in answer.headers
    assert "set-cookie" not in french.headers
    html = answer.text
    assert "Paused: waiting room open" in html
    assert re.search(r'data-figure="waiting">3</dd>', html)
    assert "Cannot be estimated: the queue is not moving" in html
    assert elements(html, "a", hreflang="fr")[0]["href"] == "/fr/etat-service"  # the language toggle
    assert "/en/service-status" in [link["href"] for link in elements(html, "a")]  # the footer
    assert "En pause\u00a0: salle d’attente ouverte" in french.text
    assert again.status_code == 304
    assert head.status_code == 200
    assert head.content == b""
    assert post.status_code == 405


async def test_the_page_is_live_not_finished_nor_exported(haven: Haven) -> None:
    site = haven.site
    for path in STATUS_PAGE_PATHS:
        assert path not in site.responses
        assert path.lstrip("/") + ".html" not in site.files
        assert f"{site.base_url}{path}</loc>" in site.responses["/sitemap.xml"].body.decode()


async def test_without_the_shield_the_page_says_there_is_no_waiting_room(app: Haven, tmp_path: Path) -> None:
    unshielded = gated(app, tmp_path / "var", HAVEN_SHIELD="false")
    transport = httpx.ASGITransport(app=unshielded)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        english = await client.get("/en/service-status")
        french = await client.get("/fr/etat-service")
    assert english.status_code == 200
    assert "No waiting room" in english.text
    assert "Aucune salle d’attente" in french.text
    assert "set-cookie" not in english.headers
