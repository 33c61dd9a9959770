"""The access rules' evaluation: time zones, daylight saving, holidays, validity and
overlapping groups, on given moments (no clock is read)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.records import Refusal
from core.rules.evaluation import DoorRules, Grant, RuleVerdict, evaluate
from core.rules.model import (
    ALWAYS,
    Door,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Validity,
    Weekday,
)
from core.rules.public_holidays import PublicHolidays

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
HOLIDAYS = PublicHolidays()

WORKDAYS = {day: (TimeRange.parse("08:00-18:00"),) for day in list(Weekday)[:5]}
OFFICE = Schedule("office hours", WORKDAYS)
NIGHT = Schedule(
    "night shift",
    {day: (TimeRange.parse("22:00-24:00"), TimeRange.parse("00:00-06:00")) for day in Weekday},
)
HOLIDAY_MORNINGS = Schedule("holiday mornings", dict.fromkeys(Weekday, (TimeRange(540, 720),)))
BAVARIA = HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 28)}))


def at(zone: str, text: str) -> datetime:
    """A wall-clock moment at a door, as an aware UTC datetime (what the kiosk passes)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def rules(
    *grants: Grant,
    zone: str = BERLIN,
    validity: Validity = Validity(),  # noqa: B008 - frozen
    calendar: HolidayCalendar | None = None,
) -> DoorRules:
    door = Door("front", "Front door", zone, calendar.name if calendar else None)
    return DoorRules(door, validity, tuple(grants), calendar)


def verdict(door_rules: DoorRules, moment: datetime) -> RuleVerdict:
    return evaluate(door_rules, moment, HOLIDAYS)


STAFF = Grant("staff", OFFICE)
CLEANERS = Grant("cleaners", NIGHT)


@pytest.mark.parametrize(
    ("grants", "local", "refusal"),
    [
        ((STAFF,), "2026-12-01 09:00", None),  # a Tuesday
        ((STAFF,), "2026-12-01 07:59", Refusal.OUTSIDE_SCHEDULE),
        ((STAFF,), "2026-12-01 18:00", Refusal.OUTSIDE_SCHEDULE),  # the end is not included
        ((STAFF,), "2026-12-01 22:00", Refusal.OUTSIDE_SCHEDULE),
        ((STAFF,), "2026-12-05 10:00", Refusal.OUTSIDE_SCHEDULE),  # a Saturday
        ((CLEANERS,), "2026-12-01 23:30", None),
        ((CLEANERS,), "2026-12-02 05:59", None),  # after midnight, the next day's range
        ((CLEANERS,), "2026-12-01 12:00", Refusal.OUTSIDE_SCHEDULE),
        ((STAFF, CLEANERS), "2026-12-01 12:00", None),  # the union of the groups
        ((STAFF, CLEANERS), "2026-12-01 23:00", None),
        ((STAFF, CLEANERS), "2026-12-01 20:00", Refusal.OUTSIDE_SCHEDULE),
        ((), "2026-12-01 09:00", Refusal.NO_GROUP_FOR_DOOR),
    ],
)
def test_schedules_in_the_doors_local_time(
    grants: tuple[Grant, ...], local: str, refusal: Refusal | None
) -> None:
    assert verdict(rules(*grants), at(BERLIN, local)).refusal == refusal


def test_the_same_instant_is_judged_in_each_doors_own_zone() -> None:
    moment = at(BERLIN, "2026-12-01 16:00")  # 10:00 in New York
    assert verdict(rules(STAFF, zone=BERLIN), moment).allowed
    late = at(BERLIN, "2026-12-01 20:00")  # 14:00 in New York, 20:00 in Berlin
    assert not verdict(rules(STAFF, zone=BERLIN), late).allowed
    answer = verdict(rules(STAFF, zone=NEW_YORK), late)
    assert answer.allowed
    assert answer.local_time.hour == 14


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, "2026-03-29"),
        (BERLIN, "2026-10-25"),
        (NEW_YORK, "2026-03-08"),
        (NEW_YORK, "2026-11-01"),
    ],
)
def test_a_range_means_the_wall_clock_on_the_days_the_clocks_change(zone: str, day: str) -> None:
    every_day = Grant("staff", Schedule("daily", dict.fromkeys(Weekday, (TimeRange(480, 1080),))))
    door = rules(every_day, zone=zone)
    assert verdict(door, at(zone, f"{day} 08:00")).allowed
    assert verdict(door, at(zone, f"{day} 17:59")).allowed
    assert not verdict(door, at(zone, f"{day} 07:59")).allowed
    assert not verdict(door, at(zone, f"{day} 18:00")).allowed


def test_the_skipped_hour_admits_no_one_and_the_repeated_hour_admits_twice() -> None:
    small_hours = Grant("early", Schedule("2 to 3", dict.fromkeys(Weekday, (TimeRange(120, 180),))))
    door = rules(small_hours)
    # 29 March 2026, Berlin: 02:00 CET jumps to 03:00 CEST. Walk every minute of the night.
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    admitted = [m for m in range(180) if verdict(door, start + timedelta(minutes=m)).allowed]
    assert admitted == []
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 happens twice.
    start = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 CEST
    admitted = [m for m in range(240) if verdict(door, start + timedelta(minutes=m)).allowed]
    assert len(admitted) == 120  # two real hours
    assert admitted[0] == 60
    assert admitted[-1] == 179


@pytest.mark.parametrize(
    ("validity", "local", "refusal"),
    [
        (Validity(date(2026, 12, 1), date(2026, 12, 3)), "2026-12-01 00:00", None),
        (Validity(date(2026, 12, 1), date(2026, 12, 3)), "2026-12-03 17:59", None),
        (Validity(date(2026, 12, 1), date(2026, 12, 3)), "2026-12-04 09:00", Refusal.EXPIRED),
        (Validity(date(2026, 12, 1), date(2026, 12, 3)), "2026-11-30 23:59", Refusal.NOT_YET_VALID),
        (Validity(None, date(2026, 12, 3)), "2020-01-06 09:00", None),
        (Validity(date(2026, 12, 1), None), "2099-12-01 09:00", None),
    ],
)
def test_validity_days_are_the_doors_local_dates(
    validity: Validity, local: str, refusal: Refusal | None
) -> None:
    always = Grant("visitors", ALWAYS)
    assert verdict(rules(always, validity=validity), at(BERLIN, local)).refusal == refusal


def test_validity_is_checked_before_the_groups() -> None:
    expired = Validity(None, date(2026, 1, 1))
    assert verdict(rules(validity=expired), at(BERLIN, "2026-12-01 09:00")).refusal == (
        Refusal.EXPIRED
    )


def test_a_validity_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="give the first day, then the last"):
        Validity(date(2026, 12, 3), date(2026, 12, 1))


@pytest.mark.parametrize(
    ("grant", "local", "refusal", "closed"),
    [
        (STAFF, "2026-12-25 09:00", Refusal.HOLIDAY, "Christmas Day"),  # a Friday
        (STAFF, "2026-12-28 09:00", Refusal.HOLIDAY, "site closure"),  # a Monday
        (STAFF, "2026-12-29 09:00", None, None),
        (Grant("staff", OFFICE, HOLIDAY_MORNINGS), "2026-12-25 10:00", None, "Christmas Day"),
        (
            Grant("staff", OFFICE, HOLIDAY_MORNINGS),
            "2026-12-25 13:00",
            Refusal.HOLIDAY,
            "Christmas Day",
        ),
        (STAFF, "2026-01-06 09:00", Refusal.HOLIDAY, "Epiphany"),  # Bavaria's, not Berlin's
    ],
)
def test_a_holiday_applies_the_groups_holiday_schedule(
    grant: Grant, local: str, refusal: Refusal | None, closed: str | None
) -> None:
    answer = verdict(rules(grant, calendar=BAVARIA), at(BERLIN, local))
    assert answer.refusal == refusal
    assert answer.holiday == closed


def test_a_door_without_a_calendar_has_no_holidays() -> None:
    assert verdict(rules(STAFF), at(BERLIN, "2026-12-25 09:00")).allowed


def test_a_moment_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a time zone"):
        verdict(rules(STAFF), datetime(2026, 12, 1, 9, 0))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("18:00-08:00", "its start must be before its end"),
        ("08:00-08:00", "its start must be before its end"),
        ("8-18", "not a time of day"),
        ("08:00", "must read HH:MM-HH:MM"),
        ("24:01-24:30", "not a time of day"),
    ],
)
def test_time_ranges_are_validated(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        TimeRange.parse(text)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "posixrules"])
def test_a_door_needs_a_real_time_zone(zone: str) -> None:
    with pytest.raises(ValueError, match="not an IANA time zone"):
        Door("front", "Front", zone)


def test_an_unknown_country_or_subdivision_is_named() -> None:
    with pytest.raises(ValueError, match="country 'XX'"):
        HOLIDAYS.closed(HolidayCalendar("nowhere", "XX"), date(2026, 1, 1))
    with pytest.raises(ValueError, match="no subdivision 'ZZ'"):
        HOLIDAYS.closed(HolidayCalendar("nowhere", "DE", "ZZ"), date(2026, 1, 1))
