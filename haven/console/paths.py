"""Where the console's pages live: under ``/admin`` (which the stack sends past the waiting room),
in each language."""

from __future__ import annotations

from typing import Final

from haven.web.i18n import LANGUAGES, Language

PREFIX: Final = "/admin"
PATHS: Final[dict[str, dict[Language, str]]] = {
    "room": {"en": "/admin/en", "fr": "/admin/fr"},
    "figures": {"en": "/admin/en/figures", "fr": "/admin/fr/chiffres"},
    "controls": {"en": "/admin/en/controls", "fr": "/admin/fr/commandes"},
    "rounds": {"en": "/admin/en/rounds", "fr": "/admin/fr/rondes"},
    "audit": {"en": "/admin/en/audit-log", "fr": "/admin/fr/journal"},
    "reports": {"en": "/admin/en/problem-reports", "fr": "/admin/fr/signalements"},
    "sign_in": {"en": "/admin/en/sign-in", "fr": "/admin/fr/connexion"},
    "sign_out": {"en": "/admin/en/sign-out", "fr": "/admin/fr/deconnexion"},
}


def path(name: str, lang: Language) -> str:
    return PATHS[name][lang]


def language_of(address: str) -> Language:
    """The language of a console address (English for ``/admin`` itself)."""
    for lang in LANGUAGES:
        if address == f"{PREFIX}/{lang}" or address.startswith(f"{PREFIX}/{lang}/"):
            return lang
    return "en"


def is_console(address: str) -> bool:
    return address == PREFIX or address.startswith(PREFIX + "/")
