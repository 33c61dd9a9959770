"""The door's access policy: whether a recognised person may pass now."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.records import Refusal
from core.rules.evaluation import HolidayLookup, RuleVerdict, evaluate
from core.rules.model import DoorMode
from core.rules.rules_store import RulesSource


@dataclass(frozen=True)
class Admission:
    """What the door's rules say of a recognised person now."""

    refusal: Refusal | None
    """The rule that refuses; None: they may pass."""
    pin_required: bool = False
    """The door is face_and_pin: an allowed person passes only with their PIN."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DoorAccess:
    """Lockdown first, then the access rules (core.rules) read afresh for each
    person: a change to a group, a schedule or a validity applies to the next
    decision, at every kiosk. Thread-safe if ``rules`` and ``holidays`` are."""

    def __init__(
        self,
        *,
        kiosk_id: str,
        rules: RulesSource,
        holidays: HolidayLookup,
        locked_down: Callable[[], bool] = lambda: False,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``locked_down``: the door's state as the door controller holds it;
        ``now``: the wall clock (aware), a fake one in tests."""
        self._kiosk_id = kiosk_id
        self._rules = rules
        self._holidays = holidays
        self._locked_down = locked_down
        self._now = now

    def check(self, person_id: uuid.UUID) -> Refusal | None:
        """The rule that refuses ``person_id`` here and now, None if they may pass.
        Raises StoreError when the rules cannot be read (the door stays closed)."""
        return self.admit(person_id).refusal

    def admit(self, person_id: uuid.UUID) -> Admission:
        """``check``'s answer, with whether the door then asks for the PIN: the door's
        mode is read with the rules (one round trip), so a change applies at once."""
        if self._locked_down():
            return Admission(Refusal.LOCKDOWN)
        rules = self._rules.door_rules(person_id, self._kiosk_id)
        refusal = evaluate(rules, self._now(), self._holidays).refusal
        return Admission(refusal, rules.door.mode is DoorMode.FACE_AND_PIN)

    def verdict(self, person_id: uuid.UUID) -> RuleVerdict:
        """The rules' full answer (lockdown aside): local time, group, holiday."""
        return evaluate(
            self._rules.door_rules(person_id, self._kiosk_id), self._now(), self._holidays
        )
