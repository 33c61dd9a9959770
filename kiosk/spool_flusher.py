"""Sends spooled events to the database in the background."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QThread

from storage.event_log import ResilientEventLog

log = logging.getLogger(__name__)


class SpoolFlusher(QThread):
    """Exists so that events spooled while the database was down reach it soon
    after it returns, even when nobody comes to the door to trigger a write.
    Tries at once (a spool left by an earlier run), then every ``interval_s``."""

    def __init__(self, events: ResilientEventLog, interval_s: float) -> None:
        super().__init__()
        self.setObjectName("spool-flusher")
        self._events = events
        self._interval_s = interval_s
        self._stop = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self._events.flush()
            except Exception:  # a full disk must not end the retries
                log.exception("sending the spooled events failed")
            if self._stop.wait(self._interval_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self.wait()
