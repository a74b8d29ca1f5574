"""Every worker in one scrape: each worker process of a server writes its own exposition into a shared
folder about once a second, and the worker that answers ``/metrics`` adds the others' to its own.

The files are plain Prometheus text, every sample labelled with its ``worker``, so joining them is
text work: each family's HELP and TYPE once, then every worker's samples. A file is trusted only when
it is whole and every line is a sample of the worker its name says; anything else is left out, and a
file no worker has refreshed for ``STALE_AFTER`` seconds (its worker is gone) is deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

PUBLISH_EVERY: Final = 1.0  # seconds between two writes of a worker's file
STALE_AFTER: Final = 10.0  # a file older than this belongs to a worker that stopped or hangs
SUFFIX: Final = ".prom"
END: Final = "# EOF\n"  # a comment in the text format; a file without it was cut short
TYPES: Final = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})

_HELP: Final = "# HELP "
_NAME: Final = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL: Final = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
_VALUE: Final = r"(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?|Inf)|NaN)"

# A family: its name, then its HELP and TYPE lines and its sample lines (each ending in a newline).
Families = dict[str, tuple[str, str]]


class WorkerFiles:
    """The folder the workers of one server share: ``<server>-<worker>.prom`` for each, where the
    server is the supervising process (the workers' parent) and the worker is the process itself,
    so two servers given one folder never count each other's requests."""

    def __init__(self, folder: Path, *, worker: str, server: str) -> None:
        self.folder = folder
        self.worker = worker
        self.server = server
        self.path = folder / f"{server}-{worker}{SUFFIX}"

    @classmethod
    def of_this_process(cls, folder: Path) -> WorkerFiles:
        return cls(folder, worker=str(os.getpid()), server=str(os.getppid()))

    def write(self, exposition: str) -> None:
        """Replace this worker's file in one step: a reader sees the last whole file or this one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_suffix(".tmp")
        draft.write_text(exposition + END, encoding="utf-8")
        os.replace(draft, self.path)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def others(self, now: float | None = None) -> list[Families]:
        """The families in the fresh, whole files of this server's other workers, in the order of
        their names. Stale files, and drafts left by a worker killed mid-write, are deleted."""
        now = time.time() if now is None else now
        prefix = f"{self.server}-"
        found: list[tuple[str, Families]] = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:  # no folder yet: no other worker has written
            return []
        for entry in entries:
            name = entry.name
            if name == self.path.name or not name.endswith((SUFFIX, ".tmp")):
                continue
            try:
                if now - entry.stat().st_mtime > STALE_AFTER:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                    continue
                if not name.startswith(prefix) or not name.endswith(SUFFIX):
                    continue
                with open(entry.path, encoding="utf-8") as file:
                    text = file.read()
            except (OSError, UnicodeDecodeError):  # gone meanwhile, or not text: left out
                continue
            families = parse_file(text, worker=name[len(prefix) : -len(SUFFIX)])
            if families is not None:
                found.append((name, families))
        return [families for _, families in sorted(found, key=lambda pair: pair[0])]


def split(exposition: str) -> Families | None:
    """An exposition in families (as ``generate_latest`` writes it: each family's HELP line, its TYPE
    line, then its samples), or None when it is not laid out that way."""
    if not exposition:
        return {}
    if not exposition.startswith(_HELP) or not exposition.endswith("\n"):
        return None
    families: Families = {}
    for block in exposition[len(_HELP) : -1].split("\n" + _HELP):
        help_line, _, rest = block.partition("\n")
        type_line, _, samples = rest.partition("\n")
        name = help_line.partition(" ")[0]
        kind = type_line.removeprefix(f"# TYPE {name} ")
        if kind == type_line or kind not in TYPES or not re.fullmatch(_NAME, name) or name in families:
            return None
        families[name] = (f"{_HELP}{help_line}\n{type_line}\n", samples + "\n" if samples else "")
    return families


def parse_file(text: str, *, worker: str) -> Families | None:
    """The families of a worker's file, or None unless it is whole and holds nothing but samples
    labelled with ``worker`` (its name says whose it is; a sample under another name would be
    counted twice)."""
    if not text.endswith(END) or not worker.isdigit():
        return None
    families = split(text[: -len(END)])
    if families is None:
        return None
    line = rf'{_NAME}\{{(?:{_LABEL},)*worker="{worker}"(?:,{_LABEL})*\}} {_VALUE}\n'
    samples = re.compile(f"(?:{line})*")
    if not all(samples.fullmatch(lines) for _, lines in families.values()):
        return None
    return families


def merge(expositions: Iterable[Families]) -> str:
    """One exposition of several: each family once, with the HELP and TYPE the first gave it and the
    samples of all. A family whose type differs from the first's (workers of two versions) is left
    out of the later ones rather than mixed."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for families in expositions:
        for name, (header, samples) in families.items():
            known = merged.get(name)
            if known is None:
                merged[name] = (header, [samples])
            elif _type_line(known[0]) == _type_line(header):
                known[1].append(samples)
    return "".join(header + "".join(samples) for header, samples in merged.values())


def _type_line(header: str) -> str:
    return header[header.index("\n") + 1 :]
