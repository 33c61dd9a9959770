"""A kiosk's last door report says it stopped cleanly (issue 23, finding M5).

``door_reports.stopped``: true in the report a kiosk writes as it stops cleanly, its
lock just forced locked; false in every report of a running kiosk. A door whose kiosk
stopped reads "stopped" at once, not "stale" minutes later, and never keeps the state
it had before the stop (unlocked, say). Every existing report is of a kiosk that was
running when it wrote it: false.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "door_reports",
        sa.Column("stopped", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("door_reports", "stopped")
