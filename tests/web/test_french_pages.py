"""Every page in French speaks French: the content pages, every step of the eligibility check, the
calculators and their results, the rounds and status pages, the account pages and every page of a
profile, rendered and read as a person would read them. A page fails when it shows one of the English
catalogue's strings (a run of three words or more that French translates), or an English heading.

This sees what the catalogue test cannot: a string never marked for translation, shown as it is."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Final

import httpx
import pyotp
import pytest
from babel.messages.pofile import read_po

from haven import settings as settings_module
from haven.app import Haven, create_app
from haven.checker.wizard import QUESTIONS
from haven.surge.persona import CRS_ANSWERS, PERSONA, SECTIONS
from haven.web.i18n import catalog_path
from tests.checker.walk import walk
from tests.profiles.filling import fill_profile, start_profile
from tests.visitor import Visitor, hidden, started

PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}|%s")
TAG = re.compile(r"<[^>]+>")


def english_strings() -> tuple[set[str], set[str]]:
    """(runs of three words or more that French translates, whole msgids that French translates)."""
    with catalog_path("fr").open("rb") as po:
        catalog = read_po(po)
    runs: set[str] = set()
    whole: set[str] = set()
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or message.string == message.id:
            continue
        whole.add(message.id)
        for part in PLACEHOLDER.split(message.id):
            part = part.strip(" .,:;()–-\n")
            if len(part.split()) >= 3:
                runs.add(" ".join(part.split()))
    return runs, whole


RUNS, WHOLE = english_strings()


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<[^>]*\blang="en"[^>]*>.*?</[a-z]+>', " ", html)  # the toggle names English in English
    return " ".join(unescape(TAG.sub(" ", html)).replace("\u00a0", " ").split())


def headings(html: str) -> list[str]:
    return [
        " ".join(unescape(TAG.sub(" ", h)).split())
        for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", html, re.S)
    ]


def english_on(html: str, english: str | None = None) -> list[str]:
    """The English UI strings this French page shows; with ``english`` (the same page in English),
    also its headings that are the English page's, word for word (a string never marked for
    translation is in no catalogue)."""
    text = visible_text(html)
    found = sorted(run for run in RUNS if run in text)
    found += [heading for heading in headings(html) if heading in WHOLE]
    if english is not None:
        theirs = set(headings(english))
        found += [h for h in headings(html) if h in theirs and h not in SAME_IN_BOTH and h not in found]
    return found


# Headings that are the same words in both languages.
SAME_IN_BOTH: Final = frozenset({"Haven", "Transport", "Date", "Sources"})
TOGGLE: Final = re.compile(r'<a href="([^"]+)" lang="en" hreflang="en"')


def test_an_english_string_planted_in_a_french_page_is_found() -> None:
    page = (
        '<html lang="fr"><body><h1>Vos résultats</h1>'
        "<p>Select whether you accept or decline the invitation</p></body></html>"
    )
    assert english_on(page) == ["Select whether you accept or decline the invitation"]
    assert english_on("<h2>Your results</h2>") == ["Your results"]
    assert english_on("<h1>Vos résultats</h1><p>Une phrase en français.</p>") == []
    # Never marked for translation, so in no catalogue: the English page's heading gives it away.
    assert english_on("<h1>Check your items</h1>", "<h1>Check your items</h1>") == ["Check your items"]


@pytest.fixture
async def french_app(db_settings: settings_module.Settings) -> AsyncIterator[Haven]:
    app = create_app(db_settings)
    async with started(app):
        yield app


class Reader:
    """Keeps every French HTML page the client receives."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        path = response.url.path
        if path.startswith(("/fr", "/admin/fr")) and response.headers.get("content-type", "").startswith(
            "text/html"
        ):
            self.pages[str(response.url)] = response.text


async def test_every_french_page_is_in_french(
    french_app: Haven, db_settings: settings_module.Settings
) -> None:
    reader = Reader()
    transport = httpx.ASGITransport(app=french_app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://haven.test", event_hooks={"response": [reader]}
    ) as client:
        for path in sorted(french_app.site.responses):
            if path.startswith("/fr/"):
                await client.get(path)
        await walk(client, QUESTIONS[0].path("fr"), PERSONA)
        for calculator, answers in (("/fr/immigrer/entree-express/calculateur-scg", CRS_ANSWERS),):
            await client.get(calculator)
            form = await client.get(calculator, params={**answers, "go": "1"})
            await client.get(form.headers["location"])
        for path in (
            "/fr/compte/inscription",
            "/fr/compte/connexion",
            "/fr/compte/mot-de-passe-oublie",
            "/fr/signaler-un-probleme",
            "/fr/signaler-un-probleme/merci",
            "/fr/compte/connexion?next=/fr/compte&ended=held",
            "/fr/compte/connexion?next=/fr/compte&ended=1",
            "/fr/immigrer/entree-express/trouver-code-cnp",
            "/fr/immigrer/entree-express/trouver-code-cnp?q=infirmier",
            "/fr/immigrer/entree-express/trouver-code-cnp?q=zzqx",
        ):
            await client.get(path)
        # Each public French page beside its English twin (its language link).
        twins: dict[str, str] = {}
        for url, html in list(reader.pages.items()):
            link = TOGGLE.search(html)
            if link is not None:
                twins[url] = (await client.get(unescape(link.group(1)))).text
    async with Visitor.of(french_app, db_settings.mail_folder) as visitor:
        visitor.client.event_hooks["response"] = [reader]
        await visitor.sign_up_and_in("francine@example.org", lang="fr")
        task_list = await start_profile(visitor, "fr")
        await visitor.get(task_list)
        for slug in SECTIONS["fr"].values():
            await visitor.get(f"{task_list}/{slug}")
        await visitor.get(f"{task_list}/{SECTIONS['fr']['work']}/ajouter")
        await fill_profile(visitor, task_list, "fr")
        check = await visitor.get(f"{task_list}/verifier-reponses")
        submitted = await visitor.client.post(
            f"{task_list}/soumettre",
            data={
                "csrf": hidden(check.text, "csrf"),
                "submit_key": hidden(check.text, "submit_key"),
                "declaration": "yes",
            },
        )
        await visitor.get(submitted.headers["location"])
        await visitor.get(f"{task_list}/imprimer")
    # The operators' console: signing in, the room, a control's confirmation and the audit log.
    operator = await french_app.services.operators.add("rosa", "a long operator password")
    async with Visitor.of(french_app, db_settings.mail_folder) as visitor:
        visitor.client.event_hooks["response"] = [reader]
        code = pyotp.TOTP(operator.secret).now()
        fields = {"name": "rosa", "password": "a long operator password", "code": code}
        assert (await visitor.submit("/admin/fr/connexion", fields)).status_code == 303
        for action in ("pause", "rate"):
            await visitor.submit("/admin/fr/commandes", {"action": action, "rate": "2"}, page="/admin/fr")
        await visitor.submit("/admin/fr/commandes", {"action": "rate", "rate": "beaucoup"}, page="/admin/fr")
        await visitor.get("/admin/fr/journal")
    assert any("/admin/fr/commandes" in url for url in reader.pages)
    for seen in ("/imprimer", "/confirmation", "trouver-code-cnp?q=infirmier", "ended=held", "/ajouter"):
        assert any(seen in url for url in reader.pages), seen
    assert len(reader.pages) > 40, sorted(reader.pages)
    problems = {
        url: found for url, html in reader.pages.items() if (found := english_on(html, twins.get(url)))
    }
    assert len(twins) > 30
    assert not problems, problems
