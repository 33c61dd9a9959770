"""People's PINs: the second factor at a face-and-PIN door, and the duress PIN.

A PIN is 4-8 digits, kept only as a bcrypt hash (core.accounts.passwords: the
password scheme, at the fixed cost ``security.pin_bcrypt_rounds``), never logged
or audited. A person may also have a duress PIN, which must differ from their
PIN: typed at the door, it opens like the PIN and raises a silent alarm
(core.access.door_pin).

Whoever sets one PIN must not learn the other from the answer: a duress PIN typed
that is the PIN would be answered "must differ", telling an operator the person's
PIN, guess by guess. So a clash is never an answer alone: the stored PIN it
matched is cleared with it (docs/door-pin.md, "Setting it up"). An operator who
guesses right learns a PIN that no longer opens anything, the person notices (their
PIN stops working) and the audit log says why.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Protocol

from core.accounts.passwords import hash_password, verify_password
from core.accounts.permissions import Permission, authorize
from core.errors import InvalidValue
from core.people.pin_throttle import PinWait
from core.records import Operator
from core.settings import SecuritySettings
from core.store import DenialLog

MIN_PIN_DIGITS = 4
MAX_PIN_DIGITS = 8
_PIN = re.compile(rf"[0-9]{{{MIN_PIN_DIGITS},{MAX_PIN_DIGITS}}}")


class PinKind(StrEnum):
    PIN = "pin"
    DURESS = "duress"
    """Opens like the PIN, and raises the duress alarm."""


class PinChange(StrEnum):
    """What setting a PIN did, besides storing it."""

    SET = "set"
    DURESS_CLEARED = "duress_cleared"
    """A new PIN that was the stored duress PIN: stored, and the duress PIN cleared."""
    BOTH_CLEARED = "both_cleared"
    """A duress PIN that was the stored PIN: not stored, and the PIN (with any duress
    PIN) cleared."""


DURESS_CLASH_TEXT = (
    "the duress PIN was not set: it must differ from the PIN, and the person's PIN is "
    "cleared now, as whoever typed it knows it; set a new PIN with the person there, "
    "then a different duress PIN"
)


def pin_set_text(kind: PinKind, change: PinChange, whom: str | None = None) -> str:
    """What an operator is told after ``set_pin`` ("PIN set for <whom>"): the same
    words on every screen."""
    text = ("duress PIN set" if kind is PinKind.DURESS else "PIN set") + (
        f" for {whom}" if whom else ""
    )
    if change is PinChange.DURESS_CLEARED:
        text += "; the duress PIN was the same and is cleared: set a new one with the person"
    return text


def well_formed(pin: str) -> bool:
    return _PIN.fullmatch(pin) is not None


def check_pin(pin: str) -> str:
    """``pin`` if it is 4-8 digits; InvalidValue otherwise (never quoting it)."""
    if not well_formed(pin):
        raise InvalidValue(
            f"a PIN is {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits (0-9) and nothing else; "
            "type it again"
        )
    return pin


def hash_pin(pin: str, rounds: int) -> str:
    return hash_password(check_pin(pin), rounds)


def pin_matches(pin: str, stored: str | None, rounds: int) -> bool:
    """Whether ``pin`` is the one hashed in ``stored``. With nothing stored a decoy
    hash of cost ``rounds`` is checked: every PIN costs the door the same time."""
    return verify_password(pin, stored if stored is not None else _decoy(rounds))


@cache
def _decoy(rounds: int) -> str:
    return hash_password("not a PIN", rounds)


@dataclass(frozen=True)
class PinHashes:
    pin: str | None = field(default=None, repr=False)
    duress: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PinAttempt:
    """One PIN typed at a door, reserved: already counted as wrong."""

    person_id: uuid.UUID
    kiosk_id: str
    hashes: PinHashes
    failures: int
    """The person's wrong PINs in a row at all doors, this one counted."""
    locked: bool
    """This count made the person's PIN entry wait (at this door, or at all)."""
    waits: tuple[PinWait, ...] = ()
    """The waits this count started (core.people.pin_throttle)."""


class PinStore(DenialLog, Protocol):
    """Each method is one transaction; storage.pin_store implements it."""

    def reserve_pin_attempt(
        self, person_id: uuid.UUID, kiosk_id: str, policy: SecuritySettings
    ) -> PinAttempt:
        """Count one PIN for ``person_id`` as wrong before it is checked, at
        ``kiosk_id`` and at all doors (core.people.pin_throttle), and return the
        person's hashes with it, with their rows locked, in database time; a wait it
        starts is audited as ``door.pin_locked`` (details: kiosk, scope, failures,
        seconds). Raises PinLocked, counting nothing, while their PIN entry waits
        at this door or at all; StoreError when the database cannot be reached."""
        ...

    def pin_accepted(self, attempt: PinAttempt) -> None:
        """``attempt``'s PIN was right (or the duress PIN): the person's counts and
        waits, at every door, start again. Raises StoreError."""
        ...

    def set_pin(
        self,
        person_id: uuid.UUID,
        kind: PinKind,
        pin_hash: str,
        *,
        actor: Operator,
        clashes: Callable[[str], bool],
    ) -> PinChange:
        """Store ``pin_hash`` as the person's PIN or duress PIN (ASSIGN_ACCESS; an
        enroller only for people whose consent they witnessed), audited as
        ``person.pin_set`` with the kind only. ``clashes`` is asked, with the row
        locked, whether the new PIN is the other kind's stored hash; if it is, the
        stored one is cleared in the same transaction (PinChange says which), so a
        clash never tells an operator a PIN that still works: a new PIN replaces a
        duress PIN it equals (DURESS_CLEARED); a duress PIN that is the PIN is not
        stored and the PIN is cleared (BOTH_CLEARED, audited ``person.pin_cleared``
        with reason ``duress_pin_was_pin``). A duress PIN needs a PIN first
        (NotAllowed). Raises NotFound for no active person."""
        ...

    def clear_pin(self, person_id: uuid.UUID, kind: PinKind, *, actor: Operator) -> bool:
        """Remove the person's PIN (the duress PIN goes with it) or only their duress
        PIN, as ``set_pin`` allows, audited as ``person.pin_cleared``; whether there
        was one. Raises NotFound for no active person."""
        ...


class PinService:
    """Setting and clearing people's PINs: ``kiosk-admin people pin``."""

    def __init__(self, store: PinStore, policy: SecuritySettings) -> None:
        self._store = store
        self._rounds = policy.pin_bcrypt_rounds

    def set_pin(self, actor: Operator, person_id: uuid.UUID, pin: str, kind: PinKind) -> PinChange:
        """Set the PIN or duress PIN; SET or DURESS_CLEARED (``pin_set_text`` words
        it). Raises NotAllowed, InvalidValue (a malformed PIN; or a duress PIN that
        was the PIN, DURESS_CLASH_TEXT, after the PIN was cleared), NotFound."""
        authorize(actor, Permission.ASSIGN_ACCESS, self._store)
        hashed = hash_pin(pin, self._rounds)
        change = self._store.set_pin(
            person_id,
            kind,
            hashed,
            actor=actor,
            clashes=lambda other: verify_password(pin, other),
        )
        if change is PinChange.BOTH_CLEARED:
            raise InvalidValue(DURESS_CLASH_TEXT)
        return change

    def clear_pin(self, actor: Operator, person_id: uuid.UUID, kind: PinKind) -> bool:
        authorize(actor, Permission.ASSIGN_ACCESS, self._store)
        return self._store.clear_pin(person_id, kind, actor=actor)

    def may_set(self, actor: Operator) -> None:
        """NotAllowed now, before anyone is asked to type a PIN."""
        authorize(actor, Permission.ASSIGN_ACCESS, self._store)
