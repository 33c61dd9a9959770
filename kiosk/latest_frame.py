"""A one-slot hand-off between the capture and recognition threads."""

from __future__ import annotations

import threading
import time

from core.faces import BGRImage


class LatestFrame:
    """Holds only the newest frame: a slow consumer never makes the queue grow.

    Exists because capture must never block on recognition; a frame replaced
    before anyone took it is counted as dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: BGRImage | None = None
        self._put_at = 0.0
        self.dropped = 0

    def put(self, frame: BGRImage) -> None:
        with self._lock:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._put_at = time.perf_counter()

    def take(self) -> BGRImage | None:
        taken = self.take_with_age()
        return taken[0] if taken else None

    def take_with_age(self) -> tuple[BGRImage, float] | None:
        """The frame and how long, in milliseconds, it waited in the slot."""
        with self._lock:
            frame, self._frame = self._frame, None
            if frame is None:
                return None
            return frame, (time.perf_counter() - self._put_at) * 1000
