"""The kiosk's integrations (MQTT, webhooks, alerts: integrations.setup) wired to its
database, its door and the operator's screen."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.access.door_commands import DoorCommandService
from core.access.door_status import DoorStatus
from core.errors import KioskError
from integrations.events import Alert
from integrations.forwarder import Forwarder
from integrations.setup import DoorCommandAccess, open_integrations
from kiosk.startup import Services
from storage.door_commands import SqlDoorCommands

log = logging.getLogger(__name__)


class AlertLine(QObject):
    """Exists so that the operator's screen hears of alerts on its own thread: the
    forwarder tells its list on its thread, ``changed`` (queued) carries it as one line."""

    changed = Signal(str)

    def show(self, alerts: list[Alert]) -> None:
        self.changed.emit(" · ".join(f"ALERT: {alert.text}" for alert in alerts))


def open_kiosk_integrations(
    services: Services,
    data_dir: Path,
    door_status: Callable[[], DoorStatus | None],
    line: AlertLine,
) -> Forwarder | None:
    """The forwarder (not started); None, with the reason logged, when a setting keeps
    it from starting (a secret file open to others...): the door works on without."""
    settings = services.settings
    store = services.store
    commands = DoorCommandAccess(
        service=DoorCommandService(SqlDoorCommands(store.engine), settings.door_io),
        operators=store.operators,
        record_audit=services.events.record_audit,
    )
    try:
        return open_integrations(
            settings,
            data_dir,
            door_status=door_status,
            database_offline=lambda: services.events.offline,
            newest_verify_failure=store.audit.newest_verify_failure,
            alerts_shown=line.show,
            door_commands=commands,
        )
    except KioskError as error:
        log.error("integrations (MQTT, webhooks, alerts) not started: %s", error)
        return None
