"""The kiosk's access and audit events: to the database, or to the spool meanwhile."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreError
from core.log_records import KioskAuditEvent
from core.records import AccessDecision
from storage.access_chain import lock_people
from storage.answer_deadline import deadline_of
from storage.audit_log import SYSTEM_ACTOR, append_audit
from storage.identity_store import insert_access_event
from storage.outage_notes import OFFLINE_ACTION, ONLINE_ACTION, online_note, open_outages
from storage.spool import EventSpool, SpooledEvent, SpooledLine, line_of
from storage.spool_bounds import SpoolError, validate
from storage.transactions import first_line, transaction

log = logging.getLogger(__name__)
__all__ = ["OFFLINE_ACTION", "ONLINE_ACTION", "ResilientEventLog", "open_outages"]


class ResilientEventLog:
    """Exists so that no access or audit event is lost while the database is down,
    and so that the door never waits on an unreachable database to keep one.

    While the database answers and nothing waits, an event goes straight to it.
    Once a write fails the log is offline: each event joins the end of the spool
    at once, without touching the network, and only ``flush`` (the kiosk's
    flusher thread) talks to the database, oldest event first. The log is online
    again once the spool is empty and a ``kiosk.online`` note, paired with the
    outage's ``kiosk.offline`` note, has been sent; an outage left open by an
    earlier run is found in the spool and closed the same way.

    An event the database refuses (a value it cannot hold: not "unreachable" or
    "busy") is set aside in the spool's rejected file with the reason, and the
    events around it are stored.

    Two locks: ``_state`` guards the spool file and the offline state and is
    held only for local file work; ``_sending`` keeps flushes one at a time and
    is held across network I/O, so the door never takes it.

    A database that takes a request and never answers is cut at its AnswerDeadline
    (storage.answer_deadline): the door's write as a whole, each of the flush's
    answers; a write made just after another call went unanswered goes to the
    spool at once.
    """

    def __init__(self, engine: Engine, spool: EventSpool, kiosk_id: str) -> None:
        self._sessions = sessionmaker(engine)
        self._deadline = deadline_of(engine)
        self._spool = spool
        self._kiosk_id = kiosk_id
        self._batch = spool.settings.batch_events
        self._state = threading.Lock()
        self._sending = threading.Lock()
        self._offline_note: KioskAuditEvent | None = None
        self._spooled_while_offline = 0
        self._unspooled: list[KioskAuditEvent] = []
        """Notes due at the end of the spool that the disk could not take yet."""
        self._lost = 0
        self._set_aside_elsewhere = 0
        outages = open_outages(spool.history())
        if (mine := outages.pop(kiosk_id, None)) is not None:
            self._offline_note, self._spooled_while_offline = mine
        # Left by this data folder under another kiosk id: closed, as nobody else will.
        self._unspooled += [online_note(note, count, kiosk_id) for note, count in outages.values()]

    # --- what the kiosk reads ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events waiting to be sent."""
        with self._state:
            return len(self._spool) + len(self._unspooled)

    @property
    def offline(self) -> bool:
        with self._state:
            return self._offline_note is not None

    @property
    def set_aside(self) -> int:
        """Events set aside with a reason since start: unreadable, or refused by the database."""
        with self._state:
            return self._spool.set_aside_count + self._set_aside_elsewhere

    @property
    def lost(self) -> int:
        """Events neither stored nor spooled since start (the database down, the disk full)."""
        with self._state:
            return self._lost

    @property
    def trouble(self) -> str | None:
        """What the operator must do about the spool (free disk space), else None."""
        with self._state:
            return self._spool.trouble

    # --- keeping events ---------------------------------------------------------------------

    def record_access(self, decision: AccessDecision) -> None:
        """Store or spool ``decision``. Raises StoreError (SpoolFull for a full disk) only
        when it could be neither; a bad one is set aside and never raises."""
        self._record(decision)

    def record_audit(self, event: KioskAuditEvent) -> None:
        """Something the kiosk itself reports (its door's events), kept like an access
        event: stored, or spooled while the database is down. Raises as record_access."""
        self._record(event)

    def _record(self, event: SpooledEvent) -> None:
        try:
            validate(event)
        except SpoolError as error:
            self._set_aside_new(event, str(error))
            return
        with self._state:
            if self._offline_note is not None or self._unspooled or len(self._spool):
                self._keep(event)
                return
            if self._deadline.unanswered:  # the door must not wait on it a second time
                self._went_offline(self._deadline.refusal())
                self._keep(event)
                return
        # Online with nothing waiting: straight to the database, holding no lock.
        try:
            with self._deadline.bounded(), transaction(self._sessions) as session:
                _store(session, event)
            return
        except StoreError as error:
            reason = str(error)
        except StatementError as error:
            if _refused(error):
                self._set_aside_new(event, f"refused by the database: {_reason(error)}")
                return
            reason = f"the database failed: {_reason(error)}"
        with self._state:
            self._went_offline(reason)
            self._keep(event)

    def _keep(self, event: SpooledEvent) -> None:
        """Spool ``event`` after any notes due before it; under ``_state``."""
        try:
            self._write_notes()
            self._spool.append(event)
        except SpoolError as error:
            self._set_aside_locked(event, str(error))
            return
        except StoreError:
            self._lost += 1
            raise
        if self._offline_note is not None:
            self._spooled_while_offline += 1

    def _set_aside_new(self, event: SpooledEvent, reason: str) -> None:
        with self._state:
            self._set_aside_locked(event, reason)

    def _set_aside_locked(self, event: SpooledEvent, reason: str) -> None:
        try:
            self._spool.set_aside([(line_of(event), reason)])
        except StoreError as error:
            self._lost += 1
            log.error("an event could be neither stored nor set aside (%s): %s", reason, error)

    def _write_notes(self) -> None:
        """Under ``_state``: the notes due, in order; StoreError if the disk refuses one."""
        while self._unspooled:
            note = self._unspooled[0]
            try:
                self._spool.append(note)
            except SpoolError as error:  # a note the database could not hold must not block
                self._set_aside_locked(note, str(error))
            del self._unspooled[0]

    def _went_offline(self, reason: str) -> None:
        """Under ``_state``: start an outage, its note due at the end of the spool."""
        if self._offline_note is not None:
            return
        self._offline_note = KioskAuditEvent(
            self._kiosk_id, OFFLINE_ACTION, {"reason": reason[:300]}
        )
        self._spooled_while_offline = 0
        self._unspooled.append(self._offline_note)
        log.error("database unreachable, events go to the spool %s: %s", self._spool.path, reason)

    # --- sending ----------------------------------------------------------------------------

    def flush(self) -> int:
        """Send what the spool holds, oldest first; returns how many events the database
        committed. Never raises for an unreachable database (the events wait for the
        next try); StoreError if the spool itself cannot be written."""
        with self._sending:
            sent, reachable = self._drain(self._spool)
            if reachable:
                more, reachable = self._settle()
                sent += more
            if reachable:
                sent += self._send_orphans()
            return sent

    def _drain(self, spool: EventSpool) -> tuple[int, bool]:
        """Send ``spool`` to its end: (events committed, whether the database answered)."""
        sent = 0
        while True:
            with self._state:
                batch = spool.oldest(self._batch)
            if not batch:
                return sent, True
            stored, rejected, done, failure = self._send(batch)
            with self._state:
                spool.set_aside(rejected)
                spool.forget(batch[:done])
            sent += stored
            if failure is not None:
                self._fail(failure)
                return sent, False

    def _send(
        self, batch: Sequence[SpooledLine]
    ) -> tuple[int, list[tuple[str, str]], int, str | None]:
        """(committed, refused lines with reasons, lines done, why it stopped or None).

        A batch locks every person it names before its first append: the audit
        chains' lock is taken last (storage/event_chains.py). One event per
        transaction, as in the retries below, keeps that order by itself."""
        try:
            with self._each_answer() as session:
                lock_people(
                    session, [e.event for e in batch if isinstance(e.event, AccessDecision)]
                )
                for line in batch:
                    _store(session, line.event)
            return len(batch), [], len(batch), None
        except StoreError as error:
            return 0, [], 0, str(error)
        except StatementError as error:
            if not _refused(error):
                return 0, [], 0, f"the database failed: {_reason(error)}"
        # Something in the batch was refused: find it, one event per transaction.
        stored = 0
        rejected: list[tuple[str, str]] = []
        for done, line in enumerate(batch):
            try:
                with self._each_answer() as session:
                    _store(session, line.event)
                stored += 1
            except StoreError as error:
                return stored, rejected, done, str(error)
            except StatementError as error:
                if not _refused(error):
                    return stored, rejected, done, f"the database failed: {_reason(error)}"
                rejected.append((line.text, f"refused by the database: {_reason(error)}"))
        return stored, rejected, len(batch), None

    def _settle(self) -> tuple[int, bool]:
        """The spool was sent to its end: close the outage, send what came meanwhile, and
        forget the file. (events committed, whether the database answered)."""
        sent = 0
        while True:
            notes: list[KioskAuditEvent] = []
            with self._state:
                if self._offline_note is not None and not len(self._spool):
                    note = online_note(self._offline_note, self._spooled_while_offline)
                    self._offline_note = None
                    self._unspooled.append(note)
                    log.warning("database reachable again; the spooled events were sent")
                    self._write_notes_quietly()
                if not len(self._spool):
                    if not self._unspooled:
                        self._spool.compact()
                        return sent, True
                    # The disk took no note: nothing waits before them, send them as they are.
                    notes, self._unspooled = self._unspooled, []
            if notes:
                failure = self._send_notes(notes)
                if failure is not None:
                    with self._state:
                        self._unspooled[:0] = notes
                    self._fail(failure)
                    return sent, False
                sent += len(notes)
                continue
            more, reachable = self._drain(self._spool)
            sent += more
            if not reachable:
                return sent, False

    def _send_orphans(self) -> int:
        """Send the spool files of kiosk processes that ended, closing their outages."""
        sent = 0
        with self._state:
            orphans = self._spool.take_orphans()
        try:
            for orphan in orphans:
                outages = open_outages(orphan.history())
                more, reachable = self._drain(orphan)
                sent += more
                if not reachable:
                    break
                notes = [online_note(n, count, self._kiosk_id) for n, count in outages.values()]
                if notes and (failure := self._send_notes(notes)) is not None:
                    self._fail(failure)
                    break
                sent += len(notes)
                log.warning("sent %d events left in %s by a kiosk that ended", more, orphan.path)
                with self._state:
                    orphan.discard()
        finally:
            with self._state:
                for orphan in orphans:
                    self._set_aside_elsewhere += orphan.set_aside_count
                    orphan.close()
        return sent

    def _send_notes(self, notes: Sequence[KioskAuditEvent]) -> str | None:
        """Send notes straight to the database; why it failed, or None."""
        try:
            with self._each_answer() as session:
                for note in notes:
                    _store(session, note)
        except StoreError as error:
            return str(error)
        except StatementError as error:
            return f"the database failed: {_reason(error)}"
        return None

    @contextlib.contextmanager
    def _each_answer(self) -> Iterator[Session]:
        """The flusher's transaction: each answer within the deadline, however long
        a batch rightly takes."""
        with self._deadline.bounded(per_answer=True), transaction(self._sessions) as session:
            yield session

    def _fail(self, reason: str) -> None:
        with self._state:
            self._went_offline(reason)
            self._write_notes_quietly()

    def _write_notes_quietly(self) -> None:
        # Kept in memory, then sent before anything else; the spool reports the disk.
        with contextlib.suppress(StoreError):
            self._write_notes()

    def close(self) -> None:
        """Let another kiosk process take the spool over."""
        with self._state:
            self._spool.close()


def _refused(error: StatementError) -> bool:
    """The database refused the event's values (SQLSTATE classes 22 and 23), or they
    could not be sent at all; anything else is not the event's fault."""
    if isinstance(error, DBAPIError):
        return isinstance(error, DataError | IntegrityError)
    return True


def _reason(error: StatementError) -> str:
    if isinstance(error, DBAPIError):
        return first_line(error)
    return f"{type(error.orig).__name__}: {error.orig}"


def _store(session: Session, event: SpooledEvent) -> None:
    if isinstance(event, AccessDecision):
        insert_access_event(session, event)
    else:
        details = {"at": event.occurred_at.isoformat(), **event.details}
        append_audit(session, SYSTEM_ACTOR, event.action, event.kiosk_id, details, event.event_id)
