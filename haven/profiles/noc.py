"""The National Occupational Classification (NOC) 2021: its 516 unit groups, with their titles in
both languages. The table is bundled (``data/noc2021.tsv``, from Statistics Canada's open data) and
read once; ``noc_pages`` finds a code by job title."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from haven.web.i18n import Language

DATA: Final = Path(__file__).resolve().parent / "data" / "noc2021.tsv"


@dataclass(frozen=True)
class UnitGroup:
    code: str
    en: str
    fr: str

    @property
    def teer(self) -> int:
        return int(self.code[1])

    def title(self, lang: Language) -> str:
        return self.en if lang == "en" else self.fr.replace("'", "’")


def _load(path: Path) -> dict[str, UnitGroup]:
    groups = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    for line in lines[1:]:  # after the header
        code, teer, en, fr = line.split("\t")
        if len(code) != 5 or not code.isdigit() or teer != code[1]:
            raise ValueError(f"{path.name}: not a unit group: {line!r}")
        groups[code] = UnitGroup(code, en, fr)
    return groups


UNIT_GROUPS: Final = _load(DATA)


def title(code: str, lang: Language) -> str | None:
    group = UNIT_GROUPS.get(code)
    return group.title(lang) if group else None
