"""turn emails: "email me when it's my turn"

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turn_emails",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("predicted", sa.Integer(), nullable=False),
        sa.Column("place", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("next", sa.String(length=512), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_emails")),
        sa.UniqueConstraint("room", "number", name="uq_turn_emails_room_number"),
    )
    with op.batch_alter_table("turn_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_turn_emails_address_key"), ["address_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_turn_emails_client_key"), ["client_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_turn_emails_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_turn_emails_place"), ["place"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("turn_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_turn_emails_place"))
        batch_op.drop_index(batch_op.f("ix_turn_emails_created_at"))
        batch_op.drop_index(batch_op.f("ix_turn_emails_client_key"))
        batch_op.drop_index(batch_op.f("ix_turn_emails_address_key"))

    op.drop_table("turn_emails")
