"""The checker's addresses: the pages it serves (cookie-free, from the query-page cache) and the
links content pages may use to reach them (``page:crs-calculator`` and so on)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from haven.checker import wizard
from haven.checker.calculators import CALCULATORS, CalculatorPages
from haven.checker.views import PageMaker
from haven.checker.wizard_pages import WizardPages
from haven.content.site import Site
from haven.web.i18n import LANGUAGES, Language
from haven.web.querypages import QueryRoute


def links() -> dict[str, dict[Language, str]]:
    found: dict[str, dict[Language, str]] = {
        # The start page's "Start now" button leads to the first question.
        "check-eligibility": {lang: wizard.QUESTIONS[0].path(lang) for lang in LANGUAGES},
    }
    for calculator in CALCULATORS:
        found[calculator.key] = dict(calculator.paths)
    return found


def page_routes(
    site: Site, cutoffs: Callable[[Language], Sequence[Any]] | None = None
) -> dict[str, QueryRoute]:
    maker = PageMaker(site, cutoffs)
    return {**WizardPages(maker).routes(), **CalculatorPages(maker).routes()}
