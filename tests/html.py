"""A small HTML reader for tests: the attributes of elements, without a third-party parser."""

from __future__ import annotations

from html.parser import HTMLParser


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {key: value or "" for key, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Elements:
    reader = Elements()
    reader.feed(html)
    return reader


def elements(html: str, tag: str, **attrs: str) -> list[dict[str, str]]:
    """Attributes of every ``tag`` element whose attributes include ``attrs``."""
    return [
        found
        for name, found in parse(html).found
        if name == tag and all(found.get(key.rstrip("_")) == value for key, value in attrs.items())
    ]


def hrefs(html: str) -> list[str]:
    return [found["href"] for name, found in parse(html).found if name == "a" and "href" in found]
