"""What a door would decide for a person at a moment, and why, without a decision.

``kiosk-admin rules check`` asks it. It reads the person's rules at the door with
the door's own read (core.rules.rules_store.RulesSource.door_rules) and judges them
with the door's own evaluation, so the answer is the door's; it records no access
event. The door's lockdown is taken from the door's last report
(``kiosk-admin door status``): a lockdown stands until it is released, so it
refuses at any moment asked about, as it does at the door.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.errors import InvalidValue
from core.records import Operator, Refusal
from core.rules.evaluation import DoorRules, Grant, HolidayLookup, RuleVerdict, evaluate
from core.rules.model import Door, Schedule, TimeRange, Weekday
from core.rules.rules_store import RulesSource
from core.store import DenialLog


@dataclass(frozen=True)
class CheckSubject:
    door: Door
    """The door as stored."""
    lockdown: bool
    """The door's last report says it is locked down."""


class RuleCheckSource(DenialLog, Protocol):
    def check_subject(
        self, person_id: uuid.UUID, kiosk_id: str, *, actor: Operator
    ) -> CheckSubject:
        """The door and its lockdown, the actor authorized (READ_RULES) against their
        account as it is now. Raises NotFound for a door that is not stored or a
        person who is not enrolled, NotAllowed, SessionExpired, StoreError."""
        ...


@dataclass(frozen=True)
class RuleExplanation:
    verdict: RuleVerdict
    """What the rules alone say (lockdown aside)."""
    rules: DoorRules
    """What the rules were judged on: the door, the person's validity and groups."""
    lockdown: bool

    @property
    def refusal(self) -> Refusal | None:
        """The door's answer: lockdown first, as at the door, then the rules'."""
        return Refusal.LOCKDOWN if self.lockdown else self.verdict.refusal

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
            at = at.replace(tzinfo=subject.door.zone)
        rules = self._rules.door_rules(person_id, kiosk_id)
        try:
            verdict = evaluate(rules, at, self._holidays)
        except ValueError as error:
            raise InvalidValue(f"door {kiosk_id}: {error}") from error
        return RuleExplanation(verdict, rules, subject.lockdown)
