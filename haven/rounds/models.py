"""Express Entry rounds of invitations: the pool of submitted profiles as a round ranks it, the rounds
run, the invitations they issued and the applications started from them.

The pool keeps, for each profile in it, what a round ranks on: the CRS score and program flags on the
day they were worked out, and the day until which they cannot change (``valid_until``: the next
birthday, month of work, expiry of a test result or change of rules). A round re-scores only the
entries whose day has passed, then reads the highest-ranked straight off an index in rank order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class PoolEntry(Base):
    __tablename__ = "pool_entries"

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    number: Mapped[str] = mapped_column(String(24))
    score: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    eligible: Mapped[bool] = mapped_column(Boolean)  # for at least one of FSW, CEC and FST
    fsw: Mapped[bool] = mapped_column(Boolean)
    cec: Mapped[bool] = mapped_column(Boolean)
    fst: Mapped[bool] = mapped_column(Boolean)
    pnp: Mapped[bool] = mapped_column(Boolean)  # nominated by a province or territory
    rules_version: Mapped[str] = mapped_column(String(160))
    scored_on: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date, index=True)


class PoolCategory(Base):
    """A pool entry that meets a category's rule (and is eligible for a program), with the entry's
    ranking columns, so a category round reads its own index in rank order."""

    __tablename__ = "pool_categories"

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pool_entries.profile_id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(24))
    score: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


# The rankings themselves, highest score first, then earliest submission: a round reads one in order
# and stops at its size.
Index("ix_pool_entries_rank", PoolEntry.score.desc(), PoolEntry.submitted_at, PoolEntry.number)
Index(
    "ix_pool_categories_rank",
    PoolCategory.category,
    PoolCategory.score.desc(),
    PoolCategory.submitted_at,
    PoolCategory.number,
)


class Round(Base):
    __tablename__ = "rounds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # general, program, category
    program: Mapped[str | None] = mapped_column(String(8), default=None)
    category: Mapped[str | None] = mapped_column(String(32), default=None)
    size: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    rules_version: Mapped[str] = mapped_column(String(160))
    invited: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[int | None] = mapped_column(Integer, default=None)
    tie_break: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Invitation(Base):
    __tablename__ = "invitations"

    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    score: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    invited_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # open, accepted, declined
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class Application(Base):
    """An application for permanent residence, started by accepting an invitation: for now the
    checklist of the documents it will need, and which of them the person has ready."""

    __tablename__ = "applications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    profile_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), unique=True)
    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id"))
    ready: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
