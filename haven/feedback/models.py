"""Reports of problems with a page: which page, in which language, and what the person wrote."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class ProblemReport(Base):
    __tablename__ = "problem_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    lang: Mapped[str] = mapped_column(String(2))
    page: Mapped[str] = mapped_column(String(500))  # a path of this site, or "" when not said
    text: Mapped[str] = mapped_column(Text)
