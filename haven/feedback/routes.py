"""The report form in both languages: which page (filled in from where the person came), what went
wrong, and a thank-you page. Nothing else is asked: no name, no email address."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from haven.accounts.guard import PersonalPage, personal_page
from haven.checker.fields import FormError
from haven.feedback.paths import PATHS, path
from haven.feedback.service import MAX_TEXT, page_of, text_problem
from haven.web.i18n import LANGUAGES, N_

REPORT: Final = N_("Report a problem with a page")
THANKS: Final = N_("Thank you for telling us")
TEXT_MESSAGES: Final = {
    "empty": N_("Say what went wrong"),
    "long": N_("Write 2,000 characters or fewer"),
}


class ReportPage(PersonalPage):
    def render(self, template: str, title: str, name: str, **context: Any) -> Response:
        return self.render_with(PATHS, template, title, name, max_text=MAX_TEXT, **context)

    @property
    def host(self) -> str:
        return self.request.headers.get("host", "")


Page = Annotated[ReportPage, Depends(personal_page(ReportPage))]


async def report_form(page: Page) -> Response:
    asked = page.request.query_params.get("page") or page.request.headers.get("referer")
    about = page_of(asked, page.host)
    if about in PATHS["report"].values():  # the form itself (its language link, say)
        about = ""
    return page.render("feedback/report.html", REPORT, "report", values={"page": about}, errors=[])


async def report(page: Page) -> Response:
    form = await page.posted(path("report", page.lang))
    if isinstance(form, Response):
        return form
    text = form.get("text", "")
    about = page_of(form.get("page", ""), page.host)
    problem = text_problem(text)
    if problem is not None:
        error = FormError("text", page.gettext(TEXT_MESSAGES[problem]))
        values = {"page": about, "text": text[: MAX_TEXT * 2]}
        return page.render(
            "feedback/report.html", REPORT, "report", status=422, errors=[error], values=values
        )
    await page.app.reports.add(page.lang, about, text, page.app.clock.now())
    return page.redirect(path("thanks", page.lang))


async def thanks(page: Page) -> Response:
    return page.render("feedback/thanks.html", THANKS, "thanks")


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for name, method, handler in (
        ("report", "GET", report_form),
        ("report", "POST", report),
        ("thanks", "GET", thanks),
    ):
        for lang in LANGUAGES:
            router.add_api_route(PATHS[name][lang], handler, methods=[method])
    return router
