"""Markdown to HTML for content pages: CommonMark plus tables, raw HTML off, ``page:KEY`` links resolved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

from haven.content.pages import ContentError, Page

PAGE_SCHEME = "page:"


def _parser(table_label: str) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")

    # A wide table scrolls inside its own box instead of widening the page (reflow at 320 px); the box
    # is focusable and named so keyboard users can scroll it.
    def table_open(renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
        return f'<div class="table-scroll" role="region" tabindex="0" aria-label="{table_label}"><table>\n'

    def table_close(renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
        return "</table></div>\n"

    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    return md


def render_body(page: Page, resolve: Callable[[str], str | None], table_label: str) -> str:
    """The page's body as HTML. ``resolve`` maps a page key to its URL in the page's language."""
    md = _parser(table_label)
    tokens = md.parse(page.body)
    for token in _inline_children(tokens):
        if token.type != "link_open":
            continue
        href = str(token.attrs.get("href", ""))
        if href.startswith(PAGE_SCHEME):
            target = resolve(href.removeprefix(PAGE_SCHEME))
            if target is None:
                raise ContentError(f"{page.source}: links to an unknown page {href!r}")
            token.attrs["href"] = target
        elif not href.startswith(("https://", "mailto:", "#")):
            raise ContentError(
                f"{page.source}: link {href!r} must be page:KEY, an https:// address or mailto:"
            )
    for token in tokens:
        if token.type == "heading_open" and token.tag == "h1":
            raise ContentError(f"{page.source}: the title is the page's h1; start sections at '##'")
    html: str = md.renderer.render(tokens, md.options, {})
    return html


def _inline_children(tokens: Sequence[Token]) -> list[Token]:
    children: list[Token] = []
    for token in tokens:
        if token.children:
            children.extend(token.children)
    return children
