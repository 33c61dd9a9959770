"""People's PINs and their throttle (migrations 0013, 0018): one row per person, and
one per person and door where they typed wrong PINs.

A person's row is made when their PIN is set or first typed at a door, and erased
with the person (storage.identity_store's erasure); the PINs are bcrypt hashes
(core.people.pins), never the PINs themselves.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.schema import Base

# "bcrypt-sha256$" and bcrypt's 60 characters, with room to spare.
HASH_LENGTH = 128


class PersonPin(Base):
    __tablename__ = "person_pins"
    __table_args__ = (
        CheckConstraint("duress_hash IS NULL OR pin_hash IS NOT NULL", name="duress_needs_pin"),
        CheckConstraint("failures >= 0 AND locks >= 0", name="counts"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    pin_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    duress_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    failures: Mapped[int] = mapped_column(server_default=text("0"))
    """Wrong PINs in a row, at all doors together (core.people.pin_throttle)."""
    locks: Mapped[int] = mapped_column(server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PinDoorFailures(Base):
    """One person's wrong PINs in a row at one door (core.people.pin_throttle): PIN
    entry is slowed at that door first. Erased with the person's PIN row."""

    __tablename__ = "pin_door_failures"
    __table_args__ = (CheckConstraint("failures >= 0 AND locks >= 0", name="counts"),)

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("person_pins.person_id", ondelete="CASCADE"), primary_key=True
    )
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(server_default=text("0"))
    locks: Mapped[int] = mapped_column(server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
