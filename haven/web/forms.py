"""Form fields: what each asks, how its answer is read, and what to say when it cannot be. Shared by
the checker's GET forms and the profile's POST forms.

Reading is forgiving where people are (spaces, "$", thousands separators, "7,5" for 7.5, a date
typed as 3 / 07 / 1990) and strict where the rules are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from haven.web.i18n import N_, Language, fold

Translate = Callable[[str], str]


class Kind(StrEnum):
    RADIO = "radio"
    SELECT = "select"  # one of a long list (``labels``), chosen from a drop-down
    NUMBER = "number"
    MONEY = "money"
    SCORE = "score"
    CHECKBOX = "checkbox"
    TEXT = "text"
    DATE = "date"  # three inputs: NAME-day, NAME-month, NAME-year; kept as YYYY-MM-DD
    MONTH = "month"  # two inputs: NAME-month, NAME-year; kept as YYYY-MM


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # msgid
    hint: str | None = None


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    label: str  # msgid: the legend of a radio group or date, the label of an input
    required: str = ""  # msgid said when it is left empty
    hint: str | None = None
    options: tuple[Option, ...] = ()
    minimum: int = 0
    maximum: int = 0
    invalid: str = ""  # msgid said when it cannot be read or is out of range
    suffix: str | None = None  # msgid shown after the input ("years")
    width: int = 3  # characters, for the input's size
    optional: bool = False
    pattern: str = ""  # text: a regular expression the cleaned value must match
    max_length: int = 200  # text
    autocomplete: str = ""  # the HTML autocomplete token, for personal fields (WCAG 1.3.5)
    when: str = ""  # dates: "past" or "future" (today excluded); msgid in ``rule``
    rule: str = ""
    # A select: value → name in a language, in the order shown (names that are not msgids, such as
    # countries' names, which come from CLDR).
    labels: Callable[[Language], Mapping[str, str]] | None = None

    def values(self) -> frozenset[str]:
        if self.labels is not None:
            return frozenset(self.labels("en"))
        return frozenset(option.value for option in self.options)

    def parts(self) -> tuple[str, ...]:
        """The names of the inputs this field is typed into."""
        if self.kind is Kind.DATE:
            return (f"{self.name}-day", f"{self.name}-month", f"{self.name}-year")
        if self.kind is Kind.MONTH:
            return (f"{self.name}-month", f"{self.name}-year")
        return (self.name,)


@dataclass(frozen=True)
class FormError:
    field: str  # the input the error summary links to
    message: str  # already translated


@dataclass
class Reading:
    """The outcome of reading a form: cleaned answers and what was wrong."""

    answers: dict[str, str] = field(default_factory=dict)
    errors: list[FormError] = field(default_factory=list)

    def error_for(self, name: str) -> str | None:
        return next((error.message for error in self.errors if error.field == name), None)


_NUMBER_NOISE: Final = re.compile(r"[\s\u00a0\u202f$,]|CAD|\$", re.IGNORECASE)
_SPACES: Final = re.compile(r"\s+")


def clean_number(raw: str) -> str:
    return _NUMBER_NOISE.sub("", raw)


def read_field(
    spec: Field, raw: str | None, words: Translate, reading: Reading, *, today: dt.date | None = None
) -> None:
    """Read one field's raw value into ``reading``. Dates and months read their parts from
    ``reading``'s caller through ``read_fields``."""
    value = (raw or "").strip()
    if spec.kind is Kind.CHECKBOX:
        if value:
            reading.answers[spec.name] = "yes"
        return
    if not value:
        if not spec.optional:
            reading.errors.append(FormError(spec.parts()[0], words(spec.required)))
        return
    if spec.kind in (Kind.RADIO, Kind.SELECT):
        if value in spec.values():
            reading.answers[spec.name] = value
        else:
            reading.errors.append(FormError(spec.name, words(spec.required)))
        return
    if spec.kind in (Kind.NUMBER, Kind.MONEY):
        number = clean_number(value)
        if not number.isdigit() or not spec.minimum <= int(number) <= spec.maximum:
            message = words(spec.invalid) % {"minimum": spec.minimum, "maximum": spec.maximum}
            reading.errors.append(FormError(spec.name, message))
            return
        reading.answers[spec.name] = str(int(number))
        return
    if spec.kind is Kind.TEXT:
        text = _SPACES.sub(" ", value)
        if len(text) > spec.max_length or (spec.pattern and not re.fullmatch(spec.pattern, text)):
            reading.errors.append(FormError(spec.name, words(spec.invalid) % {"maximum": spec.max_length}))
            return
        reading.answers[spec.name] = text
        return
    # A score: a decimal comma is fine ("7,5"); its scale is checked with the test.
    number = value.replace(",", ".").replace(" ", "")
    try:
        parsed = float(number)
    except ValueError:
        parsed = float("nan")
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        reading.errors.append(FormError(spec.name, words(spec.invalid)))
        return
    reading.answers[spec.name] = f"{parsed:g}"


def _read_date(
    spec: Field, params: Mapping[str, str], words: Translate, reading: Reading, today: dt.date
) -> None:
    parts = [params.get(name, "").strip() for name in spec.parts()]
    if not any(parts):
        if not spec.optional:
            reading.errors.append(FormError(spec.parts()[0], words(spec.required)))
        return
    try:
        numbers = [int(part) for part in parts]  # an empty or non-numeric part raises ValueError
        if spec.kind is Kind.DATE:
            day, month, year = numbers
            moment = dt.date(year, month, day)
            kept = moment.isoformat()
        else:
            month, year = numbers
            moment = dt.date(year, month, 1)
            kept = f"{year:04d}-{month:02d}"
        if not 1900 <= moment.year <= 2200:
            raise ValueError
    except ValueError:
        reading.errors.append(FormError(spec.parts()[0], words(spec.invalid)))
        return
    if (spec.when == "past" and moment >= today) or (spec.when == "future" and moment <= today):
        reading.errors.append(FormError(spec.parts()[0], words(spec.rule)))
        return
    reading.answers[spec.name] = kept


def read_fields(
    specs: Sequence[Field],
    params: Mapping[str, str],
    words: Translate,
    reading: Reading,
    *,
    today: dt.date | None = None,
) -> None:
    """Read each field of ``specs`` from ``params`` into ``reading``. Dates are judged against
    ``today``, which comes from the app's clock: a date field without it is a mistake of ours."""
    for spec in specs:
        if spec.kind in (Kind.DATE, Kind.MONTH):
            if today is None:
                raise ValueError(f"the date field {spec.name!r} is read without today's date")
            _read_date(spec, params, words, reading, today)
        else:
            read_field(spec, params.get(spec.name), words, reading)


def date_inputs(stored: str | None, kind: Kind) -> list[str]:
    """A stored date or month split back into what the inputs show (day, month, year)."""
    if not stored:
        return ["", "", ""] if kind is Kind.DATE else ["", ""]
    pieces = stored.split("-")
    if kind is Kind.DATE:
        return [str(int(pieces[2])), str(int(pieces[1])), pieces[0]]
    return [str(int(pieces[1])), pieces[0]]


# Views: fields ready for the form macros in haven/checker/templates/checker/_form.html -------


@dataclass(frozen=True)
class OptionView:
    value: str
    label: str
    hint: str | None
    checked: bool
    id: str


@dataclass(frozen=True)
class PartView:
    """One input of a date: day, month or year."""

    name: str
    label: str
    value: str
    width: int


@dataclass(frozen=True)
class FieldView:
    name: str
    kind: str
    label: str
    hint: str | None
    error: str | None
    value: str
    options: tuple[OptionView, ...]
    suffix: str | None
    width: int
    inputmode: str
    autocomplete: str = ""
    parts: tuple[PartView, ...] = ()

    @property
    def described_by(self) -> str:
        ids = [f"{self.name}-hint"] if self.hint else []
        if self.error:
            ids.append(f"{self.name}-error")
        return " ".join(ids)


def _named(names: Mapping[str, str], typed: str) -> str:
    """The value whose name is ``typed`` (an answer kept from before the list, "nigeria" for NG)."""
    wanted = fold(typed.strip())
    return next((value for value, name in names.items() if fold(name) == wanted), "") if wanted else ""


_PART_LABELS: Final = {"day": N_("Day"), "month": N_("Month"), "year": N_("Year")}


def field_view(
    spec: Field,
    answers: Mapping[str, str],
    reading: Reading | None,
    words: Translate,
    *,
    label: str | None = None,
    hint: str | None = None,
    lang: Language | None = None,
) -> FieldView:
    """A field ready for the form macros: translated, prefilled, with its error if any (a select's
    names are in ``lang``, which it needs)."""
    raw = answers.get(spec.name, "")
    if spec.labels is not None:
        if lang is None:
            raise ValueError(f"{spec.name}: a select needs the page's language")
        names = spec.labels(lang)
        # An answer kept from before the list was typed in one language or the other.
        chosen = raw if raw in names else _named(spec.labels("en"), raw) or _named(spec.labels("fr"), raw)
        options = tuple(
            OptionView(value, name, None, value == chosen, f"{spec.name}-{value}")
            for value, name in names.items()
        )
    else:
        options = tuple(
            OptionView(
                value=option.value,
                label=words(option.label),
                hint=words(option.hint) if option.hint else None,
                checked=raw == option.value,
                # The first choice carries the field's own id, so an error summary link lands on it.
                id=spec.name if index == 0 else f"{spec.name}-{option.value}",
            )
            for index, option in enumerate(spec.options)
        )
    if spec.kind is Kind.CHECKBOX:
        options = (OptionView("yes", label or words(spec.label), None, raw == "yes", spec.name),)
    parts: tuple[PartView, ...] = ()
    if spec.kind in (Kind.DATE, Kind.MONTH):
        typed = [answers.get(name) for name in spec.parts()]
        shown = (
            [value or "" for value in typed]
            if any(v is not None for v in typed)
            else date_inputs(raw, spec.kind)
        )
        parts = tuple(
            PartView(
                name, words(_PART_LABELS[name.rsplit("-", 1)[1]]), value, 4 if name.endswith("year") else 2
            )
            for name, value in zip(spec.parts(), shown, strict=True)
        )
    error = None
    if reading is not None:
        error = next((reading.error_for(name) for name in spec.parts() if reading.error_for(name)), None)
    return FieldView(
        name=spec.name,
        kind=spec.kind.value,
        label=label or words(spec.label),
        hint=hint if hint is not None else (words(spec.hint) if spec.hint else None),
        error=error,
        value=raw,
        options=options,
        suffix=words(spec.suffix) if spec.suffix else None,
        width=spec.width,
        inputmode={Kind.SCORE: "decimal", Kind.TEXT: "text"}.get(spec.kind, "numeric"),
        autocomplete=spec.autocomplete,
        parts=parts,
    )
