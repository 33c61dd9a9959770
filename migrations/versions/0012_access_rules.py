"""Access rules (issue 12): doors, schedules, holiday calendars, groups, validity,
and the rule that refused a recognised person in each access event.

Existing installations keep granting everyone they granted: a schedule "always"
and a default group "everyone" that grants every door at all times, holding
everyone already enrolled (and, as the default group, everyone enrolled later
without naming a group).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_REFUSALS = (
    "no_group_for_door",
    "outside_schedule",
    "holiday",
    "expired",
    "not_yet_valid",
    "pin_wrong",
    "anti_passback",
    "lockdown",
)
_OLD_OUTCOMES = "'granted', 'unknown', 'no_face', 'offline', 'liveness_failed'"


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    op.create_table(
        "schedule_ranges",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_schedule_ranges_weekday")),
        sa.CheckConstraint(
            "0 <= start_minute AND start_minute < end_minute",
            name=op.f("ck_schedule_ranges_range"),
        ),
        sa.CheckConstraint("end_minute <= 1440", name=op.f("ck_schedule_ranges_end_of_day")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_ranges_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "schedule_id", "weekday", "start_minute", "end_minute", name=op.f("pk_schedule_ranges")
        ),
    )
    op.create_table(
        "holiday_calendars",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("subdivision", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "subdivision IS NULL OR country IS NOT NULL",
            name=op.f("ck_holiday_calendars_subdivision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_holiday_calendars_name")),
    )
    op.create_table(
        "closure_days",
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["holiday_calendars.id"],
            name=op.f("fk_closure_days_calendar_id_holiday_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("calendar_id", "day", name=op.f("pk_closure_days")),
    )
    op.create_table(
        "doors",
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=16), server_default="face", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("mode IN ('face', 'face_and_pin')", name=op.f("ck_doors_mode")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["holiday_calendars.id"],
            name=op.f("fk_doors_calendar_id_holiday_calendars"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_doors")),
    )
    op.create_table(
        "access_groups",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("holiday_schedule_id", sa.Integer(), nullable=True),
        sa.Column("all_doors", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_access_groups_schedule_id_schedules"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["holiday_schedule_id"],
            ["schedules.id"],
            name=op.f("fk_access_groups_holiday_schedule_id_schedules"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_access_groups_name")),
    )
    op.create_index(
        "uq_access_groups_is_default",
        "access_groups",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "group_doors",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["access_groups.id"],
            name=op.f("fk_group_doors_group_id_access_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["doors.kiosk_id"],
            name=op.f("fk_group_doors_kiosk_id_doors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "kiosk_id", name=op.f("pk_group_doors")),
    )
    op.create_index(op.f("ix_group_doors_kiosk_id"), "group_doors", ["kiosk_id"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["access_groups.id"],
            name=op.f("fk_group_members_group_id_access_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_group_members_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "person_id", name=op.f("pk_group_members")),
    )
    op.create_index(op.f("ix_group_members_person_id"), "group_members", ["person_id"])

    op.add_column("people", sa.Column("valid_from", sa.Date(), nullable=True))
    op.add_column("people", sa.Column("valid_until", sa.Date(), nullable=True))
    op.create_check_constraint(
        "validity",
        "people",
        "valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
    )

    op.add_column("access_events", sa.Column("refusal", sa.String(length=24), nullable=True))
    op.drop_constraint(op.f("ck_access_events_outcome"), "access_events", type_="check")
    op.create_check_constraint(
        "outcome", "access_events", f"outcome IN ({_OLD_OUTCOMES}, 'refused')"
    )
    refusals = ", ".join(f"'{r}'" for r in _REFUSALS)
    op.create_check_constraint(
        "refusal", "access_events", f"refusal IS NULL OR refusal IN ({refusals})"
    )
    op.create_check_constraint(
        "refused_why", "access_events", "(outcome = 'refused') = (refusal IS NOT NULL)"
    )

    # Everyone keeps the access they had: every door, at all times.
    op.execute(
        "INSERT INTO schedules (name) VALUES ('always');"
        "INSERT INTO schedule_ranges (schedule_id, weekday, start_minute, end_minute) "
        "SELECT s.id, d, 0, 1440 FROM schedules s, generate_series(0, 6) AS d "
        "WHERE s.name = 'always';"
        "INSERT INTO access_groups (name, schedule_id, all_doors, is_default) "
        "SELECT 'everyone', id, true, true FROM schedules WHERE name = 'always';"
        "INSERT INTO group_members (group_id, person_id) "
        "SELECT g.id, p.id FROM access_groups g, people p "
        "WHERE g.name = 'everyone' AND p.status = 'active';"
    )


def downgrade() -> None:
    # A refused decision cannot be rewritten as another outcome: the access chain's
    # hashes cover it, so the downgrade stops instead of breaking the chain.
    refused = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM access_events WHERE outcome = 'refused'")
    )
    if refused:
        raise RuntimeError(
            f"{refused} access events record rule refusals, which the older schema cannot "
            "hold; restore a backup taken before the upgrade instead of downgrading"
        )
    op.drop_constraint(op.f("ck_access_events_refused_why"), "access_events", type_="check")
    op.drop_constraint(op.f("ck_access_events_refusal"), "access_events", type_="check")
    op.drop_constraint(op.f("ck_access_events_outcome"), "access_events", type_="check")
    op.create_check_constraint("outcome", "access_events", f"outcome IN ({_OLD_OUTCOMES})")
    op.drop_column("access_events", "refusal")
    op.drop_constraint(op.f("ck_people_validity"), "people", type_="check")
    op.drop_column("people", "valid_until")
    op.drop_column("people", "valid_from")
    op.drop_index(op.f("ix_group_members_person_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_index(op.f("ix_group_doors_kiosk_id"), table_name="group_doors")
    op.drop_table("group_doors")
    op.drop_index("uq_access_groups_is_default", table_name="access_groups")
    op.drop_table("access_groups")
    op.drop_table("doors")
    op.drop_table("closure_days")
    op.drop_table("holiday_calendars")
    op.drop_table("schedule_ranges")
    op.drop_table("schedules")
