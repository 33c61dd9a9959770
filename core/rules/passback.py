"""Anti-passback: may a person pass a door of an area now, and where are they after.

Pure: the person's recorded presence in each area the door belongs to, the moment
and the door's time zone are given; storage (storage/area_presence.py) reads and
locks the presence, asks here, and writes the answer in the same transaction.

The rules, as docs/access-rules.md states them:

- In each area a door is either an entry or an exit (core.rules.model.AntiPassbackArea
  refuses both). An entry of a person already inside is refused (hard mode) or
  granted and flagged (soft mode); any other entry is granted and makes them
  inside. An exit is always granted and makes them outside, entered or not (a
  person who tailgated in must still be able to leave).
- A door may belong to several areas, with one role in each: passing it is judged
  in every one of them at once. A hard area that refuses refuses the door, and then
  nothing changes in any area (the person did not pass). Otherwise each area's
  presence moves. So a door that is the exit of one area and the entry of another
  (between two rooms) leaves the first and enters the second in one step, and a
  door that is the entry of a building and of an area inside it enters both.
- The daily reset: an entry counts until the first local midnight after it, in the
  time zone of the door it was made through; from then on the person is outside
  again. It is computed when they enter and kept with the presence (``counts_until``),
  so no job has to run at midnight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.records import Refusal
from core.rules.model import PassbackMode


class DoorRole(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class PassbackAction(StrEnum):
    PASS = "pass"
    FLAG = "flag"
    """Soft mode: a second entry without an exit, granted and flagged."""
    REFUSE = "refuse"
    """Hard mode: a second entry without an exit, refused."""
    STAY = "stay"
    """Another area refused the door: nothing changes in this one."""


@dataclass(frozen=True)
class Presence:
    """A person's place in one area as last recorded (all moments aware).

    ``inside_since`` None: outside (never entered, exited, or cleared by an admin).
    ``door``: the door last passed (the entry door while inside); ``passed_at``:
    when. ``counts_until``: the daily reset of the entry, set exactly when inside."""

    inside_since: datetime | None = None
    counts_until: datetime | None = None
    door: str | None = None
    passed_at: datetime | None = None

    def __post_init__(self) -> None:
        if (self.inside_since is None) is not (self.counts_until is None):
            raise ValueError("a presence inside an area needs both its entry and its reset time")

    def inside(self, at: datetime) -> bool:
        """Entered, not exited, and the entry's day not yet over at ``at``."""
        return self.counts_until is not None and at < self.counts_until


OUTSIDE = Presence()


@dataclass(frozen=True)
class AreaDoor:
    """One area the door belongs to: its mode, the door's role in it, and the
    person's presence there."""

    area: str
    mode: PassbackMode
    role: DoorRole
    presence: Presence = OUTSIDE


@dataclass(frozen=True)
class AreaPassage:
    """What passing the door does in one area."""

    area: str
    action: PassbackAction
    before: Presence
    after: Presence
    """The presence to store; ``before`` itself when nothing changes."""


@dataclass(frozen=True)
class PassbackVerdict:
    """Passing one door, judged in every area it belongs to (none: no anti-passback)."""

    passages: tuple[AreaPassage, ...] = ()

    @property
    def refusal(self) -> Refusal | None:
        refused = any(p.action is PassbackAction.REFUSE for p in self.passages)
        return Refusal.ANTI_PASSBACK if refused else None

    @property
    def flagged(self) -> tuple[AreaPassage, ...]:
        """The soft areas a second entry was granted in."""
        return tuple(p for p in self.passages if p.action is PassbackAction.FLAG)


def reset_after(entered: datetime, zone: ZoneInfo) -> datetime:
    """The first local midnight in ``zone`` after ``entered`` (aware), in UTC.

    A day the clocks change is 23 or 25 hours long and still ends at midnight; where
    the clocks jump at midnight itself (00:00 never happens), the day starts at the
    jump, the first moment of that date."""
    _aware(entered)
    next_day = entered.astimezone(zone).date() + timedelta(days=1)
    # fold=0 reads a skipped 00:00 with the offset before the jump: the jump's instant.
    return datetime.combine(next_day, time(0), tzinfo=zone).astimezone(UTC)


def judge_area(area: AreaDoor, door: str, at: datetime, zone: ZoneInfo) -> AreaPassage:
    """Passing ``door`` (a kiosk id, in ``zone``) at ``at`` (aware), in one area."""
    _aware(at)
    before = area.presence
    if area.role is DoorRole.EXIT:
        return AreaPassage(area.area, PassbackAction.PASS, before, Presence(None, None, door, at))
    action = PassbackAction.PASS
    if before.inside(at):
        if area.mode is PassbackMode.HARD:
            return AreaPassage(area.area, PassbackAction.REFUSE, before, before)
        action = PassbackAction.FLAG
    return AreaPassage(area.area, action, before, Presence(at, reset_after(at, zone), door, at))


def judge_door(
    areas: Iterable[AreaDoor], door: str, at: datetime, zone: ZoneInfo
) -> PassbackVerdict:
    """Passing ``door`` at ``at`` in every area it belongs to. Refused if any hard
    area refuses, and then every area keeps its presence; ValueError for a naive
    ``at``."""
    passages = tuple(judge_area(area, door, at, zone) for area in areas)
    if any(p.action is PassbackAction.REFUSE for p in passages):
        passages = tuple(
            p
            if p.action is PassbackAction.REFUSE
            else AreaPassage(p.area, PassbackAction.STAY, p.before, p.before)
            for p in passages
        )
    return PassbackVerdict(passages)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the moment of a passage needs a time zone (an aware datetime)")
