"""The PIN typed at a face-and-PIN door: checked, throttled, and the duress alarm."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import KioskError, PinLocked, StoreError
from core.faces import DetectedFace
from core.log_records import KioskAuditEvent
from core.people.pin_throttle import PinScope, PinWait
from core.people.pins import PinStore, pin_matches, well_formed
from core.records import AccessDecision, Candidate
from core.settings import SecuritySettings

log = logging.getLogger(__name__)

DURESS_ACTION = "door.duress"


# Why a PIN refusal (pin_wrong) was made, for the screen and the log; a wrong PIN
# says core.records.REFUSAL_TEXT's "wrong PIN".
PIN_TIMEOUT_TEXT = "no PIN was entered in time"
PIN_ABANDONED_TEXT = "left before entering the PIN"
PIN_LOCKED_TEXT = "too many wrong PINs: PIN entry is locked for now"
PIN_UNCHECKED_TEXT = "this door needs a PIN, which it cannot check"


@dataclass(frozen=True)
class PinRequest:
    """The door asks the person it recognised for their PIN (core.access.door)."""

    number: int
    match: Candidate
    similarity: float | None
    deadline: float
    """On the door's clock."""
    face: DetectedFace | None
    """Where the face was when the PIN was asked for."""


class PinVerdict(StrEnum):
    RIGHT = "right"
    DURESS = "duress"
    """The duress PIN: opens like the PIN, and raises the alarm."""
    WRONG = "wrong"
    LOCKED = "locked"
    """Not checked: the person's PIN entry waits after too many wrong PINs."""


class DoorPins:
    """Checks a recognised person's PIN at one door, through the PIN throttle.

    Every PIN is counted as wrong before it is checked (core.people.pin_throttle);
    a right PIN or the duress PIN takes the count back. Both hashes are checked
    every time, a decoy standing in for one not set, so the door takes the same
    time whichever PIN was typed: the duress PIN looks like the PIN to whoever
    watches. Thread-safe if ``store`` and ``record_audit`` are.
    """

    def __init__(
        self,
        *,
        store: PinStore,
        policy: SecuritySettings,
        kiosk_id: str,
        record_audit: Callable[[KioskAuditEvent], None],
        on_wait: Callable[[PinWait], None] = lambda _wait: None,
    ) -> None:
        """``record_audit``: the kiosk's event log (ResilientEventLog.record_audit), which
        keeps the alarm in the database, or spools it while the database is down.
        ``on_wait``: told of each wait a wrong PIN here starts (the kiosk's alert to its
        integrations); the store has audited it already. Never left to raise."""
        self._store = store
        self._policy = policy
        self._kiosk_id = kiosk_id
        self._record_audit = record_audit
        self._on_wait = on_wait

    def verify(self, person_id: uuid.UUID, pin: str) -> PinVerdict:
        """Raises StoreError when the count cannot be kept (nothing was checked)."""
        try:
            attempt = self._store.reserve_pin_attempt(person_id, self._kiosk_id, self._policy)
        except PinLocked:
            return PinVerdict.LOCKED
        for wait in attempt.waits:
            self._alert(wait)
        rounds = self._policy.pin_bcrypt_rounds
        typed = pin if well_formed(pin) else ""
        right = pin_matches(typed, attempt.hashes.pin, rounds) and bool(typed)
        duress = pin_matches(typed, attempt.hashes.duress, rounds) and bool(typed)
        if not (right or duress):
            return PinVerdict.WRONG
        try:
            self._store.pin_accepted(attempt)
        except StoreError as error:
            # Checked and right: the person passes. Their count stays (it errs
            # towards locking) until their next right PIN.
            log.warning("a right PIN's count could not be taken back: %s", error)
        # Both at once only if the stored hashes were tampered with: the alarm wins.
        return PinVerdict.DURESS if duress else PinVerdict.RIGHT

    def _alert(self, wait: PinWait) -> None:
        # Someone may be guessing with the person's photo: the site should know now.
        log.warning(
            "wrong PINs at %s: a person's PIN entry waits %d s (%s)",
            self._kiosk_id,
            wait.seconds,
            "at every door" if wait.scope is PinScope.PERSON else "at this door",
        )
        try:
            self._on_wait(wait)
        except Exception:  # an alert's fault must not stop the door
            log.exception("the alert of a PIN wait at %s was not raised", self._kiosk_id)

    def raise_duress(self, decision: AccessDecision) -> None:
        """The silent alarm for ``decision`` (made on a duress PIN): an audit event
        naming the kiosk, the person and the access event, never the PIN. Never
        raises: the door goes on whatever becomes of it."""
        details: dict[str, object] = {
            "person_id": str(decision.person_id),
            "access_event_id": str(decision.event_id),
            "outcome": decision.outcome.value,
        }
        log.warning("duress PIN typed at this door (access event %s)", decision.event_id)
        try:
            self._record_audit(KioskAuditEvent(self._kiosk_id, DURESS_ACTION, details))
        except KioskError as error:
            log.error("the duress alarm of %s was not recorded: %s", decision.event_id, error)
        except Exception:  # a bug in the event log must not stop the door
            log.exception("the duress alarm of %s was not recorded", decision.event_id)
