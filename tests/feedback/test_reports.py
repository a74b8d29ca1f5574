"""'Report a problem with this page': the footer's link on every page, the form filled in with the
page a person came from (its path only), what they wrote stored once, bad input refused with a
field's message and nothing stored, the reports read in the console and deleted after a year."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import pyotp
import pytest
from sqlalchemy import Row, func, select, update

from haven import settings as settings_module
from haven.app import Haven, create_app
from haven.feedback.models import ProblemReport
from haven.retention import prune
from tests.visitor import Visitor, csrf_of, started

REPORT = {"en": "/en/report-a-problem", "fr": "/fr/signaler-un-probleme"}


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
async def app(db_settings: settings_module.Settings) -> AsyncIterator[Haven]:
    haven = create_app(db_settings)
    async with started(haven):
        yield haven


@pytest.fixture
async def visitor(app: Haven) -> AsyncIterator[Visitor]:
    async with Visitor.of(app, app.settings.mail_folder) as browser:
        yield browser


async def reports(app: Haven) -> list[Row[Any]]:
    found, _ = await app.services.reports.latest()
    return found


@pytest.mark.parametrize(("lang", "page"), [("en", "/en/study"), ("fr", "/fr/etudier")])
async def test_every_page_links_to_the_form_which_knows_the_page(
    visitor: Visitor, lang: str, page: str
) -> None:
    content = await visitor.get(page)
    assert f'href="{REPORT[lang]}"' in content.text
    form = await visitor.client.get(REPORT[lang], headers={"referer": f"http://haven.test{page}?age=29#top"})
    assert form.status_code == 200
    assert f'<html lang="{lang}">' in form.text
    assert (
        f'name="page" type="text" spellcheck="false" aria-describedby="page-hint" value="{page}"' in form.text
    )
    elsewhere = await visitor.client.get(REPORT[lang], headers={"referer": "https://example.com/en/study"})
    assert 'aria-describedby="page-hint" value=""' in elsewhere.text


async def test_a_report_is_stored_once_without_the_pages_query(app: Haven, visitor: Visitor) -> None:
    source = await visitor.get(REPORT["en"])
    sent = await visitor.client.post(
        REPORT["en"],
        data={
            "csrf": csrf_of(source.text),
            "page": "/en/crs-calculator?age=29&spouse=no",
            "text": "The table is cut off.",
        },
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/en/report-a-problem/thank-you"
    thanks = await visitor.get(sent.headers["location"])
    assert "Your report is saved" in text(thanks.text)
    (stored,) = await reports(app)
    assert (stored.lang, stored.page, stored.text) == ("en", "/en/crs-calculator", "The table is cut off.")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "Say what went wrong"),
        ("   ", "Say what went wrong"),
        ("x" * 2001, "Write 2,000 characters or fewer"),
    ],
)
async def test_bad_reports_say_why_keep_what_was_typed_and_store_nothing(
    app: Haven, visitor: Visitor, written: str, message: str
) -> None:
    answer = await visitor.submit(REPORT["en"], {"page": "/en/study", "text": written})
    assert answer.status_code == 422
    assert message in text(answer.text)
    assert 'href="#text"' in answer.text
    assert 'value="/en/study"' in answer.text
    assert await reports(app) == []


async def test_a_report_without_its_token_is_refused(app: Haven, visitor: Visitor) -> None:
    answer = await visitor.client.post(REPORT["fr"], data={"text": "Un problème."})
    assert answer.status_code == 403
    assert await reports(app) == []


async def test_a_report_in_french(app: Haven, visitor: Visitor) -> None:
    form = await visitor.get(REPORT["fr"])
    assert "Signaler un problème sur une page" in text(form.text)
    sent = await visitor.submit(REPORT["fr"], {"page": "/fr/etudier", "text": "Le lien est brisé."})
    assert sent.headers["location"] == "/fr/signaler-un-probleme/merci"
    (stored,) = await reports(app)
    assert stored.lang == "fr"


async def test_operators_read_the_reports_in_the_console(app: Haven, visitor: Visitor) -> None:
    await visitor.submit(REPORT["en"], {"page": "/en/study", "text": "A <b>broken</b> link\non two lines."})
    operator = await app.services.operators.add("rosa", "a long operator password")
    async with Visitor.of(app, app.settings.mail_folder) as console:
        signed = await console.submit(
            "/admin/en/sign-in",
            {
                "name": "rosa",
                "password": "a long operator password",
                "code": pyotp.TOTP(operator.secret).now(),
            },
        )
        assert signed.status_code == 303
        page = await console.get("/admin/en/problem-reports")
    assert page.status_code == 200
    assert "A &lt;b&gt;broken&lt;/b&gt; link\non two lines." in page.text  # escaped, lines kept
    assert '<a href="/en/study">/en/study</a>' in page.text
    assert (await visitor.get("/admin/en/problem-reports")).status_code == 303  # not for applicants


async def test_a_report_is_deleted_a_year_after_it_came(app: Haven, visitor: Visitor) -> None:
    for words in ("old", "young"):
        await visitor.submit(REPORT["en"], {"text": words})
    now = dt.datetime.now(dt.UTC)
    async with app.services.database.transaction() as session:
        await session.execute(
            update(ProblemReport)
            .where(ProblemReport.text == "old")
            .values(created_at=now - dt.timedelta(days=366))
        )
        await session.execute(
            update(ProblemReport)
            .where(ProblemReport.text == "young")
            .values(created_at=now - dt.timedelta(days=364))
        )
    counts = await prune(app.services.database, now)
    assert counts["problem_reports"] == 1
    async with app.services.database.transaction() as session:
        left = await session.scalars(select(ProblemReport.text))
        assert list(left) == ["young"]
        assert await session.scalar(select(func.count()).select_from(ProblemReport)) == 1
