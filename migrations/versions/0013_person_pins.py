"""People's PINs (issue 25, face-and-PIN doors): a PIN and a duress PIN per person,
as bcrypt hashes, with the PIN throttle's counters beside them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_pins",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("pin_hash", sa.String(length=128), nullable=True),
        sa.Column("duress_hash", sa.String(length=128), nullable=True),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "duress_hash IS NULL OR pin_hash IS NOT NULL",
            name=op.f("ck_person_pins_duress_needs_pin"),
        ),
        sa.CheckConstraint("failures >= 0 AND locks >= 0", name=op.f("ck_person_pins_counts")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_pins_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_pins")),
    )


def downgrade() -> None:
    op.drop_table("person_pins")
