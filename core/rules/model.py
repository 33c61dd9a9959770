"""The access rules' parts: doors, weekly schedules, holiday calendars, groups.

Pure values, validated when made: whatever builds them (the database, a rules file,
the CLI) gets a ValueError naming the problem, never a half-valid rule.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MINUTES_PER_DAY = 24 * 60
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_KIOSK_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")


class Weekday(IntEnum):
    """ISO weekday numbers less one, as ``date.weekday()`` gives them."""

    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6

    @property
    def key(self) -> str:
        """Its name in a rules file: "mon".."sun"."""
        return self.name.lower()


class DoorMode(StrEnum):
    FACE = "face"
    FACE_AND_PIN = "face_and_pin"
    """After the face is matched, the person's PIN on the door's keypad."""


def check_name(kind: str, name: str) -> str:
    """``name`` if it can name a group, schedule or calendar: 1-64 characters,
    letters, digits, space, dot, dash, underscore, starting with a letter or digit."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{kind} name {name[:80]!r} is not allowed: use 1-64 letters, digits, spaces, "
            "dots, dashes or underscores, starting with a letter or digit"
        )
    return name


def check_kiosk_id(kiosk_id: str) -> str:
    if not _KIOSK_ID.fullmatch(kiosk_id):
        raise ValueError(
            f"door {kiosk_id[:80]!r} is not a kiosk id: use 1-64 letters, digits, dots, "
            "dashes or underscores (the kiosk's kiosk.id)"
        )
    return kiosk_id


_NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})
"""Names zoneinfo loads that are no place's clock: "Factory" is the tz database's
"zone unknown" (its abbreviation reads -00); "localtime" is a link some systems put
in the zone folder to the machine's own zone, which differs between the kiosk, the
admin's machine and the next one; "posixrules" is the POSIX TZ default."""

ZONE_NAMES_HELP = (
    "list them with timedatectl list-timezones, or see the TZ identifier column of "
    "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"
)


def check_time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` of a place ("Europe/Berlin"), as a door may be given
    one; ValueError naming how to find one if it is not such a name."""
    if name in _NOT_A_PLACE or name not in door_zone_names():
        raise ValueError(
            f"time zone {name[:80]!r} is not an IANA time zone name of a place; use one such "
            f'as "Europe/Berlin" or "America/New_York" ({ZONE_NAMES_HELP})'
        )
    return load_time_zone(name)


def load_time_zone(name: str) -> ZoneInfo:
    """The time zone ``name`` as stored with a door: any name zoneinfo lists, so that a
    door stored before the stricter ``check_time_zone`` still reads (and keeps its door
    working) until an admin gives it a place's zone. ValueError if there is none."""
    # available_timezones() keeps out file names zoneinfo would open ("../..").
    if name not in _zone_names():
        raise ValueError(
            f"time zone {name[:80]!r} is not an IANA time zone name; use one such as "
            f'"Europe/Berlin" ({ZONE_NAMES_HELP})'
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - listed above
        raise ValueError(f"time zone {name!r} cannot be loaded: {error}") from error


def door_zone_names() -> frozenset[str]:
    """The names a door may be given: every IANA name zoneinfo lists but those of no
    place (``_NOT_A_PLACE``)."""
    return _zone_names() - _NOT_A_PLACE


_ZONES: frozenset[str] = frozenset()


def _zone_names() -> frozenset[str]:
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones())
    return _ZONES


@dataclass(frozen=True, order=True)
class TimeRange:
    """From ``start`` up to, not including, ``end``, in minutes after local midnight
    (0..1440; 1440 is "24:00", the end of the day). A range never crosses midnight:
    22:00-06:00 is written as 22:00-24:00 and 00:00-06:00 on the next day."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(
                f"time range {clock_text(self.start)}-{clock_text(self.end)} is not a range "
                "within one day: its start must be before its end (00:00-24:00)"
            )

    def holds(self, minute: int) -> bool:
        return self.start <= minute < self.end

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """ "08:00-18:00" as a range; ValueError naming the problem otherwise."""
        start, dash, end = text.strip().partition("-")
        if not dash:
            raise ValueError(f"time range {text[:40]!r} must read HH:MM-HH:MM, as 08:00-18:00")
        return cls(parse_clock(start), parse_clock(end))

    def __str__(self) -> str:
        return f"{clock_text(self.start)}-{clock_text(self.end)}"


def parse_clock(text: str) -> int:
    """ "08:30" as minutes after midnight (510); "24:00" is 1440."""
    found = _CLOCK.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text[:20]!r} is not a time of day: write HH:MM, 00:00 to 24:00")
    if found.group(1) is None:
        return MINUTES_PER_DAY
    return int(found.group(1)) * 60 + int(found.group(2))


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minute_of(moment: time) -> int:
    return moment.hour * 60 + moment.minute


@dataclass(frozen=True)
class Schedule:
    """When a group may pass its doors, in each door's own wall-clock time.

    ``week`` holds each weekday's ranges (a day missing: closed that day). The
    ranges of one day may overlap; any of them admits."""

    name: str
    week: Mapping[Weekday, tuple[TimeRange, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("schedule", self.name)

    def admits(self, weekday: Weekday, minute: int) -> bool:
        return any(r.holds(minute) for r in self.week.get(weekday, ()))


ALWAYS = Schedule("always", dict.fromkeys(Weekday, (TimeRange(0, MINUTES_PER_DAY),)))
"""Every minute of every day: the default group's schedule."""


@dataclass(frozen=True)
class HolidayCalendar:
    """The days a site is closed: a country's public holidays (and a subdivision's,
    from the ``holidays`` package) and the site's own closure days."""

    name: str
    country: str | None = None
    """ISO 3166-1 alpha-2 ("DE"); None: no public holidays, closure days only."""
    subdivision: str | None = None
    """The ``holidays`` package's subdivision code ("BY" for Bavaria)."""
    closures: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        check_name("holiday calendar", self.name)
        if self.subdivision is not None and self.country is None:
            raise ValueError(f"holiday calendar {self.name!r}: a subdivision needs a country")


@dataclass(frozen=True)
class Door:
    """A kiosk as a door: the rules know it by its kiosk id."""

    kiosk_id: str
    display_name: str
    time_zone: str
    """IANA name; schedules and validity dates are read in this zone."""
    calendar: str | None = None
    """The holiday calendar that applies at this door; None: no holidays."""
    mode: DoorMode = DoorMode.FACE

    def __post_init__(self) -> None:
        check_kiosk_id(self.kiosk_id)
        # Loaded, not judged: a door stored with an odd zone still reads; new zones
        # from people go through check_time_zone first.
        load_time_zone(self.time_zone)
        if not 1 <= len(self.display_name) <= 128 or not self.display_name.isprintable():
            raise ValueError(f"door {self.kiosk_id}: its name must be 1-128 printable characters")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class AccessGroup:
    """People who may pass ``doors`` (every door when ``all_doors``) under
    ``schedule``; on a holiday at a door, under ``holiday_schedule`` instead
    (None: closed on holidays)."""

    name: str
    schedule: str
    doors: frozenset[str] = frozenset()
    all_doors: bool = False
    holiday_schedule: str | None = None
    default: bool = False
    """People enrolled without naming a group join this one."""
    enrollers_may_assign: bool = False
    """Enrollers may put people in this group (and take them out); otherwise only an
    admin may (storage.group_members)."""

    def __post_init__(self) -> None:
        check_name("group", self.name)
        for door in self.doors:
            check_kiosk_id(door)

    def covers(self, kiosk_id: str) -> bool:
        return self.all_doors or kiosk_id in self.doors


@dataclass(frozen=True)
class Validity:
    """The days a person may pass, both ends included, as dates at the door
    (None: open on that side). Visitors and contractors have an end."""

    valid_from: date | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_from > self.valid_until
        ):
            raise ValueError(
                f"valid from {self.valid_from} is after valid until {self.valid_until}: "
                "give the first day, then the last"
            )


@dataclass(frozen=True)
class Membership:
    person_id: uuid.UUID
    group: str


class PassbackMode(StrEnum):
    SOFT = "soft"
    """A second entry without an exit is granted and flagged (an audit event)."""
    HARD = "hard"
    """A second entry without an exit is refused (anti_passback)."""


@dataclass(frozen=True)
class AntiPassbackArea:
    """An area entered through ``entry`` doors and left through ``exit`` doors: a
    person who entered must exit before entering again, until the daily reset
    (local midnight at the entry door)."""

    name: str
    entry: frozenset[str]
    exit: frozenset[str]
    mode: PassbackMode = PassbackMode.HARD

    def __post_init__(self) -> None:
        check_name("area", self.name)
        if not self.entry or not self.exit:
            raise ValueError(f"area {self.name}: it needs at least one entry and one exit door")
        both = sorted(self.entry & self.exit)
        if both:
            raise ValueError(f"area {self.name}: door {both[0]} cannot be both entry and exit")
        for door in self.entry | self.exit:
            check_kiosk_id(door)
