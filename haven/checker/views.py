"""What the checker's pages share: rendering into finished responses, field views for the form
macros, and the language toggle that keeps the answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from haven.checker.explain import CRS_FACTORS, FSW_FACTORS, PARTS, SECTIONS, WORDS, Words
from haven.checker.fields import Field, FormError, Kind, Reading
from haven.content.site import Site
from haven.rules import crs, fsw
from haven.web.i18n import OTHER, Language
from haven.web.pagecache import PUBLIC_PAGE, CachedResponse, build, redirect

HTML: Final = "text/html; charset=utf-8"


def with_query(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(list(params.items()))}" if params else path


@dataclass(frozen=True)
class OptionView:
    value: str
    label: str
    hint: str | None
    checked: bool
    id: str


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

    @property
    def described_by(self) -> str:
        ids = [f"{self.name}-hint"] if self.hint else []
        if self.error:
            ids.append(f"{self.name}-error")
        return " ".join(ids)


def field_view(
    spec: Field,
    answers: Mapping[str, str],
    reading: Reading | None,
    words: Words,
    *,
    label: str | None = None,
    hint: str | None = None,
) -> FieldView:
    """A field ready for the form macros: translated, prefilled, with its error if any."""
    raw = answers.get(spec.name, "")
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
    return FieldView(
        name=spec.name,
        kind=spec.kind.value,
        label=label or words(spec.label),
        hint=hint if hint is not None else (words(spec.hint) if spec.hint else None),
        error=reading.error_for(spec.name) if reading is not None else None,
        value=raw,
        options=options,
        suffix=words(spec.suffix) if spec.suffix else None,
        width=spec.width,
        inputmode="decimal" if spec.kind is Kind.SCORE else "numeric",
    )


class PageMaker:
    """Renders checker pages in the site's layout, as finished, cacheable responses."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def words(self, lang: Language) -> Words:
        return WORDS[lang]

    def render(
        self,
        lang: Language,
        template: str,
        *,
        title: str,
        path: str,
        other_path: str,
        params: Mapping[str, str],
        crumbs: Sequence[tuple[str, str]] = (),
        errors: Sequence[FormError] = (),
        **context: Any,
    ) -> CachedResponse:
        words = self.words(lang)
        page_title = f"{words('Error:')} {title}" if errors else title
        html = self.site.renderer.render(
            template,
            lang,
            title=page_title,
            heading=title,
            description="",
            canonical=None,
            alternates={},
            noindex=True,  # answers are in the address: keep these pages out of search engines
            toggle_href=with_query(other_path, params),
            crumbs=list(crumbs),
            errors=list(errors),
            **self.site.chrome(lang),
            **context,
        )
        return build(
            html.encode(),
            content_type=HTML,
            cache_control=PUBLIC_PAGE,
            status=422 if errors else 200,
            route_class="checker",
        )

    @staticmethod
    def go(path: str, params: Mapping[str, str]) -> CachedResponse:
        """Send the browser on to ``path`` with these answers (after a form step)."""
        return redirect(with_query(path, params), status=303, cache_control=PUBLIC_PAGE)


def other(lang: Language) -> Language:
    return OTHER[lang]


@dataclass(frozen=True)
class Row:
    label: str
    points: int
    maximum: int
    parts: str  # "Reading 31, Writing 31, …", empty when the factor has no parts


@dataclass(frozen=True)
class SectionView:
    label: str
    points: int
    cap: int
    earned: int  # before the cap: shown when the cap cut something
    rows: tuple[Row, ...]


def _parts_text(parts: Mapping[str, int], words: Words) -> str:
    return ", ".join(f"{words(PARTS[name])} {points}" for name, points in parts.items() if name in PARTS)


def crs_view(result: crs.CrsResult, words: Words) -> list[SectionView]:
    sections = []
    for section in crs.Section:
        rows = tuple(
            Row(words(CRS_FACTORS[key]), factor.points, factor.maximum, _parts_text(factor.parts, words))
            for key, factor in result.details.items()
            if factor.section is section
        )
        if not rows:
            continue
        cap = {
            crs.Section.CORE: 460 if result.with_spouse else 500,
            crs.Section.SPOUSE: 40,
            crs.Section.TRANSFERABILITY: 100,
            crs.Section.ADDITIONAL: 600,
        }[section]
        sections.append(
            SectionView(
                words(SECTIONS[section]),
                result.section_total(section),
                cap,
                sum(row.points for row in rows),
                rows,
            )
        )
    return sections


def fsw_view(result: fsw.FswResult, words: Words) -> list[Row]:
    return [
        Row(words(FSW_FACTORS[key]), factor.points, factor.maximum, _parts_text(factor.parts, words))
        for key, factor in result.factors.items()
    ]
