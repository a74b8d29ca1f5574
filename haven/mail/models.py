"""The outbox: every email Haven sends is first written here, in the same transaction as the change
it tells about, and delivered after the commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The language the message is written in ("en" or "fr"): its HTML part says so. The server
    # default serves rows written by code that predates the column (expand, then contract).
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    # Attempts that ended (sent, refused, or failed for now); an attempt under way is not counted.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not before then: the wait after a failed attempt, or the lease of a sweep sending it now.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    # When Haven gave up on it (refused for good, or every attempt failed); never tried again.
    failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    # Why the last attempt failed, as the relay said it, with any address taken out.
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
