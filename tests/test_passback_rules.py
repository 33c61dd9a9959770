"""Anti-passback's judgement, pure: hard and soft areas, entries and exits, the daily
reset at local midnight across the days the clocks change, and doors in several areas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.records import Refusal
from core.rules.model import AntiPassbackArea, PassbackMode
from core.rules.passback import (
    OUTSIDE,
    AreaDoor,
    DoorRole,
    PassbackAction,
    Presence,
    judge_door,
    reset_after,
)

BERLIN = ZoneInfo("Europe/Berlin")
HARD = PassbackMode.HARD
SOFT = PassbackMode.SOFT
ENTRY = DoorRole.ENTRY
EXIT = DoorRole.EXIT


def local(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    """A wall-clock moment in ``zone`` as an aware UTC datetime, as a kiosk passes it."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def entered(text: str, door: str = "gate-in", zone: ZoneInfo = BERLIN) -> Presence:
    moment = local(text, zone)
    return Presence(moment, reset_after(moment, zone), door, moment)


LEFT = Presence(None, None, "gate-out", local("2026-12-01 12:00"))


@pytest.mark.parametrize(
    ("mode", "role", "before", "now", "action", "inside_after"),
    [
        # A first entry, and a second one without an exit in between.
        (HARD, ENTRY, OUTSIDE, "2026-12-01 09:00", PassbackAction.PASS, True),
        (HARD, ENTRY, entered("2026-12-01 08:00"), "2026-12-01 09:00", PassbackAction.REFUSE, True),
        (SOFT, ENTRY, entered("2026-12-01 08:00"), "2026-12-01 09:00", PassbackAction.FLAG, True),
        # Out again: the next entry passes.
        (HARD, ENTRY, LEFT, "2026-12-01 13:00", PassbackAction.PASS, True),
        # An entry of the day before no longer counts after local midnight.
        (HARD, ENTRY, entered("2026-11-30 23:59"), "2026-12-01 00:00", PassbackAction.PASS, True),
        (
            HARD,
            ENTRY,
            entered("2026-12-01 00:00"),
            "2026-12-01 23:59:59",
            PassbackAction.REFUSE,
            True,
        ),
        # An exit always passes, with or without a recorded entry.
        (HARD, EXIT, OUTSIDE, "2026-12-01 09:00", PassbackAction.PASS, False),
        (HARD, EXIT, LEFT, "2026-12-01 13:00", PassbackAction.PASS, False),
        (SOFT, EXIT, entered("2026-12-01 08:00"), "2026-12-01 17:00", PassbackAction.PASS, False),
    ],
)
def test_one_area(
    mode: PassbackMode,
    role: DoorRole,
    before: Presence,
    now: str,
    action: PassbackAction,
    inside_after: bool,
) -> None:
    door = "gate-in" if role is ENTRY else "gate-out"
    moment = local(now)
    verdict = judge_door([AreaDoor("lab", mode, role, before)], door, moment, BERLIN)
    (passage,) = verdict.passages
    assert passage.action is action
    assert passage.before == before
    assert passage.after.inside(moment) is inside_after
    assert verdict.refusal is (Refusal.ANTI_PASSBACK if action is PassbackAction.REFUSE else None)
    assert verdict.flagged == ((passage,) if action is PassbackAction.FLAG else ())
    if action is PassbackAction.REFUSE:
        assert passage.after == before  # refused: nothing moves
    else:
        # Passed: the door and the moment are what is kept.
        assert (passage.after.door, passage.after.passed_at) == (door, moment)
        if inside_after:
            assert passage.after.inside_since == moment


@pytest.mark.parametrize(
    ("zone", "entry", "reset_local", "hours"),
    [
        # Spring forward: the day of the change has 23 hours, and still ends at midnight.
        ("Europe/Berlin", "2026-03-29 00:30", "2026-03-30 00:00", 23),
        ("Europe/Berlin", "2026-03-28 23:30", "2026-03-29 00:00", 24),
        # Fall back: 25 hours, an entry in the repeated hour counts to the same midnight.
        ("Europe/Berlin", "2026-10-25 02:30", "2026-10-26 00:00", 25),
        ("America/New_York", "2026-11-01 08:00", "2026-11-02 00:00", 25),
        # Havana jumps at midnight itself: 00:00 of 8 March never happens; the day
        # starts at the jump, which reads 01:00.
        ("America/Havana", "2026-03-07 22:00", "2026-03-08 01:00", 24),
        ("America/Havana", "2026-03-08 09:00", "2026-03-09 00:00", 23),
    ],
)
def test_the_daily_reset_is_the_next_local_midnight_whatever_the_clocks_do(
    zone: str, entry: str, reset_local: str, hours: int
) -> None:
    where = ZoneInfo(zone)
    moment = local(entry, where)
    reset = reset_after(moment, where)
    assert reset.astimezone(where).replace(tzinfo=None) == datetime.fromisoformat(reset_local)
    day_start = datetime.combine(moment.astimezone(where).date(), datetime.min.time(), where)
    assert reset - day_start.astimezone(UTC) == timedelta(hours=hours)

    area = [AreaDoor("lab", HARD, ENTRY, Presence(moment, reset, "gate-in", moment))]
    just_before = judge_door(area, "gate-in", reset - timedelta(seconds=1), where)
    at_reset = judge_door(area, "gate-in", reset, where)
    assert just_before.refusal is Refusal.ANTI_PASSBACK
    assert at_reset.refusal is None


def test_a_door_between_two_areas_leaves_one_and_enters_the_other() -> None:
    now = local("2026-12-01 10:00")
    inside_hall = entered("2026-12-01 08:00", door="front")
    areas = [
        AreaDoor("hall", HARD, EXIT, inside_hall),
        AreaDoor("lab", HARD, ENTRY, OUTSIDE),
    ]
    verdict = judge_door(areas, "lab-door", now, BERLIN)
    hall, lab = verdict.passages
    assert verdict.refusal is None
    assert not hall.after.inside(now)
    assert lab.after.inside(now)
    assert lab.after.door == hall.after.door == "lab-door"


def test_a_hard_area_that_refuses_keeps_the_person_where_they_were_in_every_area() -> None:
    now = local("2026-12-01 10:00")
    areas = [
        AreaDoor("hall", HARD, EXIT, entered("2026-12-01 08:00", door="front")),
        AreaDoor("lab", HARD, ENTRY, entered("2026-12-01 09:00", door="lab-door")),
        AreaDoor("site", SOFT, ENTRY, entered("2026-12-01 07:00", door="front")),
    ]
    verdict = judge_door(areas, "lab-door", now, BERLIN)
    assert verdict.refusal is Refusal.ANTI_PASSBACK
    assert [p.action for p in verdict.passages] == [
        PassbackAction.STAY,
        PassbackAction.REFUSE,
        PassbackAction.STAY,
    ]
    assert all(p.after == p.before for p in verdict.passages)
    assert verdict.flagged == ()  # the soft area saw no entry: the person did not pass


def test_a_door_in_no_area_is_not_judged() -> None:
    verdict = judge_door([], "side-door", local("2026-12-01 10:00"), BERLIN)
    assert verdict.passages == ()
    assert verdict.refusal is None


def test_a_moment_without_a_zone_and_a_half_presence_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        judge_door([AreaDoor("lab", HARD, ENTRY)], "gate-in", datetime(2026, 12, 1, 9), BERLIN)
    with pytest.raises(ValueError, match="reset"):
        Presence(local("2026-12-01 09:00"), None, "gate-in", local("2026-12-01 09:00"))


def test_an_area_needs_both_kinds_of_door_and_no_door_as_both() -> None:
    with pytest.raises(ValueError, match="both entry and exit"):
        AntiPassbackArea("lab", frozenset({"a", "b"}), frozenset({"b"}))
    with pytest.raises(ValueError, match="at least one entry and one exit"):
        AntiPassbackArea("lab", frozenset({"a"}), frozenset())
