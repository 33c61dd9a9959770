"""Anti-passback's tables: the areas, their doors, and who is inside each.

Kept beside ``storage/rules_schema.py`` on the same ``Base``; migration 0014 creates them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import Base


class Area(Base):
    """An anti-passback area (core.rules.model.AntiPassbackArea). Kept by name across
    rules imports, so that importing the same rules again keeps who is inside."""

    __tablename__ = "areas"
    __table_args__ = (CheckConstraint("mode IN ('soft', 'hard')", name="mode"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(8))


class AreaDoor(Base):
    """A door of an area, with its one role there (a door may be in several areas)."""

    __tablename__ = "area_doors"
    __table_args__ = (CheckConstraint("role IN ('entry', 'exit')", name="role"),)

    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )
    kiosk_id: Mapped[str] = mapped_column(
        ForeignKey("doors.kiosk_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(8))


class AreaPresence(Base):
    """A person's place in an area as last recorded (core.rules.passback.Presence).

    The door locks this row from its check to its write; a row is made, outside,
    the first time a person meets one of the area's doors."""

    __tablename__ = "area_presence"
    __table_args__ = (
        CheckConstraint(
            "(inside_since IS NULL) = (counts_until IS NULL)", name="inside_until_reset"
        ),
    )

    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    inside_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The entry's daily reset: the next local midnight at its door."""
    door: Mapped[str | None] = mapped_column(String(64))
    """The kiosk id of the door last passed: the entry door while inside."""
    passed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mark: Mapped[uuid.UUID | None] = mapped_column()
    """The passage that wrote the row (core.rules.presence_store.DoorPassage.mark)."""
