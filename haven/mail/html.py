"""The HTML part of Haven's emails, made from their plain text as they are sent: the same words, one
paragraph per blank-line-separated block, links clickable, in the message's language. Nothing is
fetched when it is opened (no images, fonts or style sheets from elsewhere) and nothing runs."""

from __future__ import annotations

import re
from html import escape
from typing import Final

# A link ends at a space, or at what cannot be part of one in Haven's letters; punctuation that
# closes a sentence (``sign in at https://…/account, or reset``) is left outside it.
LINK: Final = re.compile(r"https?://[^\s<>\"«»]+")
CLOSING: Final = ".,;:!?)]'’"

# Inline styles only: many mail readers drop <style> elements. A column of reading width that
# reflows down to 320 px, and long links (with their tokens) that wrap instead of widening it.
BODY_STYLE: Final = "margin:0;padding:0;background:#ffffff;color:#0b0c0c"
COLUMN_STYLE: Final = (
    "max-width:36em;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5"
)
PARAGRAPH_STYLE: Final = "margin:0 0 16px"
LINK_STYLE: Final = "color:#1d70b8;text-decoration:underline;overflow-wrap:anywhere;word-break:break-all"


def _with_links(text: str) -> str:
    """``text`` escaped, each link in it an ``<a>`` that shows the address it goes to."""
    out: list[str] = []
    position = 0
    for found in LINK.finditer(text):
        link = found.group(0).rstrip(CLOSING)
        end = found.start() + len(link)
        out.append(escape(text[position : found.start()]))
        shown = escape(link)
        out.append(f'<a href="{shown}" style="{LINK_STYLE}">{shown}</a>')
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def _paragraph(block: str) -> str:
    """One paragraph; its line breaks kept (an address, a signature)."""
    lines = "<br>\n".join(_with_links(line) for line in block.split("\n"))
    return f'<p style="{PARAGRAPH_STYLE}">{lines}</p>'


def html_body(text: str, subject: str, language: str) -> str:
    """The HTML twin of ``text``: a whole document whose ``lang`` is ``language``."""
    lang = "fr" if language == "fr" else "en"
    paragraphs = [block.strip("\n") for block in re.split(r"\n[ \t]*\n", text.strip()) if block.strip()]
    rendered = "\n".join(_paragraph(block) for block in paragraphs)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(subject)}</title>\n"
        "</head>\n"
        f'<body style="{BODY_STYLE}">\n'
        f'<div style="{COLUMN_STYLE}">\n'
        f"{rendered}\n"
        "</div>\n"
        "</body>\n"
        "</html>\n"
    )
