"""Jinja2 templates, one environment per language with its catalog installed.

Feature packages keep their templates in their own ``templates/`` folder; the shared layout lives in
``haven/templates``. Templates are rendered at start-up for public pages and per request for personal ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

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
