"""The page that finds a NOC 2021 code by job title: ``/en/immigrate/express-entry/find-a-noc-code``
and ``/fr/immigrer/entree-express/trouver-code-cnp``.

It is a query page, like the site search and with the same index: every unit group's title in the
page's language, without case or accents, word beginnings matching ("infirm" finds "Infirmiers"); a
code, or its first digits, finds its groups. Every group found is listed, by code. It never touches the
database, and a common query's page is kept as finished bytes."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final
from urllib.parse import urlencode

from haven.content.search import MAX_QUERY, Index
from haven.content.site import Site
from haven.profiles.noc import UNIT_GROUPS
from haven.web.i18n import LANGUAGES, N_, OTHER, Language
from haven.web.pagecache import HTML, CachedResponse, build
from haven.web.querypages import Params, QueryRoute

PATHS: Final[dict[Language, str]] = {
    "en": "/en/immigrate/express-entry/find-a-noc-code",
    "fr": "/fr/immigrer/entree-express/trouver-code-cnp",
}
LOOKUP_CACHE: Final = "public, max-age=3600"


@functools.cache
def indexes() -> dict[Language, Index]:
    """Every unit group of each language, by the words of its title and its code (built once: the
    table never changes while Haven runs, and the index is only read)."""
    built = {}
    for lang in LANGUAGES:
        index = Index(lang)
        for group in UNIT_GROUPS.values():
            index.add(group.title(lang), group.code, "", group.code)
        built[lang] = index.freeze()
    return built


def _found(index: Index, query: str) -> list[str]:
    """Every unit group the query finds (a few dozen at most: all of them are listed); a query of
    digits finds the codes that begin with them."""
    digits = query.replace(" ", "")
    if digits.isdigit():
        return [code for code in UNIT_GROUPS if code.startswith(digits)]
    return [hit.document.path for hit in index.search(query, limit=None)]


def routes(site: Site) -> dict[str, QueryRoute]:
    """The lookup page of each language, as query pages."""
    found = indexes()

    def page(lang: Language) -> QueryRoute:
        def render(params: Params, _today: dt.date) -> CachedResponse:
            query = " ".join(params.get("q", "").split())[:MAX_QUERY]
            _ = site.renderer.gettext(lang)
            codes = sorted(_found(found[lang], query)) if query else []
            hits = [UNIT_GROUPS[code] for code in codes]
            html = site.renderer.render(
                "profiles/noc_lookup.html",
                lang,
                title=_(N_("Find a NOC 2021 code")),
                heading=_(N_("Find a NOC 2021 code")),
                description="",
                canonical=None,
                alternates={},
                noindex=bool(query),
                toggle_href=PATHS[OTHER[lang]] + (f"?{urlencode({'q': query})}" if query else ""),
                crumbs=site.crumbs(lang, "express-entry"),
                errors=[],
                **site.chrome(lang),
                action=PATHS[lang],
                query=query,
                hits=[(group.code, group.title(lang), group.teer) for group in hits],
            )
            return build(html.encode(), content_type=HTML, cache_control=LOOKUP_CACHE, route_class="content")

        return QueryRoute(lang, frozenset({"q"}), render)

    return {PATHS[lang]: page(lang) for lang in LANGUAGES}
