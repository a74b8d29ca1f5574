"""A complete, valid profile, filled in through the pages the way a person would."""

from __future__ import annotations

from haven.surge.persona import ANSWERS, BASE, JOB, SECTIONS
from tests.visitor import Visitor, hidden


async def start_profile(visitor: Visitor, lang: str = "en") -> str:
    """Start a profile from the account page; returns its task list path."""
    home = await visitor.get("/en/account" if lang == "en" else "/fr/compte")
    response = await visitor.client.post(
        BASE[lang], data={"csrf": hidden(home.text, "csrf"), "create_key": hidden(home.text, "create_key")}
    )
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


async def fill_profile(visitor: Visitor, task_list: str, lang: str = "en") -> None:
    for key, answers in ANSWERS.items():
        path = f"{task_list}/{SECTIONS[lang][key]}"
        response = await visitor.submit(path, {**answers, "action": "continue"})
        assert response.status_code == 303, f"{key}: {response.status_code} {response.text[:2000]}"
    work = f"{task_list}/{SECTIONS[lang]['work']}"
    add = f"{work}/{'add' if lang == 'en' else 'ajouter'}"
    response = await visitor.submit(add, JOB)
    assert response.status_code == 303, response.text[:2000]
    response = await visitor.submit(work, {"action": "continue"})
    assert response.status_code == 303
