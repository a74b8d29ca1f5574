"""The one table of "email me when it's my turn": a ticket's request for an email, then its link.

The address lives here only until the email is queued (the same transaction sets it to NULL), and
in the outbox until it is delivered (then that message's recipient and body are blanked). What
stays for the limits is a keyed hash of the address and of the client; the row goes an hour after
it was made or once its link has expired, whichever is later.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class TurnEmail(Base):
    __tablename__ = "turn_emails"
    __table_args__ = (UniqueConstraint("room", "number", name="uq_turn_emails_room_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The ticket, whole, so that the link can claim it from any browser (the mail app's, say).
    room: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(BigInteger)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    predicted: Mapped[int] = mapped_column(Integer)
    place: Mapped[int] = mapped_column(BigInteger, index=True)  # where it stands in the line
    email: Mapped[str | None] = mapped_column(String(254), default=None)  # NULL once queued
    lang: Mapped[str] = mapped_column(String(2))
    next: Mapped[str] = mapped_column(String(512))  # where the person was going
    address_key: Mapped[str] = mapped_column(String(64), index=True)  # keyed hash, for the limits
    client_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    outbox_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)  # erased once delivered
