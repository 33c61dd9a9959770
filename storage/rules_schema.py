"""The access rules' tables (issue 12): doors, schedules, holiday calendars, groups,
and the rules' generation.

Kept beside ``storage/schema.py`` on the same ``Base``; migrations 0012 and 0018 create them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import Base, DoorCommand, created_at_column

DOOR_MODES = ("face", "face_and_pin")


class Door(Base):
    """A kiosk as a door, by its kiosk id; made when the kiosk first starts, or
    by an admin before it does (kiosk-admin doors add, a rules file)."""

    __tablename__ = "doors"
    __table_args__ = (CheckConstraint("mode IN ('face', 'face_and_pin')", name="mode"),)

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    time_zone: Mapped[str] = mapped_column(String(64))
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("holiday_calendars.id", ondelete="SET NULL")
    )
    mode: Mapped[str] = mapped_column(String(16), server_default="face")
    created_at: Mapped[datetime] = created_at_column()


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class ScheduleRange(Base):
    """One weekday's range of a schedule, in minutes after local midnight."""

    __tablename__ = "schedule_ranges"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("0 <= start_minute AND start_minute < end_minute", name="range"),
        CheckConstraint("end_minute <= 1440", name="end_of_day"),
    )

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    start_minute: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    end_minute: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class HolidayCalendar(Base):
    __tablename__ = "holiday_calendars"
    __table_args__ = (
        CheckConstraint("subdivision IS NULL OR country IS NOT NULL", name="subdivision"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    country: Mapped[str | None] = mapped_column(String(8))
    subdivision: Mapped[str | None] = mapped_column(String(16))


class ClosureDay(Base):
    """A day the site is closed, beyond the country's public holidays."""

    __tablename__ = "closure_days"

    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("holiday_calendars.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class AccessGroup(Base):
    __tablename__ = "access_groups"
    __table_args__ = (
        # At most one group takes the people enrolled without naming one.
        Index(
            "uq_access_groups_is_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="RESTRICT"))
    holiday_schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="RESTRICT")
    )
    all_doors: Mapped[bool] = mapped_column(Boolean, server_default="false")
    is_default: Mapped[bool] = mapped_column(Boolean, server_default="false")
    enrollers_may_assign: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Enrollers may put people in this group; any other group only an admin (0018)."""


class GroupDoor(Base):
    __tablename__ = "group_doors"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True
    )
    kiosk_id: Mapped[str] = mapped_column(
        ForeignKey("doors.kiosk_id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RulesGeneration(Base):
    """One row: the generation of the stored rules, one more with each committed change
    (storage/rules_generation.py). A rules file carries the generation it was exported
    from, and an import from an older one is refused."""

    __tablename__ = "rules_generation"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("generation >= 0", name="counts"),
    )

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    generation: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    changed_at: Mapped[datetime] = created_at_column()


# The door's rules read finds the door's standing lockdown (its newest lockdown or
# release command) through this, with every decision: few rows, however many unlocks.
Index(
    "ix_door_commands_standing",
    DoorCommand.kiosk_id,
    DoorCommand.id,
    postgresql_where=text("kind IN ('lockdown', 'release')"),
)
