"""The login throttle's rules: when a username, and when a kiosk, is locked.

Pure: the store keeps the counters (in database time, so kiosks sharing a server
agree) and applies these rules in the transaction that counts the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import LoginLocked
from core.settings import SecuritySettings


@dataclass(frozen=True)
class LoginGate:
    """The throttle state of one username at one kiosk, in database time."""

    now: datetime
    user_locked_until: datetime | None
    kiosk_locked_until: datetime | None

    def check(self) -> None:
        """Raise LoginLocked, saying when to retry, while either lock lasts."""
        if self.kiosk_locked_until is not None and self.kiosk_locked_until > self.now:
            raise LoginLocked(
                "too many failed logins at this kiosk; "
                + _retry_text(self.kiosk_locked_until, self.now),
                self.kiosk_locked_until,
            )
        if self.user_locked_until is not None and self.user_locked_until > self.now:
            raise LoginLocked(
                "too many failed logins for this username; "
                + _retry_text(self.user_locked_until, self.now),
                self.user_locked_until,
            )


def user_lock(
    consecutive_failures: int, locks_so_far: int, policy: SecuritySettings
) -> timedelta | None:
    """Lock after the Nth consecutive failure, doubling with each lock up to the cap."""
    if consecutive_failures < policy.login_max_failures:
        return None
    seconds = policy.login_base_lock_s * 2 ** min(locks_so_far, 30)
    return timedelta(seconds=min(seconds, policy.login_max_lock_s))


@dataclass(frozen=True)
class KioskFailures:
    """Failed logins at one kiosk, whatever the username, counted in a window."""

    window_started_at: datetime
    failures: int
    locked_until: datetime | None


def kiosk_after_failure(
    state: KioskFailures, now: datetime, policy: SecuritySettings
) -> tuple[KioskFailures, bool]:
    """The kiosk's counters after one more failure at ``now``, and whether this
    failure locked the kiosk (``kiosk_login_max_failures`` within
    ``kiosk_login_window_s`` lock it for ``kiosk_login_lock_s``; a lock in force is
    not extended, so guessing cannot keep an operator out for ever)."""
    window = timedelta(seconds=policy.kiosk_login_window_s)
    started, failures = state.window_started_at, state.failures
    if started + window < now:
        started, failures = now, 0
    failures += 1
    already_locked = state.locked_until is not None and state.locked_until > now
    if failures >= policy.kiosk_login_max_failures and not already_locked:
        locked_until = now + timedelta(seconds=policy.kiosk_login_lock_s)
        return KioskFailures(now, 0, locked_until), True
    return KioskFailures(started, failures, state.locked_until), False


def _retry_text(until: datetime, now: datetime) -> str:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    return f"try again after {until:%H:%M:%S %Z} (in {wait} s)"
