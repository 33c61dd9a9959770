"""The login throttle's rules: when a username, and when a kiosk, is locked.

Pure: the store keeps the counters (in database time, so kiosks sharing a server
agree) and applies these rules with the counters' rows locked.

Each attempt is reserved before its password is checked: counted as a failure
up front, in one transaction, so parallel guesses cannot all be checked before
any of them is counted, and a failure is counted even if the process dies or the
database fails before the check ends. A success then takes its count back.
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


@dataclass(frozen=True)
class UserFailures:
    """Failed logins for one typed username, whether or not such an operator exists."""

    consecutive_failures: int
    locks: int
    locked_until: datetime | None


@dataclass(frozen=True)
class LoginAttempt:
    """One password check, reserved and already counted as a failure.

    ``gate`` holds the locks in force once this attempt was counted (its own
    count may have started one); ``kiosk_before`` and ``kiosk_after`` are the
    kiosk's counters around it, so a success can take its count back.
    """

    username: str
    kiosk_id: str
    failures: int
    """The username's consecutive failures, this attempt counted."""
    gate: LoginGate
    kiosk_before: KioskFailures
    kiosk_after: KioskFailures
    locked_user: bool
    """This attempt's count locked the username."""
    locked_kiosk: bool
    """This attempt's count locked the kiosk."""


def reserve_attempt(
    username: str,
    kiosk_id: str,
    user: UserFailures,
    kiosk: KioskFailures,
    now: datetime,
    policy: SecuritySettings,
) -> tuple[UserFailures, LoginAttempt]:
    """Count one more attempt as a failure, before its password is checked.

    Returns the username's counters after it and the reserved attempt. Raises
    LoginLocked, counting nothing, while the username or the kiosk is locked: at
    most ``login_max_failures`` passwords are checked per username between locks.
    """
    LoginGate(now, user.locked_until, kiosk.locked_until).check()
    failures = user.consecutive_failures + 1
    lock = user_lock(failures, user.locks, policy)
    if lock is None:
        user_after = UserFailures(failures, user.locks, user.locked_until)
    else:
        user_after = UserFailures(failures, user.locks + 1, now + lock)
    kiosk_after, locked_kiosk = kiosk_after_failure(kiosk, now, policy)
    attempt = LoginAttempt(
        username,
        kiosk_id,
        failures,
        LoginGate(now, user_after.locked_until, kiosk_after.locked_until),
        kiosk,
        kiosk_after,
        locked_user=lock is not None,
        locked_kiosk=locked_kiosk,
    )
    return user_after, attempt


def kiosk_after_success(current: KioskFailures, attempt: LoginAttempt) -> KioskFailures:
    """The kiosk's counters once ``attempt`` turned out to be a success.

    Its count is taken back (and a lock it started lifted) only if no other
    attempt was counted at the kiosk since; otherwise it stays counted, which
    errs towards locking. (The username's counters simply start again.)
    """
    return attempt.kiosk_before if current == attempt.kiosk_after else current


def _retry_text(until: datetime, now: datetime) -> str:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    return f"try again after {until:%H:%M:%S %Z} (in {wait} s)"
