"""An operator's session epoch: sessions end when the account changes.

A session captures the epoch at login; every action compares it with the row
in its own transaction. Disabling an operator, changing their role or setting
their password moves the epoch on, so sessions opened before are refused at
their next action, at every kiosk and in every process.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "operators",
        sa.Column("session_epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("operators", "session_epoch")
