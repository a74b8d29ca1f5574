"""Where the profile pages live, in each language: the one table the routes, the pages and the
links between them read."""

from __future__ import annotations

import uuid
from typing import Final

from haven.profiles.sections import Section
from haven.web.i18n import Language

BASE: Final[dict[Language, str]] = {"en": "/en/account/profiles", "fr": "/fr/compte/profils"}
SLUGS: Final[dict[str, dict[Language, str]]] = {
    "check": {"en": "check-answers", "fr": "verifier-reponses"},
    "submit": {"en": "submit", "fr": "soumettre"},
    "confirmation": {"en": "confirmation", "fr": "confirmation"},
    "add": {"en": "add", "fr": "ajouter"},
    "remove": {"en": "remove", "fr": "retirer"},
    "invitation": {"en": "invitation", "fr": "invitation"},
    "withdraw": {"en": "withdraw", "fr": "retirer-profil"},
    "application": {"en": "application", "fr": "demande"},
    "print": {"en": "print", "fr": "imprimer"},
}


def profile_path(lang: Language, profile_id: uuid.UUID, *rest: str) -> str:
    return "/".join([BASE[lang], str(profile_id), *rest])


def section_path(lang: Language, profile_id: uuid.UUID, section: Section, *rest: str) -> str:
    return profile_path(lang, profile_id, section.slugs[lang], *rest)
