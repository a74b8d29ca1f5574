"""Problem reports: checked, stored in one statement, and read back newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, cast
from urllib.parse import urlsplit

from sqlalchemy import Row, Table

from haven.db import Database, newest
from haven.feedback.models import ProblemReport
from haven.web.security import safe_next

MAX_TEXT: Final = 2000
REPORTS: Final = cast(Table, ProblemReport.__table__)
MAX_PAGE: Final = 500


def page_of(raw: str | None, host: str) -> str:
    """The page a report is about: a path of this site, without its query (a calculator's address
    holds the answers typed into it), from a path or a full address on ``host``; "" otherwise."""
    if not raw:
        return ""
    parts = urlsplit(raw.strip())
    elsewhere = parts.scheme not in ("http", "https") or parts.netloc != host
    if (parts.scheme or parts.netloc) and elsewhere:
        return ""
    found = safe_next(parts.path)
    return found[:MAX_PAGE]


def text_problem(text: str) -> str | None:
    if not text.strip():
        return "empty"
    if len(text) > MAX_TEXT:
        return "long"
    return None


class Reports:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, lang: str, page: str, text: str, now: dt.datetime) -> int:
        async with self.database.transaction() as session:
            report = ProblemReport(
                created_at=now, lang=lang, page=page[:MAX_PAGE], text=text.strip()[:MAX_TEXT]
            )
            session.add(report)
            await session.flush()
            return report.id

    async def latest(self, *, before_id: int | None = None, limit: int = 50) -> tuple[list[Row[Any]], int]:
        """The newest reports first (older than ``before_id`` when given), and how many there are."""
        return await self.database.read(lambda connection: newest(connection, REPORTS, before_id, limit))
