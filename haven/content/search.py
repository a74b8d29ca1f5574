"""Search over every content page and tool, in the page's language: ``/en/search?q=…`` and
``/fr/recherche?q=…``.

The index is built once at start-up from the same Markdown the pages are made of, and lives in memory:
a search never touches the database, and its page is a finished response kept in the query-page LRU,
so common queries are served as bytes. It is a small inverted index of Haven's own rather than a
library: the corpus is a few dozen pages a language, and what it needs (French without accents, word
beginnings, titles weighing more than text) is a few lines, where the search libraries for Python
bring an on-disk index and a query language Haven would not use.

Words are matched without case or accents ("entree" finds "Entrée"), a query word of three letters or
more also matches the beginning of a longer word ("immigr" finds "immigration"), and every word of the
query must match. Titles count five times, summaries twice, the text once, and a page whose title is
the query, or holds all of its words, comes before the pages that only speak of it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from haven.content.site import SEARCH_PATHS, Site
from haven.web.i18n import LANGUAGES, N_, OTHER, Language, fold
from haven.web.pagecache import HTML, CachedResponse, build
from haven.web.querypages import Params, QueryRoute

TITLE_WEIGHT: Final = 5.0
SUMMARY_WEIGHT: Final = 2.0
TITLE_IS_QUERY: Final = 6.0  # bonuses on top of the words' weights
TITLE_HOLDS_QUERY: Final = 3.0
MAX_RESULTS: Final = 20
MAX_QUERY: Final = 200  # characters; the rest is ignored
WORD: Final = re.compile(r"[0-9a-z]+")
MARKDOWN: Final = re.compile(r"\]\([^)]*\)|[#*_`>|]|\(page:[^)]*\)")
EN_STOP_WORDS: Final = "a an and are as at be by for from how i in is it of on or the to what with you your"
FR_STOP_WORDS: Final = (
    "a au aux avec ce comment d de des du en est et je l la le les ou par pour qu que qui sur un une"
)
STOP_WORDS: Final[dict[Language, frozenset[str]]] = {
    "en": frozenset(EN_STOP_WORDS.split()),
    "fr": frozenset((FR_STOP_WORDS + " vous votre vos").split()),
}


def words(text: str, lang: Language) -> list[str]:
    return [word for word in WORD.findall(fold(text)) if word not in STOP_WORDS[lang]]


@dataclass(frozen=True)
class Document:
    title: str
    path: str
    summary: str


@dataclass(frozen=True)
class Hit:
    document: Document
    score: float


class Index:
    """The pages and tools of one language, by the words they contain."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.documents: list[Document] = []
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)
        self._vocabulary: list[str] = []
        self._titles: list[tuple[str, ...]] = []  # each document's title, in words

    def add(self, title: str, path: str, summary: str, body: str = "") -> None:
        number = len(self.documents)
        self.documents.append(Document(title, path, summary))
        self._titles.append(tuple(words(title, self.lang)))
        weights: dict[str, float] = defaultdict(float)
        for text, weight in (
            (title, TITLE_WEIGHT),
            (summary, SUMMARY_WEIGHT),
            (MARKDOWN.sub(" ", body), 1.0),
        ):
            for word in words(text, self.lang):
                weights[word] += weight
        for word, weight in weights.items():
            self._postings[word][number] = 1 + math.log(weight)

    def freeze(self) -> Index:
        self._vocabulary = sorted(self._postings)
        return self

    def _matching(self, word: str) -> dict[int, float]:
        """The documents with ``word``, or (three letters or more) a word that begins with it."""
        found: dict[int, float] = dict(self._postings.get(word, {}))
        if len(word) >= 3:
            for other in self._starting(word):
                for number, weight in self._postings[other].items():
                    found[number] = max(found.get(number, 0.0), weight * 0.8)
        return found

    def _starting(self, prefix: str) -> Iterable[str]:
        # The vocabulary is sorted: the words that begin with ``prefix`` stand together.
        low, high = 0, len(self._vocabulary)
        while low < high:
            middle = (low + high) // 2
            if self._vocabulary[middle] < prefix:
                low = middle + 1
            else:
                high = middle
        for word in self._vocabulary[low:]:
            if not word.startswith(prefix):
                break
            if word != prefix:
                yield word

    def search(self, query: str, limit: int | None = MAX_RESULTS) -> list[Hit]:
        terms = list(dict.fromkeys(words(query[:MAX_QUERY], self.lang)))
        if not terms:
            return []
        scores: dict[int, float] | None = None
        for term in terms:
            matching = self._matching(term)
            if scores is None:
                scores = matching
            else:
                scores = {
                    number: scores[number] + weight for number, weight in matching.items() if number in scores
                }
            if not scores:
                return []
        assert scores is not None
        for number in scores:  # a title that is the query, or holds all of it, comes first
            title = self._titles[number]
            if tuple(terms) == title:
                scores[number] += TITLE_IS_QUERY
            elif all(any(word.startswith(term) for word in title) for term in terms):
                scores[number] += TITLE_HOLDS_QUERY
        ranked = sorted(scores.items(), key=lambda item: (-item[1], self.documents[item[0]].title))
        return [Hit(self.documents[number], score) for number, score in ranked[:limit]]


SEARCH_CACHE: Final = "public, max-age=300"
TEMPLATE: Final = "content/search.html"


def build_indexes(site: Site) -> dict[Language, Index]:
    """Every content page and every tool of each language, indexed."""
    indexes = {}
    for lang in LANGUAGES:
        index = Index(lang)
        for page in site.library.in_language(lang):
            index.add(page.title, page.path, page.summary, page.body)
        nav = site.navigation[lang]
        for title, path in nav["tools"]:
            if path in nav["tool_summaries"]:
                index.add(title, path, nav["tool_summaries"][path])
        indexes[lang] = index.freeze()
    return indexes


def routes(site: Site) -> dict[str, QueryRoute]:
    """The search page of each language, as query pages (rendered once a query, then kept)."""
    indexes = build_indexes(site)

    def page(lang: Language) -> QueryRoute:
        def render(params: Params, _today: dt.date) -> CachedResponse:
            query = " ".join(params.get("q", "").split())[:MAX_QUERY]
            _ = site.renderer.gettext(lang)
            hits = indexes[lang].search(query) if query else []
            other = OTHER[lang]
            html = site.renderer.render(
                TEMPLATE,
                lang,
                title=_(N_("Search results")) if query else _(N_("Search Haven")),
                heading=_(N_("Search Haven")),
                description="",
                canonical=None,
                alternates={},
                noindex=True,
                toggle_href=SEARCH_PATHS[other] + (f"?{urlencode({'q': query})}" if query else ""),
                crumbs=[(_(N_("Home")), f"/{lang}/")],
                errors=[],
                **site.chrome(lang),
                query=query,
                hits=hits,
            )
            return build(html.encode(), content_type=HTML, cache_control=SEARCH_CACHE, route_class="content")

        return QueryRoute(lang, frozenset({"q"}), render)

    return {SEARCH_PATHS[lang]: page(lang) for lang in LANGUAGES}
