"""Where the report form lives, in each language."""

from __future__ import annotations

from typing import Final

from haven.web.i18n import Language

PATHS: Final[dict[str, dict[Language, str]]] = {
    "report": {"en": "/en/report-a-problem", "fr": "/fr/signaler-un-probleme"},
    "thanks": {"en": "/en/report-a-problem/thank-you", "fr": "/fr/signaler-un-probleme/merci"},
}


def path(name: str, lang: Language) -> str:
    return PATHS[name][lang]
