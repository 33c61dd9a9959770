"""Operators' door commands and each kiosk's door state (issue 23, door control).

``door_commands``: lockdown, release and unlock-for-N-seconds asked for with
``kiosk-admin door``, each taken once by its kiosk. ``door_reports``: each kiosk's
door as it last reported it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "door_commands",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.String(length=63), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('unlock', 'lockdown', 'release')", name=op.f("ck_door_commands_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_commands")),
    )
    op.create_index(op.f("ix_door_commands_kiosk_id"), "door_commands", ["kiosk_id"])
    op.create_table(
        "door_reports",
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("adapter", sa.String(length=128), nullable=False),
        sa.Column("unlocked", sa.Boolean(), nullable=False),
        sa.Column("door_open", sa.Boolean(), nullable=True),
        sa.Column("lockdown", sa.Boolean(), nullable=False),
        sa.Column(
            "alarms",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("fault", sa.String(length=300), nullable=True),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_door_reports")),
    )


def downgrade() -> None:
    op.drop_table("door_reports")
    op.drop_index(op.f("ix_door_commands_kiosk_id"), table_name="door_commands")
    op.drop_table("door_commands")
