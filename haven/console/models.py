"""The console's tables: operators (never applicants: a table, a cookie and sessions of their own),
their sessions, and the audit log of everything they did."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # what they sign in with, lowercased
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[bytes] = mapped_column(LargeBinary)  # sealed with HAVEN_DATA_KEY
    # The last 30-second step whose code was accepted: a code works once, even within its window.
    totp_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class OperatorSession(Base):
    """Like an applicant's session: the browser holds the id, the table its hash."""

    __tablename__ = "operator_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class AuditEntry(Base):
    """One thing an operator did (or tried): who, what, when, and the state before and after, as
    JSON text. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    operator: Mapped[str] = mapped_column(String(64))  # the name, kept even if the operator goes
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(64), default="")
