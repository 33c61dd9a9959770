"""The PIN throttle's rules: when a person's PIN entry is locked.

Pure: the store keeps each person's counters (in database time, so every kiosk
sharing the server agrees) and applies these rules with the person's row locked.

As with logins (core.accounts.login_throttle), each PIN is counted as wrong
before it is checked, in one transaction, so PINs typed at several doors at once
get no more checks than PINs typed one after another, and a check cut short (the
kiosk dies mid-check) still counts. A right PIN takes its count back.

The count is per person, not per door: a guesser holding someone's photo gains
nothing by walking to another door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import PinLocked
from core.settings import SecuritySettings


@dataclass(frozen=True)
class PinFailures:
    """One person's wrong PINs in a row, and the locks they earned, in database time."""

    failures: int = 0
    locks: int = 0
    locked_until: datetime | None = None


def pin_lock(failures: int, locks_so_far: int, policy: SecuritySettings) -> timedelta | None:
    """The lock the ``failures``-th wrong PIN in a row earns, None below the limit.

    From ``pin_max_failures`` on, every further wrong PIN locks again, each lock
    twice the one before up to ``pin_max_lock_s``: after the first lock a guesser
    gets one PIN per lock, not another ``pin_max_failures``."""
    if failures < policy.pin_max_failures:
        return None
    seconds = policy.pin_base_lock_s * 2 ** min(locks_so_far, 30)
    return timedelta(seconds=min(seconds, policy.pin_max_lock_s))


def reserve_pin(
    state: PinFailures, now: datetime, policy: SecuritySettings
) -> tuple[PinFailures, bool]:
    """The counters once one more PIN is counted as wrong, before it is checked, and
    whether this count locked PIN entry.

    Raises PinLocked, counting nothing, while a lock lasts: at most
    ``pin_max_failures`` PINs are checked per person before the first lock."""
    if state.locked_until is not None and state.locked_until > now:
        raise PinLocked(
            f"too many wrong PINs; PIN entry is locked for {_seconds(state.locked_until - now)} s",
            state.locked_until,
        )
    failures = state.failures + 1
    lock = pin_lock(failures, state.locks, policy)
    if lock is None:
        return PinFailures(failures, state.locks, state.locked_until), False
    return PinFailures(failures, state.locks + 1, now + lock), True


def _seconds(left: timedelta) -> int:
    return max(1, int(left.total_seconds() + 0.999))
