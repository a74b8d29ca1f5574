"""Accounts, their sign-in sessions, the one-time tokens sent by email, and sign-in throttles."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class Account(Base):
    __tablename__ = "accounts"
    # The retention sweep's: accounts never confirmed, by their age.
    __table_args__ = (Index("ix_accounts_email_verified_at_created_at", "email_verified_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # kept lowercased
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))  # the language emails are written in
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser. Only a hash of the cookie's id is stored: a copy of this table signs
    nobody in."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class EmailToken(Base):
    """A link sent by email (verify the address, reset the password): stored as a hash, used once."""

    __tablename__ = "email_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class Throttle(Base):
    """Failed sign-ins counted per account and per address, to slow guessing down."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
