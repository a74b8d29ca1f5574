"""A complete, valid profile: filled in through the pages the way a person would, or made through
the services where the pages are not the point."""

from __future__ import annotations

from haven.surge.persona import ANSWERS, BASE, JOB, SECTIONS
from haven.web.cookies import SESSION_COOKIE
from haven.web.security import sign
from tests.profiles.crowd import PASSWORD, fill_through_the_service
from tests.visitor import Visitor, hidden


async def start_profile(visitor: Visitor, lang: str = "en") -> str:
    """Start a profile from the account page; returns its task list path."""
    home = await visitor.get("/en/account" if lang == "en" else "/fr/compte")
    response = await visitor.client.post(
        BASE[lang], data={"csrf": hidden(home.text, "csrf"), "create_key": hidden(home.text, "create_key")}
    )
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


async def fill_profile(
    visitor: Visitor, task_list: str, lang: str = "en", *, personal: dict[str, str] | None = None
) -> None:
    """The persona's answers, with ``personal`` instead of some of her personal details."""
    for key, answers in ANSWERS.items():
        path = f"{task_list}/{SECTIONS[lang][key]}"
        changed = (personal or {}) if key == "personal" else {}
        response = await visitor.submit(path, {**answers, **changed, "action": "continue"})
        assert response.status_code == 303, f"{key}: {response.status_code} {response.text[:2000]}"
    work = f"{task_list}/{SECTIONS[lang]['work']}"
    add = f"{work}/{'add' if lang == 'en' else 'ajouter'}"
    response = await visitor.submit(add, JOB)
    assert response.status_code == 303, response.text[:2000]
    response = await visitor.submit(work, {"action": "continue"})
    assert response.status_code == 303


async def unconfirmed_applicant(visitor: Visitor, email: str) -> str:
    """An account whose address was never confirmed, signed in in this visitor's browser, with the
    persona's complete draft; returns the draft's task list path."""
    app = visitor.app.services
    await app.accounts.sign_up(email, PASSWORD, "en")
    account, session_id = await app.accounts.sign_in(email, PASSWORD, "192.0.2.1")
    assert account.email_verified_at is None
    visitor.plant(SESSION_COOKIE, sign(session_id, app.settings.secret_key, SESSION_COOKIE))
    profile = await fill_through_the_service(app.profiles, account.id, app.clock)
    return f"{BASE['en']}/{profile.id}"
