"""The door's access policy: whether a recognised person may pass now."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import SchemaNewer, StoreError
from core.records import Refusal
from core.rules.evaluation import HolidayLookup, RuleVerdict, evaluate
from core.rules.model import DoorMode
from core.rules.presence_store import AreaPresence, DoorPassage
from core.rules.rules_store import RulesSource

log = logging.getLogger(__name__)


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
    person, then anti-passback: a change to a group, a schedule or a validity
    applies to the next decision, at every kiosk. The lockdown is the door
    hardware's and, read with the rules, the one stored for this door: a door
    without hardware (adapter none) is locked down all the same. Thread-safe if
    ``rules``, ``holidays`` and ``presence`` are.

    Anti-passback writes as it checks (the two are one step, storage/area_presence.py),
    so a grant it allowed but the door could not record is withdrawn: the door
    calls ``withdraw``, and the presence the last check stored for that person is
    put back. The lock guards that one remembered passage."""

    def __init__(
        self,
        *,
        kiosk_id: str,
        rules: RulesSource,
        holidays: HolidayLookup,
        presence: AreaPresence | None = None,
        locked_down: Callable[[], bool] = lambda: False,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``presence``: the areas' anti-passback step (None: no anti-passback);
        ``locked_down``: the door's state as the door controller holds it;
        ``now``: the wall clock (aware), a fake one in tests."""
        self._kiosk_id = kiosk_id
        self._rules = rules
        self._holidays = holidays
        self._presence = presence
        self._locked_down = locked_down
        self._now = now
        self._lock = threading.Lock()
        self._unrecorded: DoorPassage | None = None

    def check(self, person_id: uuid.UUID) -> Refusal | None:
        """The rule that refuses ``person_id`` here and now, None if they may pass.
        Allowed, they are counted through the door in its anti-passback areas (at a
        face_and_pin door: once their PIN was right).
        Raises StoreError when the rules or the presence cannot be read or written, and
        SchemaNewer (a StoreError) when a newer release migrated the database (the door
        stays closed either way)."""
        return self.admit(person_id, pin_checked=True).refusal

    def admit(self, person_id: uuid.UUID, *, pin_checked: bool = False) -> Admission:
        """``check``'s answer, with whether the door asks for the PIN: the door's mode
        is read with the rules (one round trip), so a change applies at once. At a
        face_and_pin door a person the rules allow is counted through the door's
        anti-passback areas only once ``pin_checked`` (their PIN was right): a
        wrong PIN must leave no one inside."""
        if self._locked_down():
            return Admission(Refusal.LOCKDOWN)
        at = self._now()
        try:
            rules = self._rules.door_rules(person_id, self._kiosk_id)
        except SchemaNewer as error:
            # The door stays closed (offline) until the kiosk is upgraded: say why.
            log.error("%s", error)
            raise
        pin_required = rules.door.mode is DoorMode.FACE_AND_PIN
        if rules.lockdown:
            # The lockdown as stored, for a door without hardware (or before the
            # hardware has taken the command): it refuses all the same.
            return Admission(Refusal.LOCKDOWN, pin_required)
        verdict = evaluate(rules, at, self._holidays)
        if verdict.refusal is not None:
            return Admission(verdict.refusal, pin_required)
        if pin_required and not pin_checked:
            return Admission(None, pin_required=True)
        if self._presence is None or not rules.in_area:
            return Admission(None, pin_required)
        passage = self._presence.pass_door(person_id, self._kiosk_id, at, rules.door.zone)
        with self._lock:
            self._unrecorded = passage if passage.mark is not None else None
        return Admission(passage.verdict.refusal, pin_required)

    def withdraw(self, person_id: uuid.UUID) -> None:
        """The grant the last ``check`` allowed ``person_id`` was not recorded, so it
        was not made: put back the anti-passback presence that check stored. Never
        raises: the door is closed either way; a presence that cannot be put back
        is logged (the person counts as inside until they exit, the daily reset,
        or kiosk-admin areas reset)."""
        with self._lock:
            passage, self._unrecorded = self._unrecorded, None
        if passage is None or passage.person_id != person_id or self._presence is None:
            return
        try:
            self._presence.withdraw(passage)
        except StoreError as error:
            log.error(
                "the anti-passback presence of a grant that was not recorded at %s could "
                "not be put back (%s); kiosk-admin areas reset clears it",
                self._kiosk_id,
                error,
            )

    def verdict(self, person_id: uuid.UUID) -> RuleVerdict:
        """The rules' full answer (lockdown and anti-passback aside): local time,
        group, holiday. Writes nothing."""
        return evaluate(
            self._rules.door_rules(person_id, self._kiosk_id), self._now(), self._holidays
        )
