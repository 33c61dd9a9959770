"""Sends spooled events to the database in the background."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QThread, Signal

from core.errors import KioskError
from storage.event_log import ResilientEventLog

log = logging.getLogger(__name__)


class SpoolFlusher(QThread):
    """Exists so that events spooled while the database was down reach it soon
    after it returns, even when nobody comes to the door, and so that only this
    thread ever waits on the network for them. Tries at once (a spool left by an
    earlier run), then every ``interval_s``; after each try it says whether the
    spool needs the operator (a full disk)."""

    trouble_changed = Signal(str)
    """What the operator must do about the spool, or "" once it is fine again."""

    def __init__(self, events: ResilientEventLog, interval_s: float) -> None:
        super().__init__()
        self.setObjectName("spool-flusher")
        self._events = events
        self._interval_s = interval_s
        self._stop = threading.Event()

    def run(self) -> None:
        reported = ""
        while True:
            try:
                self._events.flush()
            except KioskError as error:
                log.error("sending the spooled events failed: %s", error)
            except Exception:  # a fault in one try must not end the retries
                log.exception("sending the spooled events failed")
            trouble = self._events.trouble or ""
            if trouble != reported:
                reported = trouble
                self.trouble_changed.emit(trouble)
            if self._stop.wait(self._interval_s):
                return

    def stop(self) -> None:
        """Ends after the try in progress, which an unreachable server bounds by the
        connection timeout."""
        self._stop.set()
        self.wait()
