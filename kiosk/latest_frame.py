"""A one-slot hand-off between the capture and recognition threads."""

from __future__ import annotations

import threading

from core.faces import BGRImage


class LatestFrame:
    """Holds only the newest frame: a slow consumer never makes the queue grow.

    Exists because capture must never block on recognition; a frame replaced
    before anyone took it is counted as dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: BGRImage | None = None
        self.dropped = 0

    def put(self, frame: BGRImage) -> None:
        with self._lock:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame

    def take(self) -> BGRImage | None:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame
