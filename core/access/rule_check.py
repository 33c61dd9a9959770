"""What a door would decide for a person at a moment, and why, without a decision.

``kiosk-admin rules check`` asks it. It reads the person's rules at the door with
the door's own read (core.rules.rules_store.RulesSource.door_rules) and judges them
with the door's own evaluation, then takes the door's later steps as the door takes
them: the PIN at a face-and-PIN door (has the person one; does their PIN entry wait
after wrong PINs) and anti-passback (where the person is recorded now, judged at
the moment asked about). So the answer is the door's; it records no access event
and moves no one through an area. The lockdown is the door's last report
(``kiosk-admin door status``) or the one stored for the door, whichever says so: a
lockdown stands until it is released, so it refuses at any moment asked about, as
it does at the door.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.errors import InvalidValue
from core.records import Operator, Refusal
from core.rules.evaluation import DoorRules, Grant, HolidayLookup, RuleVerdict, evaluate
from core.rules.model import Door, DoorMode, Schedule, TimeRange, Weekday
from core.rules.passback import AreaDoor, PassbackVerdict, judge_door
from core.rules.rules_store import RulesSource
from core.store import DenialLog


@dataclass(frozen=True)
class PinState:
    """The person's PIN as the door would meet it (never the PIN)."""

    has_pin: bool = False
    waits_until: datetime | None = None
    """Their PIN entry waits at this door (or at all) until then, after wrong PINs."""


@dataclass(frozen=True)
class CheckSubject:
    door: Door
    """The door as stored."""
    lockdown: bool
    """The door's last report says it is locked down."""
    pin: PinState = field(default_factory=PinState)
    areas: tuple[AreaDoor, ...] = ()
    """The anti-passback areas the door belongs to, with the person's presence as
    recorded now."""


class RuleCheckSource(DenialLog, Protocol):
    def check_subject(
        self, person_id: uuid.UUID, kiosk_id: str, *, actor: Operator
    ) -> CheckSubject:
        """The door, its lockdown, the person's PIN state and presence, the actor
        authorized (READ_RULES) against their account as it is now. Raises NotFound
        for a door that is not stored or a person who is not enrolled, NotAllowed,
        SessionExpired, StoreError."""
        ...


@dataclass(frozen=True)
class RuleExplanation:
    verdict: RuleVerdict
    """What the rules alone say (lockdown aside)."""
    rules: DoorRules
    """What the rules were judged on: the door, the person's validity and groups."""
    lockdown: bool
    pin: PinState = field(default_factory=PinState)
    passback: PassbackVerdict = field(default_factory=PassbackVerdict)
    """Anti-passback at the door (judged only when the rules allow)."""

    @property
    def pin_required(self) -> bool:
        return self.rules.door.mode is DoorMode.FACE_AND_PIN

    @property
    def pin_refusal(self) -> str | None:
        """Why the PIN step would refuse whatever is typed, in words; None: the right
        PIN would pass."""
        if not self.pin_required:
            return None
        if not self.pin.has_pin:
            return "the person has no PIN: any PIN typed is refused"
        waits = self.pin.waits_until
        if waits is not None and waits > self.verdict.local_time:
            local = waits.astimezone(self.rules.door.zone)
            return f"PIN entry waits until {local:%Y-%m-%d %H:%M:%S %Z} after wrong PINs"
        return None

    @property
    def refusal(self) -> Refusal | None:
        """The door's answer, in the door's order: lockdown, the rules, the PIN (only
        what no PIN typed could change), then anti-passback."""
        if self.lockdown:
            return Refusal.LOCKDOWN
        if self.verdict.refusal is not None:
            return self.verdict.refusal
        if self.pin_refusal is not None:
            return Refusal.PIN_WRONG
        return self.passback.refusal

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def ranges_that_day(self, grant: Grant) -> tuple[TimeRange, ...]:
        """The ranges ``grant`` admits on the day checked (its holiday schedule's on a
        holiday: none when it has none)."""
        schedule: Schedule | None = (
            grant.holiday_schedule if self.verdict.holiday is not None else grant.schedule
        )
        if schedule is None:
            return ()
        return schedule.week.get(Weekday(self.verdict.local_time.weekday()), ())


class RuleCheck:
    """Explains the rules for one person at one door. Thread-safe if its parts are."""

    def __init__(
        self, subjects: RuleCheckSource, rules: RulesSource, holidays: HolidayLookup
    ) -> None:
        self._subjects = subjects
        self._rules = rules
        self._holidays = holidays

    def explain(
        self, operator: Operator, person_id: uuid.UUID, kiosk_id: str, at: datetime
    ) -> RuleExplanation:
        """The door's answer for ``person_id`` at ``kiosk_id`` at ``at``: an aware
        moment, or a naive one read as the door's wall-clock time (a time the clocks
        skip is read with the offset before the change, a repeated one as its first
        occurrence). Raises NotAllowed (READ_RULES), NotFound, InvalidValue (a
        holiday calendar the holidays package does not know), StoreError."""
        authorize(operator, Permission.READ_RULES, self._subjects)
        subject = self._subjects.check_subject(person_id, kiosk_id, actor=operator)
        if at.tzinfo is None or at.utcoffset() is None:
            # Through UTC: a skipped time (02:30 on the spring change) becomes the moment
            # it names (03:30 summer time), as at the door; astimezone() to the same
            # zone would keep the time that never happens.
            at = at.replace(tzinfo=subject.door.zone).astimezone(UTC)
        rules = self._rules.door_rules(person_id, kiosk_id)
        try:
            verdict = evaluate(rules, at, self._holidays)
        except ValueError as error:
            raise InvalidValue(f"door {kiosk_id}: {error}") from error
        passback = PassbackVerdict()
        if verdict.allowed:
            passback = judge_door(subject.areas, kiosk_id, at, rules.door.zone)
        return RuleExplanation(
            verdict, rules, subject.lockdown or rules.lockdown, subject.pin, passback
        )
