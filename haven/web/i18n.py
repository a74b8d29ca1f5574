"""The two official languages: message catalogs for UI strings and the small helpers around them.

UI strings are English msgids translated through ``haven/locales/fr/LC_MESSAGES/messages.po``; the
catalog is compiled in memory at start-up, so no binary ``.mo`` file is ever committed or stale.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import unicodedata
from pathlib import Path
from typing import Final, Literal

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

Language = Literal["en", "fr"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "fr")
OTHER: Final[dict[Language, Language]] = {"en": "fr", "fr": "en"}
NAMES: Final[dict[Language, str]] = {"en": "English", "fr": "Français"}
LOCALES: Final[dict[Language, str]] = {"en": "en_CA", "fr": "fr_CA"}  # for dates and numbers

LOCALES_DIR: Final = Path(__file__).resolve().parent.parent / "locales"
DOMAIN: Final = "messages"


def N_(message: str) -> str:
    """Marks a msgid for extraction (``make i18n``) where it is defined; it is translated where shown."""
    return message


def long_date(day: dt.date, lang: Language) -> str:
    """A date written the one way each language writes it here: December 3, 2026; 3 décembre 2026."""
    return format_date(day, "long", locale=LOCALES[lang])


def fold(text: str) -> str:
    """Lower case, without accents: for matching and sorting words as people type them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def catalog_path(lang: Language) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: Language) -> gettext.NullTranslations:
    """English is the source language; French comes from its catalog (fuzzy entries are skipped)."""
    if lang == "en":
        return gettext.NullTranslations()
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def language_of(path: str) -> Language | None:
    """The language an address is in (``/en/…``, ``/fr/…``), or None (``/``, the API)."""
    for lang in LANGUAGES:
        if path == f"/{lang}" or path.startswith(f"/{lang}/"):
            return lang
    return None


def page_language(request: Request) -> Language:
    """The language of the page asked for, as a FastAPI dependency: a handler registered at both
    languages' addresses learns which one it is serving. Addresses outside both are English."""
    return language_of(request.url.path) or "en"
