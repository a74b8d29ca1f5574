from __future__ import annotations

import re
from pathlib import Path

import pytest

from haven.content.markdown import render_body
from haven.content.pages import PAGES_DIR, ContentError, load_library, parse_page

REQUIRED_KEYS = {
    "home", "immigrate", "express-entry", "federal-skilled-workers", "canadian-experience-class",
    "federal-skilled-trades", "provincial-nominees", "family-sponsorship", "study", "work", "visit",
    "refugees", "citizenship", "check-eligibility", "help", "cookies", "service-status",
}  # fmt: skip

NOWHERE: dict[str, str] = {}  # resolves no page key
GOOD = """---
key: {key}
title: A title
slug: {slug}
summary: A summary.
modified: 2026-11-27
---
Body text.
"""


def write(directory: Path, lang: str, key: str, text: str) -> Path:
    (directory / lang).mkdir(parents=True, exist_ok=True)
    path = directory / lang / f"{key}.md"
    path.write_text(text)
    return path


def minimal_library(directory: Path) -> None:
    for lang in ("en", "fr"):
        write(directory, lang, "home", GOOD.format(key="home", slug='""'))


def test_every_required_page_exists_in_both_languages() -> None:
    library = load_library()
    for lang in ("en", "fr"):
        keys = {page.key for page in library.in_language(lang)}
        assert keys >= REQUIRED_KEYS


def test_slugs_are_lowercase_ascii_in_each_language_and_differ_where_the_words_do() -> None:
    library = load_library()
    for page in library.in_language("fr"):
        assert page.slug.isascii()
        assert page.slug == page.slug.lower()
    assert library.get("fr", "express-entry").slug == "immigrer/entree-express"
    assert library.get("en", "express-entry").slug == "immigrate/express-entry"


def test_pages_are_real_content_not_placeholders() -> None:
    library = load_library()
    for lang in ("en", "fr"):
        for page in library.in_language(lang):
            words = len(page.body.split())
            assert words >= 150, f"{page.source} has only {words} words"
            assert "lorem" not in page.body.lower()
            assert "TODO" not in page.body


def _prose(text: str) -> str:
    """Text without link targets, code or addresses, where typography rules apply."""
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"https?://\S+", "", text)


def test_french_pages_put_a_non_breaking_space_before_colons() -> None:
    for source in sorted((PAGES_DIR / "fr").glob("*.md")):
        body = _prose(source.read_text().split("\n---\n", 1)[1])
        for line_number, line in enumerate(body.splitlines(), start=1):
            if line.lstrip().startswith("|"):
                continue  # table rows: colons there are alignment markers
            for match in re.finditer(r"(.):", line):
                assert match.group(1) in "\u00a0\u202f", (
                    f"{source.name} body line {line_number}: '{match.group(0)}' needs a "
                    "non-breaking space before the colon"
                )


def test_a_missing_front_matter_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "en", "study", "---\nkey: study\ntitle: Study\nslug: study\n---\nx\n")
    with pytest.raises(ContentError, match="lacks summary, modified"):
        parse_page(path, "en")


@pytest.mark.parametrize("slug", ["Study", "étudier", "study/", "study now", "-study"])
def test_a_slug_that_is_not_lowercase_ascii_words_is_refused(tmp_path: Path, slug: str) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="study", slug=f'"{slug}"'))
    with pytest.raises(ContentError, match="'slug' must be lowercase ASCII"):
        parse_page(path, "en")


def test_the_key_must_match_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="work", slug="study"))
    with pytest.raises(ContentError, match="must equal the file name"):
        parse_page(path, "en")


def test_a_page_without_its_translation_stops_loading(tmp_path: Path) -> None:
    minimal_library(tmp_path)
    write(tmp_path, "en", "study", GOOD.format(key="study", slug="study"))
    with pytest.raises(ContentError, match="has no fr translation"):
        load_library(tmp_path)


def test_two_pages_with_one_slug_stop_loading(tmp_path: Path) -> None:
    minimal_library(tmp_path)
    for key in ("study", "work"):
        for lang in ("en", "fr"):
            write(tmp_path, lang, key, GOOD.format(key=key, slug="same"))
    with pytest.raises(ContentError, match="already used"):
        load_library(tmp_path)


def test_children_must_name_existing_pages(tmp_path: Path) -> None:
    minimal_library(tmp_path)
    text = GOOD.format(key="study", slug="study").replace("---\nBody", "children: [nowhere]\n---\nBody")
    for lang in ("en", "fr"):
        write(tmp_path, lang, "study", text)
    with pytest.raises(ContentError, match="unknown page 'nowhere'"):
        load_library(tmp_path)


def test_links_resolve_by_key_and_unknown_keys_stop_rendering(tmp_path: Path) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="study", slug="study"))
    page = parse_page(path, "en")
    good = page.__class__(**{**page.__dict__, "body": "[Work](page:work) and [x](https://x.ca)"})
    html = render_body(good, {"work": "/en/work"}.get, "Table")
    assert '<a href="/en/work">Work</a>' in html
    bad = page.__class__(**{**page.__dict__, "body": "[Gone](page:gone)"})
    with pytest.raises(ContentError, match="unknown page 'page:gone'"):
        render_body(bad, {"work": "/en/work"}.get, "Table")


@pytest.mark.parametrize("href", ["/en/work", "http://insecure.example", "ftp://files.example"])
def test_links_must_be_page_keys_https_or_mailto(tmp_path: Path, href: str) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="study", slug="study"))
    page = parse_page(path, "en")
    page = page.__class__(**{**page.__dict__, "body": f"[x]({href})"})
    with pytest.raises(ContentError):
        render_body(page, NOWHERE.get, "Table")


def test_a_script_link_never_becomes_a_link(tmp_path: Path) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="study", slug="study"))
    page = parse_page(path, "en")
    page = page.__class__(**{**page.__dict__, "body": "[x](javascript:alert(1))"})
    html = render_body(page, NOWHERE.get, "Table")
    assert html == "<p>[x](javascript:alert(1))</p>\n"  # left as the text it was, not a link


def test_raw_html_is_escaped_and_h1_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "en", "study", GOOD.format(key="study", slug="study"))
    page = parse_page(path, "en")
    escaped = page.__class__(**{**page.__dict__, "body": "<script>alert(1)</script>"})
    assert render_body(escaped, NOWHERE.get, "Table") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    titled = page.__class__(**{**page.__dict__, "body": "# Another title"})
    with pytest.raises(ContentError, match="start sections at '##'"):
        render_body(titled, NOWHERE.get, "Table")
