"""The PIN throttle's rules: when a person's PIN entry waits, at one door or at all.

Pure: the store keeps the counters (in database time, so every kiosk sharing the
server agrees) and applies these rules with the person's row locked.

As with logins (core.accounts.login_throttle), each PIN is counted as wrong
before it is checked, in one transaction, so PINs typed at several doors at once
get no more checks than PINs typed one after another, and a check cut short (the
kiosk dies mid-check) still counts. A right PIN takes the counts back.

Two counts, because a PIN's guesser and its owner look alike to a door: whoever
holds a photo of the person passes the face check where liveness is off or fooled,
and a hard lock after a few wrong PINs would let them shut the person out of every
PIN door. So:

- **At one door** (``pin_max_failures`` wrong PINs in a row there): PIN entry for
  that person waits at that door, ``pin_base_lock_s`` at first and twice as long
  with each further wrong PIN there, up to ``pin_max_lock_s``. Their other doors are
  not slowed: the owner walks to another door while the guesser stands at this one.
- **At all doors together** (``pin_person_max_failures``): PIN entry waits at every
  door, from ``pin_base_lock_s`` doubling to ``pin_person_max_lock_s``. This bounds
  the guesses walking from door to door buys; reaching it takes a guesser several
  doors or a long wait at one, and the first wait at any door is audited and alerted
  (``door.pin_locked``), so the site has that time to act.

A wait is a delay, not a block: it ends by itself, and it never grows unless
someone types a wrong PIN after it ended. Keeping the person out for a day costs a
guesser about a day of returning to the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import PinLocked
from core.settings import SecuritySettings


class PinScope(StrEnum):
    DOOR = "door"
    """The person's PIN entry at one door."""
    PERSON = "person"
    """The person's PIN entry at every door."""


@dataclass(frozen=True)
class PinFailures:
    """Wrong PINs in a row in one scope, and the waits they earned, in database time."""

    failures: int = 0
    locks: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class PinWait:
    """A wait one count started: in which scope, and how long (s)."""

    scope: PinScope
    seconds: int


@dataclass(frozen=True)
class PinCount:
    """Both scopes' counters once one more PIN is counted as wrong."""

    door: PinFailures
    person: PinFailures
    waits: tuple[PinWait, ...] = ()
    """The waits this count started (none, one or both scopes)."""


def pin_wait(failures: int, waits_so_far: int, limit: int, base_s: int, longest_s: int) -> int:
    """The wait (s) the ``failures``-th wrong PIN in a row earns in a scope whose limit
    is ``limit``; 0 below it. From the limit on, each further wrong PIN waits again,
    twice the wait before, up to ``longest_s``: past the limit a guesser gets one PIN
    per wait, not another ``limit``."""
    if failures < limit:
        return 0
    return min(base_s * 2 ** min(waits_so_far, 30), longest_s)


def reserve_pin(
    door: PinFailures, person: PinFailures, now: datetime, policy: SecuritySettings
) -> PinCount:
    """The counters of the person at this door and at all doors once one more PIN is
    counted as wrong, before it is checked, with the waits this count started.

    Raises PinLocked, counting nothing, while a wait lasts in either scope."""
    waiting = [f.locked_until for f in (door, person) if f.locked_until and f.locked_until > now]
    if waiting:
        until = max(w for w in waiting if w is not None)
        where = "at every door" if person.locked_until in waiting else "at this door"
        raise PinLocked(
            f"too many wrong PINs; PIN entry waits {_seconds(until - now)} s {where}", until
        )
    at_door, door_wait = _counted(
        door, now, policy.pin_max_failures, policy.pin_base_lock_s, policy.pin_max_lock_s
    )
    anywhere, person_wait = _counted(
        person,
        now,
        policy.pin_person_max_failures,
        policy.pin_base_lock_s,
        policy.pin_person_max_lock_s,
    )
    waits = tuple(
        PinWait(scope, seconds)
        for scope, seconds in ((PinScope.DOOR, door_wait), (PinScope.PERSON, person_wait))
        if seconds
    )
    return PinCount(at_door, anywhere, waits)


def _counted(
    state: PinFailures, now: datetime, limit: int, base_s: int, longest_s: int
) -> tuple[PinFailures, int]:
    failures = state.failures + 1
    seconds = pin_wait(failures, state.locks, limit, base_s, longest_s)
    if not seconds:
        return PinFailures(failures, state.locks, state.locked_until), 0
    return PinFailures(failures, state.locks + 1, now + timedelta(seconds=seconds)), seconds


def _seconds(left: timedelta) -> int:
    return max(1, int(left.total_seconds() + 0.999))
