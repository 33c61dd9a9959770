"""Events carry the id their kiosk gave them; offline and liveness-failed outcomes;
a row per kiosk.

A kiosk that cannot reach the database keeps its access and audit events in a
local spool and sends them later, perhaps twice if it stopped between sending
and forgetting them: the unique event id makes the second copy a no-op. Events
written before this revision get a fresh id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("access_events", "audit_events"):
        op.add_column(
            table,
            sa.Column(
                "event_id",
                postgresql.UUID(as_uuid=True),
                server_default=sa.text("gen_random_uuid()"),
                nullable=False,
            ),
        )
        op.create_unique_constraint(op.f(f"uq_{table}_event_id"), table, ["event_id"])
    op.drop_constraint(op.f("ck_access_events_outcome"), "access_events", type_="check")
    op.create_check_constraint(
        op.f("ck_access_events_outcome"),
        "access_events",
        "outcome IN ('granted', 'unknown', 'no_face', 'offline', 'liveness_failed')",
    )
    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosks")),
    )


def downgrade() -> None:
    op.drop_table("kiosks")
    op.execute("DELETE FROM access_events WHERE outcome IN ('offline', 'liveness_failed')")
    op.drop_constraint(op.f("ck_access_events_outcome"), "access_events", type_="check")
    op.create_check_constraint(
        op.f("ck_access_events_outcome"),
        "access_events",
        "outcome IN ('granted', 'unknown', 'no_face')",
    )
    for table in ("access_events", "audit_events"):
        op.drop_constraint(op.f(f"uq_{table}_event_id"), table, type_="unique")
        op.drop_column(table, "event_id")
