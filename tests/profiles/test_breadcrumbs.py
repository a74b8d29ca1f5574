"""Personal pages say where they are: a breadcrumb to the home page on the account pages, to the
account on a profile's task list, and to the profile itself on each of its inner pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from haven import settings as settings_module
from haven.app import create_app
from haven.surge.persona import SECTIONS
from tests.profiles.filling import start_profile
from tests.visitor import Visitor, started


@pytest.fixture
async def site(db_settings: settings_module.Settings) -> AsyncIterator[Visitor]:
    app = create_app(db_settings)
    async with started(app), Visitor.of(app, db_settings.mail_folder) as visitor:
        yield visitor


def trail(html: str) -> list[tuple[str, str]]:
    found = re.search(r'<nav class="breadcrumbs"[^>]*>(.*?)</nav>', html, re.S)
    assert found, "no breadcrumbs on this page"
    return [(title, href) for href, title in re.findall(r'<a href="([^"]+)">([^<]+)</a>', found.group(1))]


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_each_personal_page_has_its_trail(site: Visitor, lang: str) -> None:
    home, account = ("Home", "/en/account") if lang == "en" else ("Accueil", "/fr/compte")
    sign_in = "/en/account/sign-in" if lang == "en" else "/fr/compte/connexion"
    assert trail((await site.get(sign_in)).text) == [(home, f"/{lang}/")]
    await site.sign_up_and_in(f"crumbs-{lang}@example.org", lang=lang)
    assert trail((await site.get(account)).text) == [(home, f"/{lang}/")]
    task_list = await start_profile(site, lang)
    yours = "Your account" if lang == "en" else "Votre compte"
    assert trail((await site.get(task_list)).text) == [(home, f"/{lang}/"), (yours, account)]
    section = await site.get(f"{task_list}/{SECTIONS[lang]['personal']}")
    profile = "Your profile" if lang == "en" else "Votre profil"
    assert trail(section.text) == [(home, f"/{lang}/"), (yours, account), (profile, task_list)]
