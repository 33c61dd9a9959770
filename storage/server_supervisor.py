"""Bringing the kiosk's embedded server back when it dies, and saying that it did."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from core.administration.server_supervision import (
    RESTARTED_ACTION,
    Outage,
    ServerSupervision,
    SupervisionStatus,
)
from core.errors import StoreError
from core.settings import EmbeddedServerSettings
from storage.audit_log import SYSTEM_ACTOR, append_audit
from storage.embedded import EmbeddedServer
from storage.transactions import transaction

log = logging.getLogger(__name__)


class ServerSupervisor:
    """Exists so that a crashed embedded server does not leave the door offline until
    someone restarts the kiosk.

    A thread of its own checks every ``check_interval_s`` that the server's verified
    postmaster is alive; when it is not, it starts the server again, at once and
    then with growing waits (core.administration.server_supervision decides when).
    Each outage, once over, becomes an audit event naming how long it lasted; one
    that cannot be written yet (the database went again) is written at a later
    check. ``status()`` may be read from any thread."""

    def __init__(
        self,
        server: EmbeddedServer,
        engine: Engine,
        kiosk_id: str,
        settings: EmbeddedServerSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server = server
        self._sessions = sessionmaker(engine)
        self._kiosk_id = kiosk_id
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._supervision = ServerSupervision(settings)
        self._unaudited: list[tuple[Outage, uuid.UUID]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="database-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ServerSupervisor:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def status(self) -> SupervisionStatus:
        with self._lock:
            return self._supervision.status(self._clock())

    def check(self) -> None:
        """One round: is the server there, restart it if it is due, audit what ended."""
        running = self._server.is_running()
        restarted = False
        with self._lock:
            if not running:
                self._supervision.seen_down(self._clock(), datetime.now(UTC))
            due = not running and self._supervision.restart_due(self._clock())
        if due:
            try:
                restarted = self._server.ensure_running()
                running = True
            except (StoreError, OSError) as error:
                log.error("the embedded database is down and did not restart: %s", error)
                with self._lock:
                    self._supervision.restart_failed(self._clock(), str(error)[:300])
        if running:
            with self._lock:
                outage = self._supervision.seen_up(self._clock(), datetime.now(UTC), restarted)
                if outage is not None:
                    log.warning("the embedded database is back after %.1f s", outage.down_s)
                    self._unaudited.append((outage, uuid.uuid4()))
            self._audit_outages()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.check_interval_s):
            try:
                self.check()
            except Exception:  # the supervisor must outlive any one bad round
                log.exception("checking the embedded database failed")

    def _audit_outages(self) -> None:
        with self._lock:
            waiting = list(self._unaudited)
        for outage, event_id in waiting:
            try:
                with transaction(self._sessions) as session:
                    append_audit(
                        session,
                        SYSTEM_ACTOR,
                        RESTARTED_ACTION,
                        self._kiosk_id,
                        outage.audit_details(),
                        event_id,  # written once even if a retry follows a lost reply
                    )
            except StoreError as error:
                log.warning("the database outage is not audited yet: %s", error)
                return
            with self._lock:
                self._unaudited.remove((outage, event_id))
