"""The access rules' generation, groups enrollers may assign, and the PIN throttle per door
(issue 25's trial):

- ``rules_generation``: one row, the generation of the stored rules, one more with
  each change (an import, an edit, a door changed, a membership written). An export
  writes it; an import of a file from an older generation is refused (it would undo
  what changed since, such as people enrolled into groups). An installation with
  people enrolled starts at 1, so that a file exported before this upgrade (which
  names no generation) is refused as possibly stale; an empty one starts at 0.
- ``access_groups.enrollers_may_assign``: an enroller may name only such groups (the
  default group is joined without naming it). False for every existing group: an
  admin opens the groups meant for enrollers.
- ``pin_door_failures``: each person's wrong PINs in a row at each door, so that PIN
  entry is slowed at the door where someone guesses before it is slowed everywhere.
- ``ix_door_commands_standing``: the door reads its standing lockdown with every
  decision (a lockdown refuses with or without door hardware).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules_generation",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_rules_generation_one_row")),
        sa.CheckConstraint("generation >= 0", name=op.f("ck_rules_generation_counts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules_generation")),
    )
    op.execute(
        "INSERT INTO rules_generation (id, generation) "
        "SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM people) THEN 1 ELSE 0 END"
    )
    op.add_column(
        "access_groups",
        sa.Column(
            "enrollers_may_assign",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
    )
    op.create_table(
        "pin_door_failures",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "failures >= 0 AND locks >= 0", name=op.f("ck_pin_door_failures_counts")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person_pins.person_id"],
            name=op.f("fk_pin_door_failures_person_id_person_pins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "kiosk_id", name=op.f("pk_pin_door_failures")),
    )
    op.create_index(
        "ix_door_commands_standing",
        "door_commands",
        ["kiosk_id", "id"],
        postgresql_where=sa.text("kind IN ('lockdown', 'release')"),
    )


def downgrade() -> None:
    op.drop_index("ix_door_commands_standing", table_name="door_commands")
    op.drop_table("pin_door_failures")
    op.drop_column("access_groups", "enrollers_may_assign")
    op.drop_table("rules_generation")
