"""The door's events into the audit log, off the door's thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from core.access.door_events import DoorEvent
from core.errors import KioskError
from core.log_records import KioskAuditEvent

log = logging.getLogger(__name__)


class DoorAuditTrail:
    """Exists so that writing an audit event (a database round trip, or the spool's
    fsync while the database is down) never delays the lock or the alarms.

    A door listener: each audited event (``DoorEvent.action`` set) becomes a
    KioskAuditEvent handed to ``record`` on a thread of its own, through a queue of
    at most ``queue_size``; past it the event is logged and counted as dropped,
    never waited for. ``record`` is the kiosk's ResilientEventLog.record_audit.
    """

    def __init__(
        self, kiosk_id: str, record: Callable[[KioskAuditEvent], None], queue_size: int
    ) -> None:
        self._kiosk_id = kiosk_id
        self._record = record
        self._queue: queue.Queue[KioskAuditEvent | None] = queue.Queue(queue_size)
        self.dropped = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="door-audit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def __call__(self, event: DoorEvent) -> None:
        if event.action is None:
            return
        audit = KioskAuditEvent(
            self._kiosk_id, event.action, event.details(), occurred_at=event.occurred_at
        )
        try:
            self._queue.put_nowait(audit)
        except queue.Full:
            self.dropped += 1
            log.error(
                "door audit fell behind; %s of %s not recorded", audit.action, audit.occurred_at
            )

    def stop(self, timeout_s: float) -> None:
        """Record what is queued, within ``timeout_s``; safe to call more than once."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            log.error("door audit did not drain in %.1f s", timeout_s)
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (audit := self._queue.get()) is not None:
            try:
                self._record(audit)
            except KioskError as error:  # the spool itself failed (a full disk): say so, go on
                self.failed += 1
                log.error("door audit event %s not recorded: %s", audit.action, error)
            except Exception:  # a bug here must not end the trail
                self.failed += 1
                log.exception("door audit event %s not recorded", audit.action)
