"""A person's validity changed one end at a time, and a visitor's default end."""

from __future__ import annotations

from datetime import date

import pytest

from core.rules.model import Validity
from core.rules.person_validity import KEEP, ValidityChange, visitor_validity

DEC_1 = date(2026, 12, 1)
DEC_3 = date(2026, 12, 3)
JAN_31 = date(2027, 1, 31)


@pytest.mark.parametrize(
    ("change", "before", "after"),
    [
        (ValidityChange(valid_until=JAN_31), Validity(DEC_1, None), Validity(DEC_1, JAN_31)),
        (ValidityChange(valid_from=DEC_3), Validity(None, JAN_31), Validity(DEC_3, JAN_31)),
        (ValidityChange(valid_until=None), Validity(DEC_1, JAN_31), Validity(DEC_1, None)),
        (ValidityChange(None, None), Validity(DEC_1, JAN_31), Validity()),
        (ValidityChange(), Validity(DEC_1, JAN_31), Validity(DEC_1, JAN_31)),
    ],
)
def test_a_change_sets_the_ends_it_names_and_keeps_the_others(
    change: ValidityChange, before: Validity, after: Validity
) -> None:
    assert change.applied_to(before) == after
    assert change.changes is (change != ValidityChange(KEEP, KEEP))


def test_a_change_that_would_end_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="give the first day, then the last"):
        ValidityChange(valid_from=date(2027, 2, 1)).applied_to(Validity(None, JAN_31))


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "days", "wanted"),
    [
        (None, None, 1, Validity(None, DEC_1)),  # today only
        (None, None, 3, Validity(None, DEC_3)),
        (DEC_3, None, 2, Validity(DEC_3, date(2026, 12, 4))),  # from their first day
        (None, JAN_31, 1, Validity(None, JAN_31)),  # an end given is kept
    ],
)
def test_a_visitor_always_has_an_end(
    valid_from: date | None, valid_until: date | None, days: int, wanted: Validity
) -> None:
    assert visitor_validity(valid_from, valid_until, today=DEC_1, days=days) == wanted


def test_a_visitor_needs_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        visitor_validity(None, None, today=DEC_1, days=0)
