"""Where the email road lives, in each language: under the waiting room's own address, answered by
the waiting-room layer before admission (people waiting hold no pass)."""

from __future__ import annotations

from typing import Final

from haven.web.i18n import LANGUAGES, Language

PATHS: Final[dict[str, dict[Language, str]]] = {
    "form": {"en": "/en/waiting-room/email", "fr": "/fr/salle-d-attente/courriel"},
    "link": {"en": "/en/waiting-room/your-turn", "fr": "/fr/salle-d-attente/votre-tour"},
}
WAITING: Final[dict[Language, str]] = {"en": "/en/waiting-room", "fr": "/fr/salle-d-attente"}


def path(name: str, lang: Language) -> str:
    return PATHS[name][lang]


def link_path(lang: Language) -> str:
    return PATHS["link"][lang]


def every_path() -> dict[str, tuple[str, Language]]:
    """Each address, with the page it is and its language."""
    return {PATHS[name][lang]: (name, lang) for name in PATHS for lang in LANGUAGES}
