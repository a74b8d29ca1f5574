"""Rounds of invitations end to end, over HTTP in both languages: profiles submitted through the pages,
a round run with ``haven rounds draw`` in a process of its own, the email and the status page of the
people invited, "not invited in this round" for the others, the public page and ``/api/v1/rounds``,
the cut-off beside a calculator's score, and an invitation accepted and one declined."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from haven import settings as settings_module
from haven.app import create_app
from haven.mail.outbox import deliver
from haven.surge.persona import CRS_ANSWERS
from haven.web.clock import FixedClock
from tests.conftest import TEST_SECRET
from tests.profiles.filling import fill_profile, start_profile
from tests.visitor import Visitor, hidden, started

DAY = dt.date(2026, 11, 27)
ROUND_AT = "2026-11-27T15:20:00+00:00"
CRS_CALCULATOR = "/en/immigrate/express-entry/crs-calculator"
ROUNDS_PAGE = {
    "en": "/en/immigrate/express-entry/rounds-of-invitations",
    "fr": "/fr/immigrer/entree-express/rondes-invitations",
}


def haven_command(settings: settings_module.Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HAVEN_VAR_DIR": str(settings.var_dir),
        "HAVEN_SECRET_KEY": TEST_SECRET,
        "HAVEN_DATABASE_URL": settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "haven", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def draw(settings: settings_module.Settings, *args: str) -> dict[str, Any]:
    done = haven_command(settings, "rounds", "draw", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
async def app_and_clock(db_settings: settings_module.Settings) -> AsyncIterator[tuple[Any, FixedClock]]:
    clock = FixedClock(DAY)
    app = create_app(db_settings, clock=clock)
    async with started(app):
        yield app, clock


async def submitted(
    browsers: AsyncExitStack,
    app: Any,
    clock: FixedClock,
    email: str,
    lang: str,
    moment: dt.datetime,
    **personal: str,
) -> tuple[Visitor, str]:
    """A person who signs up, fills in the persona's profile in ``lang`` and submits it at ``moment``;
    returns their browser (closed with ``browsers``) and their profile's page."""
    clock.moment = moment
    visitor = await browsers.enter_async_context(Visitor.of(app, app.services.settings.mail_folder))
    await visitor.sign_up_and_in(email, lang=lang)
    task_list = await start_profile(visitor, lang)
    await fill_profile(visitor, task_list, lang, personal=personal or None)
    check = "check-answers" if lang == "en" else "verifier-reponses"
    page = await visitor.get(f"{task_list}/{check}")
    response = await visitor.client.post(
        f"{task_list}/{'submit' if lang == 'en' else 'soumettre'}",
        data={
            "csrf": hidden(page.text, "csrf"),
            "submit_key": hidden(page.text, "submit_key"),
            "declaration": "yes",
        },
    )
    assert response.status_code == 303, response.text[:1000]
    return visitor, response.headers["location"]


async def test_a_round_run_from_the_command_line_reaches_everyone_in_their_language(
    app_and_clock: tuple[Any, FixedClock], db_settings: settings_module.Settings
) -> None:
    async with AsyncExitStack() as browsers:
        await one_round(browsers, *app_and_clock, db_settings)


async def one_round(
    browsers: AsyncExitStack, app: Any, clock: FixedClock, db_settings: settings_module.Settings
) -> None:
    base = dt.datetime(2026, 11, 27, 15, tzinfo=dt.UTC)
    ada, ada_page = await submitted(browsers, app, clock, "ada@example.org", "en", base)
    bea, bea_page = await submitted(
        browsers, app, clock, "bea@example.org", "fr", base + dt.timedelta(minutes=5)
    )
    # Born in 1990: 36 on the day, 38 fewer points than the others; not invited in a round of 2.
    cy, cy_page = await submitted(
        browsers,
        app,
        clock,
        "cy@example.org",
        "en",
        base + dt.timedelta(minutes=1),
        **{"dob-year": "1990", "dob-month": "1", "dob-day": "2"},
    )
    clock.moment = dt.datetime(2026, 11, 27, 15, 25, tzinfo=dt.UTC)  # within 30 minutes: still signed in

    # A dry run first: who would be invited, and nothing issued.
    preview = draw(db_settings, "--size", "2", "--at", ROUND_AT, "--id", "round-1", "--dry-run")
    assert preview["dry_run"]
    assert preview["invited"] == 2
    assert len(preview["would_invite"]) == 2
    result = draw(db_settings, "--size", "2", "--at", ROUND_AT, "--id", "round-1")
    for key in ("id", "kind", "size", "invited", "cutoff", "tie_break", "rules_version"):
        assert key in result, key
    assert (result["id"], result["kind"], result["size"], result["invited"]) == ("round-1", "general", 2, 2)
    assert result["cutoff"] == 429
    assert result["tie_break"] == "2026-11-27T15:05:00Z"  # Bea's submission: the last one invited
    again = draw(db_settings, "--size", "2", "--at", ROUND_AT, "--id", "round-1")
    assert again["already_run"]
    assert again["invited"] == 2
    listed = haven_command(db_settings, "rounds", "list")
    assert [entry["id"] for entry in json.loads(listed.stdout)] == ["round-1"]
    refused = haven_command(db_settings, "rounds", "draw", "--size", "5", "--program", "pgwp")
    assert refused.returncode == 2
    assert "program" in refused.stderr
    assert "Traceback" not in refused.stderr

    # The emails, each in its person's language.
    await deliver(app.services.database, app.services.mailer)
    mails = await ada.mails()
    invitations = [mail for mail in mails if "permanent" in mail.split("\n\n", 1)[0]]
    assert len(invitations) == 2
    english = next(mail for mail in invitations if "To: ada@example.org" in mail)
    french = next(mail for mail in invitations if "To: bea@example.org" in mail)
    assert "Subject: Haven: you are invited to apply for permanent residence" in english
    assert "CRS score of 429" in english
    assert "Subject: Haven\u00a0: " in french
    assert '<html lang="fr">' in french  # the HTML part too, in the person's language
    assert "Content-Language: fr" in french
    assert '<html lang="en">' in english
    assert ada_page in english

    # The status pages.
    ada_status = await ada.get(ada_page)
    assert ada_status.status_code == 200, ada_status.headers.get("location")
    assert "You are invited to apply for permanent residence" in ada_status.text
    assert "January 26, 2027" in ada_status.text  # 60 days after the round: the deadline
    bea_status = await bea.get(bea_page)
    assert bea_status.status_code == 200
    assert "invité" in bea_status.text
    await app.board.poll(app.services.rounds)  # what each worker does every few seconds
    cy_status = await cy.get(cy_page)
    assert "You were not invited in this round" in cy_status.text

    # The public pages and the document, both finished in memory and cacheable.
    for lang, path in ROUNDS_PAGE.items():
        page = await cy.get(path)
        assert page.status_code == 200
        assert page.headers["cache-control"].startswith("public")
        assert ">429<" in page.text
        assert ("November 27, 2026" if lang == "en" else "27 novembre 2026") in page.text
    document = await cy.get("/api/v1/rounds")
    assert document.json()["rounds"][0]["cutoff"] == 429
    assert document.headers["cache-control"].startswith("public")

    # A calculator's result sets the score beside the last cut-off.
    form = await cy.client.get(CRS_CALCULATOR, params={**CRS_ANSWERS, "go": "1"})
    assert form.status_code == 303
    crs_page = await cy.get(form.headers["location"])
    assert crs_page.status_code == 200, crs_page.status_code
    assert "invited people with a CRS score of 429 or more" in crs_page.text

    # Ada accepts: her application starts with its checklist; Bea declines, in French.
    answer = await ada.submit(f"{ada_page.rsplit('/', 1)[0]}/invitation", {"answer": "accept"}, page=ada_page)
    assert answer.status_code == 303
    checklist = await ada.get(answer.headers["location"])
    assert "Police certificates" in checklist.text
    assert "Proof of settlement funds" in checklist.text  # FSW: funds are needed
    saved = await ada.submit(answer.headers["location"], {"ready-passport": "yes"})
    assert "1 of" in saved.text
    assert 'aria-describedby="ready-passport-hint" checked' in saved.text
    declined = await bea.submit(
        f"{bea_page.rsplit('/', 1)[0]}/invitation", {"answer": "decline"}, page=bea_page
    )
    assert declined.status_code == 303
    back = await bea.get(bea_page)
    assert "bassin" in back.text
    home = await ada.get("/en/account")
    assert "Application started" in home.text
    nothing = await ada.submit(f"{ada_page.rsplit('/', 1)[0]}/invitation", {}, page="/en/account")
    assert nothing.status_code == 303  # already answered: the page says where things stand
