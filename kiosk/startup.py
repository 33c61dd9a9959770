"""Opening the database and loading the models, off the GUI thread."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QThread, Signal

from config.environment import Location
from core.administration.shared_settings import SettingsService, with_overrides
from core.errors import KioskError
from core.settings import Settings
from core.vision.engine import FaceEngine
from storage.event_log import ResilientEventLog
from storage.kiosk_registry import register_kiosk
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
    ) -> None:
        super().__init__()
        self._location = location
        self._settings = settings
        self._pinned = pinned
        self._db_password = db_password
        self._stack = stack

    def run(self) -> None:
        try:
            self.progress.emit("database")
            self._location.data_dir.mkdir(parents=True, exist_ok=True)
            store = self._stack.enter_context(
                open_store(
                    self._location.data_dir,
                    self._location.database_url,
                    self._db_password,
                    self._settings.security.audit_anchor_lock_s,
                )
            )
            settings = with_overrides(
                SettingsService(store.settings, self._settings).effective(), self._pinned
            )
            register_kiosk(
                store.engine,
                settings.kiosk_id,
                settings.kiosk_name or settings.kiosk_id,
                importlib.metadata.version("face-kiosk"),
            )
            self.progress.emit("models")
            from core.inference.insightface_backend import load_engine

            # The kiosk only judges camera frames: one near face.
            engine = load_engine(
                settings, detector_input_size=settings.models.camera_detector_input_size
            )
        except KioskError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:
            log.exception("start-up failed")
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        spool = EventSpool(self._location.data_dir / "spool" / "events.jsonl")
        events = ResilientEventLog(store.engine, spool, settings.kiosk_id)
        self.ready.emit(Services(store, engine, settings, events))
