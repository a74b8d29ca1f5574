"""Jinja2 templates, one environment per language with its catalog installed, the bilingual page,
and what a page in the shared layout needs from the site (``Layout``).

Feature packages keep their templates in their own ``templates/`` folder; the shared layout lives in
``haven/templates``. Templates are rendered at start-up for public pages and per request for personal ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import jinja2

from haven.web.i18n import LANGUAGES, NAMES, OTHER, Language, translations

HAVEN_DIR: Final = Path(__file__).resolve().parent.parent
SHARED_TEMPLATES: Final = HAVEN_DIR / "templates"


def template_dirs() -> list[Path]:
    """The shared layout first, then every feature package's own ``templates/`` folder."""
    features = sorted(p for p in HAVEN_DIR.glob("*/templates") if p.is_dir())
    return [SHARED_TEMPLATES, *features]


class Renderer:
    """Renders templates in either language. ``globals`` are shared by every template (asset URLs,
    settings the pages show); each environment also knows its own ``lang``."""

    def __init__(self, globals_: Mapping[str, Any], dirs: Sequence[Path] | None = None) -> None:
        loader = jinja2.FileSystemLoader([str(d) for d in (dirs or template_dirs())])
        self._envs: dict[Language, jinja2.Environment] = {}
        for lang in LANGUAGES:
            env = jinja2.Environment(
                loader=loader,
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
            env.globals.update(globals_)
            env.globals.update(lang=lang, other_lang=OTHER[lang], language_names=NAMES)
            self._envs[lang] = env

    def environment(self, lang: Language) -> jinja2.Environment:
        return self._envs[lang]

    def render(self, name: str, lang: Language, **context: Any) -> str:
        return self._envs[lang].get_template(name).render(**context)

    def module(self, name: str, lang: Language, **context: Any) -> Any:
        """The template as a module: ``str(module)`` is its output, and the variables it ``set``s at
        top level (a title, say) are attributes."""
        return self._envs[lang].get_template(name).make_module(context)

    def gettext(self, lang: Language) -> Callable[[str], str]:
        return translations(lang).gettext


class Layout(Protocol):
    """What a page in the site's layout takes from the site besides its own content: the renderer and
    each language's chrome (the footer links). The site (``haven.content.site.Site``) is one; the
    layers that render pages (personal pages, the waiting room) take this rather than the site."""

    @property
    def renderer(self) -> Renderer: ...

    def chrome(self, lang: Language) -> dict[str, object]: ...


def render_bilingual(
    renderer: Renderer,
    column: str,
    *,
    page: str = "bilingual.html",
    column_context: Mapping[str, Any] | None = None,
    **context: Any,
) -> str:
    """A page with the same content in both languages, English left and French right: the column
    template ``bilingual/{column}.html`` is rendered once per language into ``page``."""
    columns = {
        lang: renderer.module(f"bilingual/{column}.html", lang, **(column_context or {}))
        for lang in LANGUAGES
    }
    chrome = {lang: renderer.module("bilingual/chrome.html", lang) for lang in LANGUAGES}
    defaults: dict[str, Any] = {"noindex": False, "description": "", "canonical": None, "alternates": {}}
    return renderer.render(page, "en", **{**defaults, **context, "columns": columns, "chrome": chrome})
