"""The public face of rounds of invitations: the "Rounds of invitations" page in both languages, the
``GET /api/v1/rounds`` document, and the recent cut-offs the calculators show beside a score.

All of it is finished bytes, made again only when a round is recorded: every worker asks the database
every few seconds how many rounds there are (one small query per worker, never one per request), and
when the answer changes it reads them and renders the pages once. Draw day's crowd reading the page
costs a dictionary lookup each, and the pages are public and cacheable, so nginx in front answers most.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from haven.content.site import Site
from haven.rounds.service import RoundRecord, Rounds, round_day, utc_text
from haven.rules.categories import table_on
from haven.web.i18n import LANGUAGES, N_, Language, long_date
from haven.web.pagecache import HTML, CachedResponse, build
from haven.web.templates import Renderer

logger = logging.getLogger("haven.rounds")
PAGE_KEY: Final = "rounds-of-invitations"
API_PATH: Final = "/api/v1/rounds"
TEMPLATE: Final = "rounds/rounds.html"
CACHE_CONTROL: Final = "public, max-age=30"  # a new round shows within the poll and this
POLL_SECONDS: Final = 5.0
RECENT: Final = 3  # category and program rounds shown beside a score

KIND_LABELS: Final = {
    "general": N_("All programs"),
    "cec": N_("Canadian Experience Class"),
    "fsw": N_("Federal Skilled Worker Program"),
    "fst": N_("Federal Skilled Trades Program"),
    "pnp": N_("Provincial Nominee Program"),
}


def kind_label(record: RoundRecord, lang: Language, gettext: Callable[[str], str]) -> str:
    if record.category is not None:
        dated = table_on(round_day(record.at))
        category = dated.table.get(record.category) if dated is not None else None
        return category.title(lang) if category is not None else record.category
    return gettext(KIND_LABELS[record.key])


@dataclass(frozen=True)
class Cutoff:
    """One recent round, as a sentence beside a score shows it."""

    label: str
    date: str
    cutoff: int
    general: bool


class RoundsBoard:
    """The rounds every worker shows, and the finished pages made from them."""

    def __init__(self, renderer: Renderer, contexts: Mapping[Language, Mapping[str, Any]]) -> None:
        """``contexts``: each language's "Rounds of invitations" page as the content library renders
        it."""
        self.renderer = renderer
        self.contexts = contexts
        self.responses: MutableMapping[str, CachedResponse] = {}
        self.records: tuple[RoundRecord, ...] = ()
        self.version: tuple[int, dt.datetime | None] | None = None
        self.on_change: list[Callable[[], None]] = []  # e.g. forget calculator pages that show cut-offs
        self._task: asyncio.Task[None] | None = None
        self.update(())

    @classmethod
    def of(cls, site: Site) -> RoundsBoard:
        return cls(site.renderer, {lang: site.live_pages[(lang, PAGE_KEY)] for lang in LANGUAGES})

    def attach(self, responses: MutableMapping[str, CachedResponse]) -> None:
        """Publish the board's pages among ``responses`` (the app's finished pages), from now on."""
        self.responses = responses
        self.update(self.records)

    @property
    def paths(self) -> dict[Language, str]:
        return {lang: self.contexts[lang]["page"].path for lang in LANGUAGES}

    def update(self, records: Sequence[RoundRecord]) -> None:
        self.records = tuple(records)
        for lang in LANGUAGES:
            self.responses[self.paths[lang]] = self._page(lang)
        document = {"rounds": [record.as_json() for record in self.records]}
        self.responses[API_PATH] = build(
            json.dumps(document, ensure_ascii=False).encode(),
            content_type="application/json",
            cache_control=CACHE_CONTROL,
            route_class="api",
        )
        for listener in self.on_change:
            listener()

    def _page(self, lang: Language) -> CachedResponse:
        _ = self.renderer.gettext(lang)
        rows = [
            {
                "id": record.id,
                "date": long_date(round_day(record.at), lang),
                "iso": utc_text(record.at),
                "kind": kind_label(record, lang, _),
                "size": record.size,
                "invited": record.invited,
                "cutoff": record.cutoff,
                "tie_break": utc_text(record.tie_break),
                "tie_break_text": tie_break_text(record.tie_break, lang),
            }
            for record in self.records
        ]
        html = self.renderer.render(TEMPLATE, lang, **{**self.contexts[lang], "rounds": rows})
        return build(html.encode(), content_type=HTML, cache_control=CACHE_CONTROL, route_class="content")

    def cutoffs(self, lang: Language) -> list[Cutoff]:
        """The last general round and the last few others, newest first: what a score is set beside."""
        _ = self.renderer.gettext(lang)
        shown: list[Cutoff] = []
        general_seen = False
        others = 0
        for record in self.records:
            if record.cutoff is None:
                continue
            general = record.kind == "general"
            if (general and general_seen) or (not general and others >= RECENT):
                continue
            general_seen = general_seen or general
            others += not general
            shown.append(
                Cutoff(
                    kind_label(record, lang, _), long_date(round_day(record.at), lang), record.cutoff, general
                )
            )
        return shown

    async def poll(self, rounds: Rounds) -> bool:
        """Read the rounds again if there is a new one; True when the pages changed."""
        version = await rounds.version()
        if version == self.version:
            return False
        records = await rounds.all()
        self.version = version
        self.update(records)
        return True

    def start(self, rounds: Rounds, every: float = POLL_SECONDS) -> None:
        async def follow() -> None:
            while True:
                try:
                    await self.poll(rounds)
                except Exception:  # the database is away: the pages stay as they were
                    logger.warning("could not read the rounds of invitations; the pages stay as they are")
                await asyncio.sleep(every)

        self._task = asyncio.get_running_loop().create_task(follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def tie_break_text(moment: dt.datetime | None, lang: Language) -> str:
    if moment is None:
        return "–"
    utc = moment.astimezone(dt.UTC)
    if lang == "fr":
        return f"{long_date(utc.date(), lang)} à {utc:%H} h {utc:%M} min {utc:%S} s UTC"
    return f"{long_date(utc.date(), lang)} at {utc:%H:%M:%S} UTC"
