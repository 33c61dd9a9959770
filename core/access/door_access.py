"""The door's access policy: whether a recognised person may pass now."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from core.records import Refusal
from core.rules.evaluation import HolidayLookup, RuleVerdict, evaluate
from core.rules.rules_store import RulesSource


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
        if self._locked_down():
            return Refusal.LOCKDOWN
        return self.verdict(person_id).refusal

    def verdict(self, person_id: uuid.UUID) -> RuleVerdict:
        """The rules' full answer (lockdown aside): local time, group, holiday."""
        return evaluate(
            self._rules.door_rules(person_id, self._kiosk_id), self._now(), self._holidays
        )
