"""What the checker's pages share: rendering into finished responses, field views for the form
macros, and the language toggle that keeps the answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from haven.checker.explain import CRS_FACTORS, FSW_FACTORS, PARTS, SECTIONS, WORDS, Words
from haven.content.site import Site
from haven.rules import crs, fsw
from haven.web.forms import FormError
from haven.web.i18n import OTHER, Language
from haven.web.pagecache import PUBLIC_PAGE, CachedResponse, build, redirect

HTML: Final = "text/html; charset=utf-8"


def with_query(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(list(params.items()))}" if params else path


class PageMaker:
    """Renders checker pages in the site's layout, as finished, cacheable responses."""

    def __init__(self, site: Site, cutoffs: Callable[[Language], Sequence[Any]] | None = None) -> None:
        """``cutoffs``: the recent rounds' cut-offs a score is shown beside, in a language (the
        rounds board's, which forgets the rendered pages when a round is held)."""
        self.site = site
        self.cutoffs = cutoffs or (lambda lang: ())

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
            cutoffs=self.cutoffs(lang),
            rounds_href=self.site.library.get(lang, "rounds-of-invitations").path,
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
            # A factor that can earn nothing (a job offer, since March 2025) is not a row of "0 of 0".
            if factor.section is section and factor.maximum > 0
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
