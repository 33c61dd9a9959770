"""Changing a person's validity: one end at a time, and a visitor's default end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from core.rules.model import Validity


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP
"""An end of a validity left as it is."""


@dataclass(frozen=True)
class ValidityChange:
    """Which ends of a person's validity to set: a date, None (open on that side)
    or KEEP. Applied to the stored validity in the transaction that writes it, so
    two operators changing the two ends at once both take effect."""

    valid_from: date | Keep | None = KEEP
    valid_until: date | Keep | None = KEEP

    def applied_to(self, current: Validity) -> Validity:
        """The validity after the change; ValueError if it would end before it starts."""
        return Validity(
            current.valid_from if isinstance(self.valid_from, Keep) else self.valid_from,
            current.valid_until if isinstance(self.valid_until, Keep) else self.valid_until,
        )

    @property
    def changes(self) -> bool:
        return not (isinstance(self.valid_from, Keep) and isinstance(self.valid_until, Keep))


def visitor_validity(
    valid_from: date | None, valid_until: date | None, *, today: date, days: int
) -> Validity:
    """A visitor's days: as given, but a visitor always has an end. Without one they
    may pass ``days`` days (rules.visitor_valid_days) from their first day, today
    when ``valid_from`` is not given, that day included. Raises ValueError for a
    validity that ends before it starts, or ``days`` below 1."""
    if days < 1:
        raise ValueError(f"a visitor's validity of {days} days must be at least 1 day")
    if valid_until is None:
        valid_until = (valid_from or today) + timedelta(days=days - 1)
    return Validity(valid_from, valid_until)
