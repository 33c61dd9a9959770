"""Opening the database and loading the models, off the GUI thread."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

from config.environment import Location, secure_data_dir
from config.time_zone import door_time_zone
from core.access.door_io import DoorIo
from core.access.lock_hold import LockHold
from core.administration.shared_settings import SettingsService, with_overrides
from core.errors import (
    ConfigurationError,
    KioskError,
    KioskIdInUse,
    ModelPackError,
    StoreError,
)
from core.rules.model import Door
from core.rules.public_holidays import PublicHolidays
from core.settings import Settings
from core.vision.engine import FaceEngine
from osdp_reader.keys import ReaderKey, load_reader_key
from owned_files.secrets import kiosk_account
from storage.event_log import ResilientEventLog
from storage.kiosk_claim import KioskClaim, claim_kiosk_id
from storage.kiosk_registry import register_kiosk
from storage.server_supervisor import ServerSupervisor
from storage.spool import EventSpool
from storage.store import OpenStore, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    store: OpenStore
    engine: FaceEngine
    settings: Settings
    """In effect: the local settings, the database's over them, the pinned over those."""
    events: ResilientEventLog
    """Where the door's access events go: the database, or the spool while it is down."""
    database_server: ServerSupervisor | None = None
    """Watches the embedded server and restarts it; None on an external database."""
    claim: KioskClaim | None = None
    """This kiosk's hold on its id: no other running kiosk acts under it."""
    holidays: PublicHolidays = field(default_factory=PublicHolidays)
    """The public-holiday calendars the door's rules read, each built once."""
    door_io: DoorIo | None = None
    """The door hardware, handed over by the lock hold for the door controller; None
    without door hardware."""
    reader_key: ReaderKey | None = None
    """The OSDP secure channel key ([osdp]); None while the OSDP reader is off."""


# What the door screen, which anyone walking past can read, says about a failed start;
# the full message, with its paths and addresses, goes to the log.
_PUBLIC_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (KioskIdInUse, "another running kiosk has this kiosk's id"),
    (StoreError, "the database cannot be reached"),
    (ModelPackError, "the face models cannot be loaded"),
    (ConfigurationError, "a setting is invalid"),
)


def public_reason(error: Exception) -> str:
    """Why the kiosk cannot start, in words fit for a public screen: no path, no
    address, no setting's value."""
    what = next(
        (reason for kind, reason in _PUBLIC_REASONS if isinstance(error, kind)),
        "an unexpected error",
    )
    return f"{what}; details in the kiosk's log and from kiosk-admin health"


class Startup(QThread):
    """Exists so the window shows at once and says what it waits for, instead of
    freezing while PostgreSQL starts and the models load."""

    progress = Signal(str)
    ready = Signal(object)  # Services
    failed = Signal(str)

    def __init__(
        self,
        location: Location,
        settings: Settings,
        pinned: Mapping[str, Any],
        db_password: str | None,
        stack: ExitStack,
        lock_first: LockHold | None = None,
    ) -> None:
        """``lock_first``, when given, is waited for before anything else, up to
        ``door_io.command_timeout_s``: until the door's lock was forced locked, or that
        failed (it goes on trying). Once the rest has started it is handed over here,
        for Services.door_io: the hand-over waits for an adapter call under way (up to
        twice door_io.modbus_timeout_s, say), which the GUI thread must never do."""
        super().__init__()
        self._lock_first = lock_first
        self._location = location
        self._settings = settings
        self._pinned = pinned
        self._db_password = db_password
        self._stack = stack

    def run(self) -> None:
        if self._lock_first is not None:
            self.progress.emit("door lock")
            self._lock_first.wait_first_try(self._settings.door_io.command_timeout_s)
        try:
            self.progress.emit("database")
            secure_data_dir(self._location.data_dir)
            store = self._stack.enter_context(
                open_store(
                    self._location.data_dir,
                    self._location.database_url,
                    self._db_password,
                    self._settings.embedded_server,
                    anchor_lock_s=self._settings.security.audit_anchor_lock_s,
                    query_deadline_s=self._settings.database.query_deadline_s,
                )
            )
            secure_data_dir(self._location.data_dir)  # the embedded server opened it up
            # Before anything is done under the id: a second kiosk with it stops here.
            claim = self._stack.enter_context(
                claim_kiosk_id(
                    store.engine,
                    self._settings.kiosk_id,
                    self._settings.database.kiosk_claim_wait_s,
                )
            )
            shared = SettingsService(store.settings, self._settings)
            settings = with_overrides(shared.effective(), self._pinned)
            shared.record_local_values(self._location.setting_sources)
            supervisor = None
            if store.server is not None:
                # Closed before the store (the stack unwinds in reverse): it must not
                # restart the server that closing the store stops.
                supervisor = self._stack.enter_context(
                    ServerSupervisor(
                        store.server, store.engine, settings.kiosk_id, settings.embedded_server
                    )
                )
            register_kiosk(
                store.engine,
                settings.kiosk_id,
                settings.kiosk_name or settings.kiosk_id,
                importlib.metadata.version("face-kiosk"),
            )
            try:
                zone = door_time_zone(settings.rules.time_zone)
            except ValueError as error:
                raise ConfigurationError(f"rules.time_zone: {error}") from error
            store.rules.ensure_door(
                Door(settings.kiosk_id, settings.kiosk_name or settings.kiosk_id, zone)
            )
            # A missing or exposed key stops the start with one line naming the fix:
            # a reader without its key could never reach the controller.
            reader_key = (
                load_reader_key(
                    settings.osdp, settings.kiosk_id, kiosk_account(self._location.data_dir)
                )
                if settings.osdp.enabled
                else None
            )
            self.progress.emit("models")
            from core.inference.insightface_backend import load_engine

            # The kiosk only judges camera frames: one near face.
            engine = load_engine(
                settings, detector_input_size=settings.models.camera_detector_input_size
            )
            spool = EventSpool(self._location.data_dir / "spool" / "events.jsonl", settings.spool)
            events = ResilientEventLog(store.engine, spool, settings.kiosk_id)
            self._stack.callback(events.close)
        except KioskError as error:
            log.error("start-up failed: %s", error)
            if isinstance(error, KioskIdInUse) and self._lock_first is not None:
                # The other kiosk under this id drives the door: hands off (issue 23, M4).
                self._lock_first.let_go()
            self.failed.emit(public_reason(error))
            return
        except Exception as error:
            log.exception("start-up failed")
            self.failed.emit(public_reason(error))
            return
        door_io = None
        if self._lock_first is not None:
            self.progress.emit("door")
            door_io = self._lock_first.handover()
        self.ready.emit(
            Services(
                store,
                engine,
                settings,
                events,
                supervisor,
                claim,
                door_io=door_io,
                reader_key=reader_key,
            )
        )
