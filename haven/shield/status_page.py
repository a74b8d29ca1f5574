"""The live service status page, ``/en/service-status`` and ``/fr/etat-service``: the room's state
(normal, busy, queueing, paused or before an opening), the people in line, the wait of someone
arriving now and when it was worked out, above the page's own explanations.

The figures come from the public room state, once a tick (``StatusPages.update`` is one of the
shield's ``after_tick`` hooks): each language's page is rendered once with markers, and a tick only
puts its figures in and finishes the bytes (gzip and ETag), which every request for the next second
is served, cookie-free and public for a second, so nginx or a CDN in front answers nearly all of
them. The words of the page come from the content library; the app hands them in (the shield
imports no feature).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from markupsafe import escape

from haven.shield.pages import duration, number
from haven.web.asgi import Receive, Scope, Send, name_route
from haven.web.clock import OTTAWA
from haven.web.i18n import LANGUAGES, Language
from haven.web.pagecache import HTML, CachedResponse, build
from haven.web.templates import Renderer

STATUS_PAGE_PATHS: Final[dict[str, Language]] = {"/en/service-status": "en", "/fr/etat-service": "fr"}
PATH_OF: Final[dict[Language, str]] = {lang: path for path, lang in STATUS_PAGE_PATHS.items()}
CACHE_CONTROL: Final = "public, max-age=1"  # the figures change once a tick
ROUTE_CLASS: Final = "status"
TEMPLATE: Final = "shield/service_status.html"
# Markers in the pre-rendered pages: plain letters, untouched by HTML escaping.
MARKS: Final = ("STATE", "LABEL", "EXPLAINED", "WAITING", "WAIT", "KEPT", "ISO", "CLOCK")
MARK: Final[dict[str, str]] = {name: f"HAVENMARKSTATUS{name}" for name in MARKS}
UNKNOWN: Final = "unknown"  # before the first tick
OFF: Final = "off"  # Haven runs without the shield (``HAVEN_SHIELD=false``): no waiting room at all


class RoomFigures(Protocol):
    """What the page reads of the public room state (``haven.shield.public.PublicState``)."""

    @property
    def status(self) -> str: ...  # "normal" | "busy" | "queueing" | "paused" | "before-opening"

    @property
    def waiting(self) -> int: ...

    @property
    def place_kept_seconds(self) -> float: ...

    @property
    def opens_at(self) -> float | None: ...  # wall clock

    @property
    def computed_at(self) -> float: ...  # wall clock

    def wait_range(self, ahead: int) -> tuple[float, float]: ...  # seconds; negative: not moving


def labels(gettext: Callable[[str], str]) -> dict[str, tuple[str, str]]:
    """Each state's name and what it means for a visitor, in one language."""
    _ = gettext
    return {
        "normal": (
            _("Normal"),
            _("Everything is working. You can use every part of the service without waiting."),
        ),
        "busy": (
            _("Busy"),
            _(
                "Many people are using Haven. There is no queue yet: if more people arrive, "
                "the waiting room opens."
            ),
        ),
        "queueing": (
            _("Busy: waiting room open"),
            _(
                "People are let in from the waiting room in the order they arrived, as fast as the "
                "service can serve them well."
            ),
        ),
        "paused": (
            _("Paused: waiting room open"),
            _(
                "For now, nobody more is let in from the waiting room. People who are in carry on, "
                "and everyone in the queue keeps their place."
            ),
        ),
        "before-opening": (
            _("Opening soon"),
            _(
                "The service opens at a set time. Everyone who arrives before then gets a place "
                "in the queue, drawn at random when it opens."
            ),
        ),
        UNKNOWN: (
            _("Not known yet"),
            _("Haven is working out its state. Reload this page in a few seconds."),
        ),
        OFF: (
            _("No waiting room"),
            _("The waiting room is turned off: everyone goes straight in, even when Haven is busy."),
        ),
    }


def present_wait(state: RoomFigures, gettext: Callable[[str], str], lang: Language) -> str:
    """The wait of someone who joins the line now, in words."""
    _ = gettext
    if state.waiting <= 0 or state.status in ("normal", "busy"):
        return _("No wait")
    low, high = state.wait_range(state.waiting)
    if high < 0:
        return _("Cannot be estimated: the queue is not moving")
    shown_low, shown_high = duration(low, _, lang), duration(high, _, lang)
    if shown_low == shown_high:
        return _("about {time}").format(time=shown_high)
    return _("between {low} and {high}").format(low=shown_low, high=shown_high)


def local_time(moment: float, lang: Language, *, seconds: bool = False) -> str:
    """A moment as people read it in Ottawa: 16:05 or 16:05:09; 16 h 05 or 16 h 05 min 09 s."""
    local = datetime.fromtimestamp(moment, UTC).astimezone(OTTAWA)
    if lang == "fr":
        return local.strftime("%H h %M min %S s" if seconds else "%H h %M")
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class StatusPages:
    """The status page in both languages, finished once a tick; an ASGI app for its two addresses."""

    def __init__(
        self, renderer: Renderer, contexts: Mapping[Language, Mapping[str, Any]], *, room: bool = True
    ) -> None:
        """``contexts``: each language's page as the content library renders it (its title, body,
        breadcrumbs, footer links, toggle and canonical addresses). ``room``: False when Haven runs
        without the shield, and the page says there is no waiting room."""
        self._absent = UNKNOWN if room else OFF
        self._gettext = {lang: renderer.gettext(lang) for lang in LANGUAGES}
        self._labels = {lang: labels(self._gettext[lang]) for lang in LANGUAGES}
        self._skeletons = {
            lang: renderer.render(TEMPLATE, lang, **{**contexts[lang], "mark": MARK}) for lang in LANGUAGES
        }
        self.responses: dict[str, CachedResponse] = {}
        self.update(None)

    def update(self, state: RoomFigures | None) -> None:
        """Finish both pages from ``state`` (None: not known)."""
        self.responses = {PATH_OF[lang]: self._finish(lang, state) for lang in LANGUAGES}

    async def after_tick(self, state: RoomFigures) -> None:
        """The shield's hook: the state of the tick just done."""
        self.update(state)

    def routes(self) -> dict[str, StatusPages]:
        """The addresses this app answers, for the waiting-room layer's ``routes``."""
        return dict.fromkeys(STATUS_PAGE_PATHS, self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name_route(scope, ROUTE_CLASS)
        await self.responses[scope["path"]].serve(scope, send)

    def _finish(self, lang: Language, state: RoomFigures | None) -> CachedResponse:
        _ = self._gettext[lang]
        status = self._absent if state is None else state.status
        label, explained = self._labels[lang].get(status, self._labels[lang][UNKNOWN])
        if status == "before-opening" and state is not None and state.opens_at:
            explained = _(
                "The service opens at {time}, Ottawa time. Everyone who arrives before then gets a "
                "place in the queue, drawn at random when it opens."
            ).format(time=local_time(state.opens_at, lang))
        figures = {
            "STATE": status,
            "LABEL": label,
            "EXPLAINED": explained,
            "WAITING": "–" if state is None else number(state.waiting, lang),
            "WAIT": "–" if state is None else present_wait(state, _, lang),
            "KEPT": "–" if state is None else self._minutes(state.place_kept_seconds, lang),
            "ISO": "" if state is None else iso(state.computed_at),
            "CLOCK": "–" if state is None else local_time(state.computed_at, lang, seconds=True),
        }
        html = self._skeletons[lang]
        for name, value in figures.items():
            html = html.replace(MARK[name], str(escape(value)))
        return build(html.encode(), content_type=HTML, cache_control=CACHE_CONTROL, route_class=ROUTE_CLASS)

    def _minutes(self, seconds: float, lang: Language) -> str:
        minutes = max(1, math.ceil(seconds / 60))
        _ = self._gettext[lang]
        return _("1 minute") if minutes == 1 else _("{n} minutes").format(n=number(minutes, lang))
