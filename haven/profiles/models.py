"""Express Entry profiles: a draft the applicant fills in section by section, then submits once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from haven.db import Base, UtcDateTime


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("account_id", "create_key"),
        # What the retention sweep looks for: drafts and expired profiles by their age.
        Index("ix_profiles_state_created_at", "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # "draft", "submitted", "invited", "accepted" (an application started) or "withdrawn";
    # "expired" is worked out from the dates, never stored.
    state: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(24), unique=True, default=None)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Encrypted with the data key (AES-GCM); never in ``answers``, never in a log.
    passport_number: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    crs_score: Mapped[int | None] = mapped_column(Integer, default=None)
    rules_version: Mapped[str | None] = mapped_column(String(64), default=None)
    create_key: Mapped[str] = mapped_column(String(64))  # the idempotency key of "start a profile"
    submit_key: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    invited_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    # When the "your profile expires in a month" email was queued (the sweep sends it once).
    expiry_notice_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
