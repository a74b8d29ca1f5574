"""The settings reference, generated from ``haven/settings.py``: the README's table (``make docs``
rewrites it between two markers, and a test fails when it drifts) and ``haven settings``' listing."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from haven.settings import describe

START = "<!-- settings:start: generated from haven/settings.py by `make docs`, edit there -->"
END = "<!-- settings:end -->"


class MarkersMissing(ValueError):
    """The README has lost the markers around its settings table."""


def markdown_table() -> str:
    lines = ["| variable | default | what it sets |", "|---|---|---|"]
    for row in describe():
        cells = (f"`{row.variable}`", row.default, row.help)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def plain(text: str) -> str:
    """The Markdown of a help string as terminal text."""
    return re.sub(r"\*\*|`", "", text)


def listing() -> str:
    return "".join(
        f"{row.variable} (default: {plain(row.default) or 'none'})\n    {plain(row.help)}\n"
        for row in describe()
    )


def _bounds(readme: str) -> tuple[int, int]:
    start, end = readme.find(START + "\n"), readme.find(END)
    if start < 0 or end < start:
        raise MarkersMissing(f"cannot find {START} and then {END}, each on a line of its own")
    return start + len(START) + 1, end


def between_markers(readme: str) -> str:
    start, end = _bounds(readme)
    return readme[start:end]


def with_table(readme: str) -> str:
    start, end = _bounds(readme)
    return readme[:start] + markdown_table() + readme[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haven.settings_doc", description=__doc__)
    parser.add_argument("readme", type=Path, nargs="?", default=Path("README.md"))
    parser.add_argument("--check", action="store_true", help="Change nothing; exit 1 if the table is stale.")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    try:
        updated = with_table(text)
    except MarkersMissing as error:
        print(f"{args.readme}: {error}", file=sys.stderr)
        return 2
    if updated == text:
        return 0
    if args.check:
        print(f"{args.readme}: the settings table is stale; run `make docs`", file=sys.stderr)
        return 1
    args.readme.write_text(updated)
    print(f"{args.readme}: settings table rewritten from haven/settings.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
