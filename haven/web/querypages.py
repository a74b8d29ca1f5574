"""Public pages computed from their query string (calculators, the eligibility check), rendered once
per distinct question and kept in a bounded LRU of finished responses.

They are cookie-free GET pages: the same address always gives the same page (on a given day, for
pages that depend on the rules in force), so a CDN or the page cache can serve them as well.
Parameters a page does not read are dropped before the cache key is made, so junk in an address
neither busts the cache nor grows it.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl

from haven.web.clock import Clock
from haven.web.i18n import Language
from haven.web.pagecache import CachedResponse

Params = dict[str, str]
Render = Callable[[Params, dt.date], CachedResponse]
MAX_FIELDS: Final = 100


@dataclass(frozen=True)
class QueryRoute:
    """One address: its language, the parameters it reads, and how to render it."""

    lang: Language
    names: frozenset[str]
    render: Render
    daily: bool = False  # the page depends on the rules in force today


def parse_query(query: bytes, names: frozenset[str]) -> Params:
    """The parameters this page reads, first value of each; undecodable bytes become U+FFFD."""
    try:
        pairs = parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than any form of ours has
        return {}
    params: Params = {}
    for name, value in pairs:
        if name in names and name not in params:
            params[name] = value[:200]
    return params


@dataclass(frozen=True)
class Miss:
    """A query page not rendered yet: what rendering it needs."""

    route: QueryRoute
    params: Params
    today: dt.date
    key: tuple[object, ...]


class QueryPages:
    def __init__(self, routes: Mapping[str, QueryRoute], clock: Clock, size: int = 1024) -> None:
        self.routes = dict(routes)
        self.clock = clock
        self.size = size
        self._cache: OrderedDict[tuple[object, ...], CachedResponse] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every rendered page (what they show has changed: a new round's cut-off)."""
        self._cache.clear()

    def get(self, path: str) -> QueryRoute | None:
        return self.routes.get(path)

    def find(self, path: str, query: bytes) -> CachedResponse | None:
        """The finished page for this address and query (rendered now on a miss), or None when no
        query page lives there."""
        found = self.lookup(path, query)
        return self.render(found) if isinstance(found, Miss) else found

    def lookup(self, path: str, query: bytes) -> CachedResponse | Miss | None:
        """The page if it is already rendered; a ``Miss`` to ``render`` (once admitted) if not; None
        when no query page lives there."""
        route = self.routes.get(path)
        if route is None:
            return None
        params = parse_query(query, route.names)
        today = self.clock.today()
        key = (path, tuple(sorted(params.items())), today if route.daily else None)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return cached
        return Miss(route, params, today, key)

    def render(self, miss: Miss) -> CachedResponse:
        """Render a missed page and keep it (the least recently used page makes room)."""
        self.misses += 1
        rendered = miss.route.render(miss.params, miss.today)
        self._cache[miss.key] = rendered
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return rendered
