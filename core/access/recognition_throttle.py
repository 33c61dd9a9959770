"""The door's recognition throttle: a cooldown after denied recognitions pile up."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from core.errors import RecognitionPaused
from core.settings import SecuritySettings


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
