"""The waiting page and the waiting-room status, in both languages.

The page is a page, not an error: it says where the visitor stands, how long the wait may be, what
happens to their place and their answers, and offers a "Check your place" button that works without
JavaScript. A small script (``waiting.js``) works the place and the wait out by itself from the
public room state (``/api/v1/waiting-room/state``, the same cached bytes for everyone) and the
visitor's number, which the page carries; it asks Haven about the visitor only when the turn is near.
The words it needs, in the page's language(s), are in the page too, so it translates nothing itself.

Where the language is not known yet (``/waiting-room``, or a queued request outside ``/en/`` and
``/fr/``) the page is bilingual, English left and French right.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

from markupsafe import escape

from haven.shield.eta import due_soon
from haven.web.clock import OTTAWA
from haven.web.i18n import LANGUAGES, OTHER, Language
from haven.web.templates import Layout, render_bilingual

State = Literal["waiting", "your-turn", "before-opening", "lapsed", "not-queueing", "working"]
WAITING_PATHS: Final[dict[str, Language | None]] = {
    "/waiting-room": None,
    "/en/waiting-room": "en",
    "/fr/salle-d-attente": "fr",
}
PATH_OF: Final[dict[Language | None, str]] = {lang: path for path, lang in WAITING_PATHS.items()}
STATUS_PATH: Final = "/api/v1/waiting-room"
# Markers in the pre-rendered waiting pages: plain letters, untouched by HTML escaping and URL quoting.
NEXT_RAW: Final = "HAVENMARKNEXTRAW"
NEXT_QUOTED: Final = "HAVENMARKNEXTQUOTED"
CHALLENGE: Final = "HAVENMARKCHALLENGE"
CHECK_AGAIN: Final = "HAVENMARKCHECKAGAIN"
NUMBER: Final = "HAVENMARKNUMBER"
SUMMARY: Final[dict[Language, str]] = {lang: f"HAVENMARKSUMMARY{lang.upper()}" for lang in LANGUAGES}
MIN_POLL: Final = 5.0  # seconds between checks near the front of the line
FRONT_POLL: Final = 1.0  # the next check when the turn is near (the room holds it until it comes)
MAX_POLL: Final = 60.0  # and far back: a million people polling every 5 s would be 200k requests/s


@dataclass(frozen=True)
class View:
    """What the room says to one visitor."""

    state: State
    position: int = 0
    eta_low: float = -1.0  # seconds; -1 when it cannot be estimated
    eta_high: float = -1.0
    opens_at: float = 0.0  # wall clock
    next: str = ""  # where the visitor was going
    challenge: str = ""  # "working": the proof-of-work to do before joining
    number: int | None = None  # the ticket's place in the line; None before an event's draw

    def check_again(self, speed: float, now: float | None = None) -> float:
        """Seconds before the next check: short near the front, longer far back; never in step
        with everyone else (the script adds its own jitter as well). Where the line does not move
        (paused, or before an event opens) people check rarely, however near the front: a million
        of them checking every few seconds would be a flash crowd of its own."""
        if self.state == "before-opening":
            until = self.opens_at - (time.time() if now is None else now)
            base = min(MAX_POLL, max(MIN_POLL, until))
        elif self.state != "waiting":
            base = MIN_POLL * 2
        elif speed < 1e-3:
            base = MAX_POLL / 2 if self.position <= 100 else MAX_POLL
        elif due_soon(self.eta_high):
            # The turn is near: the room holds the next check until it comes, so check at once
            # (people go in at the tick that reaches them, in the order they came).
            return FRONT_POLL
        else:
            base = min(MAX_POLL, max(MIN_POLL, self.position / speed / 10))
        return round(base * random.uniform(0.8, 1.2), 1)  # noqa: S311 - jitter, not a secret


def number(value: int, lang: Language) -> str:
    text = f"{value:,}"
    return text.replace(",", "\u00a0") if lang == "fr" else text


def duration(seconds: float, gettext: Callable[[str], str], lang: Language) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 90:
        return gettext("1 minute") if minutes == 1 else gettext("{n} minutes").format(n=number(minutes, lang))
    # Tenths of an hour, halves rounded up: the same arithmetic as ``waiting.js`` (round() rounds
    # halves to even, and the page would say 2.2 hours where the script says 2.3).
    hours = math.floor(minutes / 6 + 0.5) / 10
    shown = f"{hours:g}".replace(".", ",") if lang == "fr" else f"{hours:g}"
    return gettext("{n} hours").format(n=shown)


def lapsed_text(gettext: Callable[[str], str], keep_minutes: int) -> str:
    return gettext(
        "Your turn came more than {minutes} minutes ago, so your place was given up. "
        "Press “Check your place” to join the queue again."
    ).format(minutes=keep_minutes)


def texts(
    view: View, gettext: Callable[[str], str], lang: Language, keep_minutes: int = 10
) -> dict[str, str]:
    """The words of the status region in one language."""
    _ = gettext
    out = {"position": number(view.position, lang), "eta": "", "opens": ""}
    if view.eta_high >= 0 and view.state == "waiting":
        low, high = duration(view.eta_low, _, lang), duration(view.eta_high, _, lang)
        out["eta"] = (
            _("about {time}").format(time=high)
            if low == high
            else _("between {low} and {high}").format(low=low, high=high)
        )
    if view.opens_at:
        local = datetime.fromtimestamp(view.opens_at, UTC).astimezone(OTTAWA)
        out["opens"] = local.strftime("%H:%M") if lang == "en" else local.strftime("%H h %M")
    if view.state == "your-turn":
        out["summary"] = _("It is your turn. You can continue to Haven now.")
    elif view.state == "working":
        out["summary"] = _("Your browser is getting your place in the queue. This takes a few seconds.")
    elif view.state == "before-opening":
        out["summary"] = _(
            "The service opens at {time}, Ottawa time. Your place will be drawn at random then."
        ).format(time=out["opens"])
    elif view.state == "lapsed":
        out["summary"] = lapsed_text(_, keep_minutes)
    elif view.state == "not-queueing":
        out["summary"] = _("There is no queue right now. You can continue to Haven.")
    elif out["eta"]:
        out["summary"] = _("Your place in the queue: {position}. Estimated wait: {eta}.").format(
            position=out["position"], eta=out["eta"]
        )
    else:
        out["summary"] = _(
            "Your place in the queue: {position}. We cannot estimate the wait yet: the queue is not moving."
        ).format(position=out["position"])
    return out


def script_words(gettext: Callable[[str], str], lang: Language, keep_minutes: int) -> dict[str, str]:
    """What ``waiting.js`` needs to say the place and the wait itself, in one language: the same
    sentences ``texts`` fills in, with their placeholders, and how numbers are written."""
    _ = gettext
    return {
        "waiting": _("Your place in the queue: {position}. Estimated wait: {eta}."),
        "still": _(
            "Your place in the queue: {position}. We cannot estimate the wait yet: the queue is not moving."
        ),
        "between": _("between {low} and {high}"),
        "about": _("about {time}"),
        "minute": _("1 minute"),
        "minutes": _("{n} minutes"),
        "hours": _("{n} hours"),
        "turn": _("It is your turn. You can continue to Haven now."),
        "none": _("There is no queue right now. You can continue to Haven."),
        "lapsed": lapsed_text(_, keep_minutes),
        "group": "\u00a0" if lang == "fr" else ",",
        "decimal": "," if lang == "fr" else ".",
    }


class WaitingPages:
    def __init__(self, layout: Layout, ticket_ttl: float, work_bits: int = 0) -> None:
        self.layout = layout
        self.renderer = layout.renderer
        self.keep_minutes = max(1, int(ticket_ttl // 60))
        self.work_bits = work_bits
        self._too_many = render_bilingual(self.renderer, "too_many", noindex=True).encode()
        self._skeletons: dict[tuple[Language | None, State, bool], str] = {}

    def too_many(self) -> bytes:
        """The 429 page: bilingual, the same for everyone, rendered once."""
        return self._too_many

    def page(self, lang: Language | None, view: View, speed: float = 0.0) -> bytes:
        """The waiting page for one visitor. Rendering a template per request would make the
        waiting page the costliest thing a crowd can ask for, so each (language, state) is rendered
        once with markers, and a request only puts its own words and address in."""
        key = (lang, view.state, bool(view.next))
        skeleton = self._skeletons.get(key)
        if skeleton is None:
            skeleton = self._skeletons[key] = self._render(lang, view.state, bool(view.next))
        html = skeleton.replace(NEXT_QUOTED, quote(view.next, safe="/")).replace(NEXT_RAW, escape(view.next))
        html = html.replace(CHALLENGE, escape(view.challenge)).replace(
            CHECK_AGAIN, str(view.check_again(speed))
        )
        html = html.replace(NUMBER, "" if view.number is None else str(view.number))
        for column in LANGUAGES if lang is None else (lang,):
            words = texts(view, self.renderer.gettext(column), column, self.keep_minutes)
            html = html.replace(SUMMARY[column], escape(words["summary"]))
        return html.encode()

    def _render(self, lang: Language | None, state: State, has_next: bool) -> str:
        view = View(state, next=NEXT_RAW if has_next else "", challenge=CHALLENGE)
        query = f"?next={NEXT_QUOTED}" if has_next else ""
        context: dict[str, Any] = {
            "view": view,
            "keep_minutes": self.keep_minutes,
            "work_bits": self.work_bits,
            "check_again": CHECK_AGAIN,
            "number_marker": NUMBER,
            "noindex": True,
            "description": "",
            "canonical": None,
            "alternates": {},
        }
        if lang is None:
            columns = {column: self._column(column, view, self.keep_minutes) for column in LANGUAGES}
            return render_bilingual(
                self.renderer,
                "waiting",
                page="shield/waiting_bilingual.html",
                column_context={
                    "view": view,
                    "keep_minutes": self.keep_minutes,
                    "work_bits": self.work_bits,
                    "check_again": CHECK_AGAIN,
                    "number_marker": NUMBER,
                    "texts": columns,
                },
                **context,
            )
        return self.renderer.render(
            "shield/waiting.html",
            lang,
            title=self._title(view, self.renderer.gettext(lang)),
            texts={lang: self._column(lang, view, self.keep_minutes)},
            toggle_href=PATH_OF[OTHER[lang]] + query,
            crumbs=[],
            footer_links=self.layout.chrome(lang)["footer_links"],
            **context,
        )

    def _column(self, lang: Language, view: View, keep_minutes: int) -> dict[str, Any]:
        return {
            "summary": SUMMARY[lang],
            "check_path": PATH_OF[lang],
            "continue": view.next or f"/{lang}/",
            "words": script_words(self.renderer.gettext(lang), lang, keep_minutes),
        }

    @staticmethod
    def _title(view: View, _: Callable[[str], str]) -> str:
        if view.state == "your-turn":
            return _("It is your turn")
        if view.state == "not-queueing":
            return _("There is no queue right now")
        if view.state == "working":
            return _("Getting your place in the queue")
        return _("You are in the queue for Haven")

    def status(self, view: View, speed: float) -> bytes:
        """The JSON a polling page (or a mobile app) reads: numbers, and the words in both languages."""
        body = {
            "state": view.state,
            "number": view.number,
            "position": view.position if view.state == "waiting" else None,
            "eta_seconds": (
                {"low": round(view.eta_low), "high": round(view.eta_high)}
                if view.state == "waiting" and view.eta_high >= 0
                else None
            ),
            "opens_at": (datetime.fromtimestamp(view.opens_at, UTC).isoformat() if view.opens_at else None),
            "check_again_seconds": view.check_again(speed),
            "continue_url": view.next or "/",
            "text": {
                lang: texts(view, self.renderer.gettext(lang), lang, self.keep_minutes) for lang in LANGUAGES
            },
        }
        return json.dumps(body, ensure_ascii=False).encode()
