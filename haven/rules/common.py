"""What the rule modules share: abilities, languages, education levels, errors and dated tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar


class Ability(StrEnum):
    READING = "reading"
    WRITING = "writing"
    LISTENING = "listening"
    SPEAKING = "speaking"


ABILITIES: tuple[Ability, ...] = tuple(Ability)


class Language(StrEnum):
    ENGLISH = "en"
    FRENCH = "fr"


class Education(StrEnum):
    """Highest level of education, as the CRS and the FSW grid name them."""

    LESS_THAN_SECONDARY = "less_than_secondary"
    SECONDARY = "secondary"
    ONE_YEAR = "one_year"
    TWO_YEAR = "two_year"
    BACHELOR = "bachelor"  # a single post-secondary credential of three years or more
    TWO_OR_MORE = "two_or_more"  # two or more credentials, at least one of three years or more
    MASTER = "master"  # or an entry-to-practice professional degree
    DOCTORAL = "doctoral"


POST_SECONDARY: frozenset[Education] = frozenset(
    {
        Education.ONE_YEAR,
        Education.TWO_YEAR,
        Education.BACHELOR,
        Education.TWO_OR_MORE,
        Education.MASTER,
        Education.DOCTORAL,
    }
)


class RulesError(ValueError):
    """Input the rules cannot score. ``field`` names the offending input (dotted path inside the
    object the caller passed, e.g. ``reading``), so an API can report it as a 422 on that field."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message

    def within(self, prefix: str) -> RulesError:
        """The same error, its field named from an enclosing object (``first_language.reading``)."""
        return RulesError(f"{prefix}.{self.field}" if self.field else prefix, self.code, self.message)


@dataclass(frozen=True)
class LanguageLevels:
    """CLB (English) or NCLC (French) level per ability; 0 means below the lowest level a test
    chart lists. Levels above 10 are kept as given; the CRS scores them as "10 or more"."""

    language: Language
    levels: Mapping[Ability, int]
    lowest: int = field(init=False, compare=False)  # used by every threshold: worked out once

    def __post_init__(self) -> None:
        object.__setattr__(self, "lowest", min(self.levels[ability] for ability in ABILITIES))

    def level(self, ability: Ability) -> int:
        return self.levels[ability]

    def all_at_least(self, level: int) -> bool:
        return self.lowest >= level


T = TypeVar("T")


@dataclass(frozen=True)
class Dated(Generic[T]):
    """A table in force from ``effective`` (inclusive) until the next one."""

    effective: dt.date
    version: str
    table: T


@dataclass(frozen=True)
class History(Generic[T]):
    """Every dated version of one table, oldest first."""

    versions: Sequence[Dated[T]]
    name: str = field(default="rules")

    def on(self, day: dt.date) -> Dated[T]:
        chosen: Dated[T] | None = None
        for version in self.versions:
            if version.effective <= day:
                chosen = version
        if chosen is None:
            first = self.versions[0].effective.isoformat()
            raise RulesError("as_of", "no_rules", f"Haven has no {self.name} before {first}.")
        return chosen

    @property
    def latest(self) -> Dated[T]:
        return self.versions[-1]
