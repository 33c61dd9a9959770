"""The kiosk's access and audit events: to the database, or to the spool meanwhile."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreError
from core.records import AccessEvent, KioskAuditEvent
from storage.access_chain import lock_people
from storage.audit_log import SYSTEM_ACTOR, append_audit
from storage.identity_store import insert_access_event
from storage.spool import EventSpool, SpooledEvent
from storage.transactions import transaction

log = logging.getLogger(__name__)

OFFLINE_ACTION = "kiosk.offline"
ONLINE_ACTION = "kiosk.online"
# Events sent per transaction when the spool drains: few round trips, short locks.
_FLUSH_BATCH = 200


class ResilientEventLog:
    """Exists so that no access or audit event is lost while the database is down.

    An event goes straight to the database while it answers and nothing waits in
    the spool; otherwise it joins the end of the spool, so events always arrive
    in the order they happened. ``flush`` (called by each new event and by the
    kiosk's flusher thread) sends the spool oldest first and forgets each batch
    only after the database committed it; an event sent twice is stored once
    (its id is unique). Going offline and coming back are audit events too.

    Thread-safe: one lock around the spool and the sending.
    """

    def __init__(self, engine: Engine, spool: EventSpool, kiosk_id: str) -> None:
        self._sessions = sessionmaker(engine)
        self._spool = spool
        self._kiosk_id = kiosk_id
        self._lock = threading.Lock()
        self._offline_since: datetime | None = None
        self._spooled_while_offline = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._spool)

    def record_access(self, event: AccessEvent) -> None:
        self._record(event)

    def flush(self) -> int:
        """Send what the spool holds; returns how many events were sent. Never
        raises for an unreachable database: the events wait for the next try."""
        with self._lock:
            return self._flush()

    def _record(self, event: SpooledEvent) -> None:
        with self._lock:
            if len(self._spool):
                self._flush()
            if not len(self._spool):
                try:
                    with transaction(self._sessions) as session:
                        _store(session, event)
                    return
                except StoreError as error:
                    self._went_offline(str(error))
            self._spool.append(event)
            self._spooled_while_offline += 1

    def _went_offline(self, reason: str) -> None:
        if self._offline_since is not None:
            return
        self._offline_since = datetime.now(UTC)
        self._spooled_while_offline = 0
        log.error("database unreachable, events go to the spool %s: %s", self._spool.path, reason)
        self._spool.append(
            KioskAuditEvent(self._kiosk_id, OFFLINE_ACTION, {"reason": reason[:300]})
        )

    def _flush(self) -> int:
        waiting = self._spool.read()
        sent = 0
        for start in range(0, len(waiting), _FLUSH_BATCH):
            batch = waiting[start : start + _FLUSH_BATCH]
            try:
                with transaction(self._sessions) as session:
                    lock_people(session, [e for e in batch if isinstance(e, AccessEvent)])
                    for event in batch:
                        _store(session, event)
            except StoreError as error:
                self._went_offline(str(error))
                return sent
            self._spool.remove_first(len(batch))
            sent += len(batch)
        if self._offline_since is not None:
            self._back_online(sent)
        return sent

    def _back_online(self, sent: int) -> None:
        details: dict[str, object] = {
            "offline_since": self._offline_since.isoformat() if self._offline_since else None,
            "events_spooled": self._spooled_while_offline,
        }
        try:
            with transaction(self._sessions) as session:
                _store(session, KioskAuditEvent(self._kiosk_id, ONLINE_ACTION, details))
        except StoreError:
            return  # gone again before we could say so; the next flush says it
        log.warning("database reachable again; %d spooled events sent", sent)
        self._offline_since = None


def _store(session: Session, event: SpooledEvent) -> None:
    if isinstance(event, AccessEvent):
        insert_access_event(session, event)
    else:
        details = {"at": event.occurred_at.isoformat(), **event.details}
        append_audit(session, SYSTEM_ACTOR, event.action, event.kiosk_id, details, event.event_id)
