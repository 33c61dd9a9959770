"""Throttles: locks after failed logins, and a cooldown after denied recognitions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import AuthenticationFailed, KioskError
from core.settings import SecuritySettings


class LoginLocked(AuthenticationFailed):
    """Logins are refused until ``retry_at``; the message says when."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RecognitionPaused(KioskError):
    """Too many denied recognitions: no search runs until the cooldown ends."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"too many unrecognised attempts; please wait {retry_after_s:.0f} s and try again"
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoginGate:
    """The throttle state of one username at one kiosk, in database time."""

    now: datetime
    user_locked_until: datetime | None
    kiosk_locked_until: datetime | None

    def check(self) -> None:
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


def _retry_text(until: datetime, now: datetime) -> str:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    return f"try again after {until:%H:%M:%S %Z} (in {wait} s)"


class RecognitionThrottle:
    """Counts denied recognitions at one kiosk and pauses searching when they pile up.

    Exists so that someone trying face after face (or photo after photo) at
    the door gets a pause instead of unlimited searches. Memory is bounded: it
    keeps at most ``recognition_max_denied`` timestamps. Not thread-safe: the
    one recognition worker of a kiosk owns it.
    """

    def __init__(
        self, policy: SecuritySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._denied: deque[float] = deque(maxlen=policy.recognition_max_denied)
        self._paused_until = 0.0

    def check(self) -> None:
        """Raise RecognitionPaused during a cooldown."""
        remaining = self._paused_until - self._clock()
        if remaining > 0:
            raise RecognitionPaused(remaining)

    def record(self, granted: bool) -> None:
        now = self._clock()
        if granted:
            self._denied.clear()
            return
        self._denied.append(now)
        window_start = now - self._policy.recognition_window_s
        if len(self._denied) == self._denied.maxlen and self._denied[0] >= window_start:
            self._paused_until = now + self._policy.recognition_cooldown_s
            self._denied.clear()
