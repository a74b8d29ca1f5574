"""The French catalog covers every UI string, and nothing in it is left fuzzy or empty."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from haven.web.i18n import catalog_path, translations

ROOT = Path(__file__).resolve().parent.parent.parent
METHOD_MAP = [("haven/**.py", "python"), ("haven/**/templates/**.html", "jinja2")]
OPTIONS = {"haven/**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted_messages() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHOD_MAP, options_map=OPTIONS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def french_catalog() -> dict[str, tuple[str, bool]]:
    with catalog_path("fr").open("rb") as po:
        catalog = read_po(po, locale="fr")
    return {
        m.id: (m.string, m.fuzzy)
        for m in catalog
        if m.id and isinstance(m.id, str) and isinstance(m.string, str)
    }


def test_there_are_ui_strings_to_translate() -> None:
    assert len(extracted_messages()) > 20


def test_every_ui_string_has_a_french_translation() -> None:
    catalog = french_catalog()
    missing = sorted(m for m in extracted_messages() if not catalog.get(m, ("", False))[0])
    assert not missing, f"add French for these in messages.po (make i18n): {missing}"


def test_no_french_translation_is_fuzzy_or_stale() -> None:
    catalog = french_catalog()
    fuzzy = sorted(m for m, (_string, is_fuzzy) in catalog.items() if is_fuzzy)
    stale = sorted(set(catalog) - extracted_messages())
    assert not fuzzy, f"review these fuzzy entries: {fuzzy}"
    assert not stale, f"these are no longer used (make i18n removes them): {stale}"


def test_french_colons_follow_a_non_breaking_space() -> None:
    for message, (string, _fuzzy) in french_catalog().items():
        text = string.replace("https:", "")
        for index, char in enumerate(text):
            if char == ":":
                assert text[index - 1] in "\u00a0\u202f", f"{message!r} → {string!r}"


def test_the_catalog_is_used_at_runtime() -> None:
    assert translations("fr").gettext("Skip to main content") == "Passer au contenu principal"
    assert translations("en").gettext("Skip to main content") == "Skip to main content"


def test_translations_keep_every_placeholder() -> None:
    placeholder = re.compile(r"%\((\w+)\)s")
    for message, (string, _fuzzy) in french_catalog().items():
        assert set(placeholder.findall(message)) == set(placeholder.findall(string)), message
