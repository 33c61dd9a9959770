"""Anti-passback (issue 25, item 6): areas with their entry and exit doors, and
each person's presence in each area.

No area exists after the upgrade: anti-passback is off until a rules file or an
admin defines one, so an upgraded installation grants everyone it granted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.CheckConstraint("mode IN ('soft', 'hard')", name=op.f("ck_areas_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("name", name=op.f("uq_areas_name")),
    )
    op.create_table(
        "area_doors",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.CheckConstraint("role IN ('entry', 'exit')", name=op.f("ck_area_doors_role")),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["areas.id"],
            name=op.f("fk_area_doors_area_id_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["doors.kiosk_id"],
            name=op.f("fk_area_doors_kiosk_id_doors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("area_id", "kiosk_id", name=op.f("pk_area_doors")),
    )
    op.create_index(op.f("ix_area_doors_kiosk_id"), "area_doors", ["kiosk_id"])
    op.create_table(
        "area_presence",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("inside_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("door", sa.String(length=64), nullable=True),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mark", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(inside_since IS NULL) = (counts_until IS NULL)",
            name=op.f("ck_area_presence_inside_until_reset"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["areas.id"],
            name=op.f("fk_area_presence_area_id_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_area_presence_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("area_id", "person_id", name=op.f("pk_area_presence")),
    )
    op.create_index(op.f("ix_area_presence_person_id"), "area_presence", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_area_presence_person_id"), table_name="area_presence")
    op.drop_table("area_presence")
    op.drop_index(op.f("ix_area_doors_kiosk_id"), table_name="area_doors")
    op.drop_table("area_doors")
    op.drop_table("areas")
