"""Access decisions say where they were made: at a door, or by ``kiosk-admin identify``.

A CLI identification is recorded as such and never counts as the person being
seen at a door (it does not extend their retention). Existing rows were all
made at doors or counted as such: they become "door".

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "access_events",
        sa.Column("source", sa.String(8), nullable=False, server_default="door"),
    )
    op.create_check_constraint("source", "access_events", "source IN ('door', 'cli')")


def downgrade() -> None:
    op.drop_constraint("ck_access_events_source", "access_events", type_="check")
    op.drop_column("access_events", "source")
