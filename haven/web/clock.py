"""Today's date, behind a small protocol so tests and the surge simulator can set it.

Rules take dates as arguments; the web layer asks the clock. Haven's rules are Canadian rules dated
in Canada, so "today" is the date in Ottawa, not on the server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

OTTAWA = ZoneInfo("America/Toronto")


class Clock(Protocol):
    def today(self) -> dt.date: ...


class SystemClock:
    def today(self) -> dt.date:
        return dt.datetime.now(OTTAWA).date()


@dataclass
class FixedClock:
    day: dt.date

    def today(self) -> dt.date:
        return self.day
