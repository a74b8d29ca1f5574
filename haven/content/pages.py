"""Content pages as data: Markdown files with front matter, read and checked once at start-up.

A mistake in a page (a missing field, a slug in the wrong form, a link to a page that does not exist, a
page without its translation) stops start-up with the file and the field named: a content error is found
by the editor who made it, never by a reader.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from haven.web.i18n import LANGUAGES, OTHER, Language

PAGES_DIR: Final = Path(__file__).resolve().parent / "pages"
TEMPLATES: Final = frozenset(("page", "home", "start", "contact"))
SLUG_PATTERN: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*")
KEY_PATTERN: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
REQUIRED: Final = ("key", "title", "slug", "summary", "modified")


class ContentError(ValueError):
    """A content file Haven cannot publish; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Page:
    key: str
    lang: Language
    title: str
    slug: str
    summary: str
    modified: dt.date
    template: str
    children: tuple[str, ...]
    tasks: tuple[str, ...]
    body: str
    source: Path

    @property
    def path(self) -> str:
        """The page's URL path: ``/en/`` for the home page, ``/en/immigrate`` otherwise."""
        return f"/{self.lang}/{self.slug}" if self.slug else f"/{self.lang}/"

    @property
    def parent_slug(self) -> str | None:
        if not self.slug:
            return None
        return self.slug.rpartition("/")[0]


@dataclass(frozen=True)
class Library:
    """Every page in both languages, indexed by language and key and by URL path."""

    pages: Mapping[tuple[Language, str], Page]

    def get(self, lang: Language, key: str) -> Page:
        return self.pages[(lang, key)]

    def in_language(self, lang: Language) -> list[Page]:
        return [page for (page_lang, _), page in sorted(self.pages.items()) if page_lang == lang]

    def translation(self, page: Page) -> Page:
        return self.pages[(OTHER[page.lang], page.key)]

    def by_slug(self, lang: Language, slug: str) -> Page | None:
        for page in self.in_language(lang):
            if page.slug == slug:
                return page
        return None

    def breadcrumbs(self, page: Page) -> list[Page]:
        """The pages above this one, from the home page down (the page itself excluded)."""
        trail: list[Page] = []
        slug = page.parent_slug
        while slug is not None:
            parent = self.by_slug(page.lang, slug)
            if parent is not None:
                trail.append(parent)
            slug = None if slug == "" else slug.rpartition("/")[0]
        return list(reversed(trail))


def split_front_matter(text: str, source: Path) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        raise ContentError(f"{source}: must start with front matter between '---' lines")
    end = text.find("\n---\n", 4)
    if end == -1:
        raise ContentError(f"{source}: front matter has no closing '---' line")
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError as error:
        raise ContentError(f"{source}: front matter is not valid YAML: {error}") from None
    if not isinstance(meta, dict):
        raise ContentError(f"{source}: front matter must be a mapping of fields")
    return meta, text[end + 5 :]


def _string(meta: Mapping[str, Any], field: str, source: Path) -> str:
    value = meta.get(field)
    if not isinstance(value, str) or (field != "slug" and not value.strip()):
        raise ContentError(f"{source}: '{field}' must be a non-empty text")
    return value.strip()


def _keys(meta: Mapping[str, Any], field: str, source: Path) -> tuple[str, ...]:
    value = meta.get(field, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ContentError(f"{source}: '{field}' must be a list of page keys")
    return tuple(value)


def parse_page(source: Path, lang: Language) -> Page:
    meta, body = split_front_matter(source.read_text(encoding="utf-8"), source)
    missing = [field for field in REQUIRED if field not in meta]
    if missing:
        raise ContentError(f"{source}: front matter lacks {', '.join(missing)}")
    unknown = set(meta) - {*REQUIRED, "template", "children", "tasks"}
    if unknown:
        raise ContentError(f"{source}: unknown front matter field(s) {', '.join(sorted(unknown))}")
    key = _string(meta, "key", source)
    if key != source.stem or not KEY_PATTERN.fullmatch(key):
        raise ContentError(f"{source}: 'key' must equal the file name ({source.stem!r})")
    slug = _string(meta, "slug", source)
    if slug and not SLUG_PATTERN.fullmatch(slug):
        raise ContentError(
            f"{source}: 'slug' must be lowercase ASCII words joined by hyphens, e.g. 'study' "
            f"or 'immigrate/express-entry' (got {slug!r})"
        )
    modified = meta["modified"]
    if not isinstance(modified, dt.date) or isinstance(modified, dt.datetime):
        raise ContentError(f"{source}: 'modified' must be a date written as YYYY-MM-DD")
    template = meta.get("template", "page")
    if template not in TEMPLATES:
        raise ContentError(f"{source}: 'template' must be one of {', '.join(sorted(TEMPLATES))}")
    return Page(
        key=key,
        lang=lang,
        title=_string(meta, "title", source),
        slug=slug,
        summary=_string(meta, "summary", source),
        modified=modified,
        template=template,
        children=_keys(meta, "children", source),
        tasks=_keys(meta, "tasks", source),
        body=body,
        source=source,
    )


def load_library(pages_dir: Path = PAGES_DIR) -> Library:
    pages: dict[tuple[Language, str], Page] = {}
    for lang in LANGUAGES:
        for source in sorted((pages_dir / lang).glob("*.md")):
            page = parse_page(source, lang)
            pages[(lang, page.key)] = page
    library = Library(pages)
    check_library(library)
    return library


def check_library(library: Library) -> None:
    """Every page has its translation, slugs are unique per language, and references resolve."""
    keys = {lang: {key for (page_lang, key) in library.pages if page_lang == lang} for lang in LANGUAGES}
    for lang in LANGUAGES:
        for key in sorted(keys[lang] - keys[OTHER[lang]]):
            source = library.get(lang, key).source
            raise ContentError(f"{source}: has no {OTHER[lang]} translation ({OTHER[lang]}/{key}.md)")
        seen: dict[str, Page] = {}
        for page in library.in_language(lang):
            if page.slug in seen:
                raise ContentError(
                    f"{page.source}: slug {page.slug!r} is already used by {seen[page.slug].source}"
                )
            seen[page.slug] = page
            _check_references(page, page.children, keys[lang], "children")
            _check_references(page, page.tasks, keys[lang], "tasks")
            if page.template != library.translation(page).template:
                raise ContentError(f"{page.source}: its translation uses another template")
    for lang in LANGUAGES:
        if "home" not in keys[lang] or library.get(lang, "home").slug != "":
            raise ContentError(f"{PAGES_DIR / lang}: needs home.md with an empty slug")


def _check_references(page: Page, refs: Iterable[str], known: set[str], field: str) -> None:
    for ref in refs:
        if ref not in known:
            raise ContentError(f"{page.source}: '{field}' names an unknown page {ref!r}")
