"""The one clock: today's date and the present moment, behind a small protocol so tests and the surge
simulator can set them.

Rules take dates as arguments; the web layer and the services ask the clock. Haven's rules are Canadian
rules dated in Canada, so "today" is the date in Ottawa, not on the server; moments are aware, in UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

OTTAWA = ZoneInfo("America/Toronto")
NOON = dt.time(12)


class Clock(Protocol):
    def today(self) -> dt.date: ...
    def now(self) -> dt.datetime: ...


class SystemClock:
    def today(self) -> dt.date:
        return dt.datetime.now(OTTAWA).date()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class FixedClock:
    """A clock that stands still: at noon in Ottawa on ``day`` unless ``moment`` says otherwise."""

    day: dt.date
    moment: dt.datetime | None = field(default=None)

    def today(self) -> dt.date:
        return self.day

    def now(self) -> dt.datetime:
        if self.moment is not None:
            return self.moment
        return dt.datetime.combine(self.day, NOON, OTTAWA).astimezone(dt.UTC)
