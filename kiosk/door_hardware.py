"""The kiosk's door hardware: the adapter named in ``[door_io]``, the door controller
over it, its events to the audit log, the metrics and the screens."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal, Slot

from core.access.door_audit import DoorAuditTrail
from core.access.door_commands import DoorCommandPoller, DoorCommandStore
from core.access.door_control import DoorControl
from core.access.door_controller import DoorController, DoorListener
from core.access.door_events import (
    DoorEvent,
    UnlockCause,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
    UnlockUnconfirmed,
)
from core.access.door_io import DoorIo
from core.access.door_status import DoorStatus
from core.access.lock_hold import LockHold
from core.door_io_settings import DoorIoSettings
from core.log_records import KioskAuditEvent
from core.settings import Settings
from door_io.hardware import open_door_io
from kiosk.grant_banner import DoorResult, DoorResultKind
from kiosk.kiosk_screen import KioskScreen
from kiosk.startup import Services
from storage.door_commands import SqlDoorCommands
from telemetry.metrics import KioskMetrics

log = logging.getLogger(__name__)
# The door's thread stops within this: one last write to lock, then the adapter closes.
_STOP_S = 5.0


class DoorHardware(QObject):
    """Exists so that the kiosk window hears of the door's events on its own thread:
    the controller tells its listeners on the door's thread, ``door_event`` carries
    each one to the GUI thread (a queued signal), where the screens show it."""

    door_event = Signal(object)  # DoorEvent
    state_described = Signal(str)  # the door's state in words, after each event

    def __init__(
        self,
        io: DoorIo,
        settings: Settings,
        record_audit: Callable[[KioskAuditEvent], None],
        metrics: KioskMetrics,
        commands: DoorCommandStore | None = None,
        listeners: Sequence[DoorListener] = (),
    ) -> None:
        """``commands``: where operators' door commands are taken from (None: nowhere);
        ``listeners``: told of each door event too (the integrations), on the door's thread."""
        super().__init__()
        self._settings = settings.door_io
        self._metrics = metrics
        self.audit = DoorAuditTrail(settings.kiosk_id, record_audit, settings.door.decision_queue)
        self.controller = DoorController(
            io,
            settings.door_io,
            listeners=[self.audit, self._observe, self.door_event.emit, *listeners],
        )
        self.commands = (
            None
            if commands is None
            else DoorCommandPoller(commands, self.controller, settings.door_io, settings.kiosk_id)
        )
        self._screen: KioskScreen | None = None

    def start(self) -> None:
        """The lock is forced locked first, on the door's thread."""
        self.audit.start()
        self.controller.start()
        if self.commands is not None:
            self.commands.start()

    def stop(self) -> None:
        """Locked, the adapter closed, the last report (stopped) written and the last
        audit events recorded."""
        if self.commands is not None:
            self.commands.stop(_STOP_S)
        self.controller.stop(_STOP_S)
        if self.commands is not None:
            self.commands.report_stopped()
        self.audit.stop(_STOP_S)

    @property
    def status(self) -> DoorStatus:
        return self.controller.status

    def show_on(self, screen: KioskScreen) -> None:
        self._screen = screen
        self.door_event.connect(self._show)
        screen.show_door_state(describe(self.status))

    def _observe(self, event: DoorEvent) -> None:
        self._metrics.observe_door(event, self.controller.status)

    @Slot(object)
    def _show(self, event: DoorEvent) -> None:
        screen = self._screen
        if screen is None:
            return
        described = describe(self.status)
        screen.show_door_state(described)
        self.state_described.emit(described)
        result = door_result(event)
        if result is not None:
            screen.show_door_result(result)


def door_result(event: DoorEvent) -> DoorResult | None:
    """What ``event`` did for a grant, for the banner; None for anything else (the
    exit button, an operator's unlock: nobody at the screen waits for those)."""
    if isinstance(event, Unlocked) and event.cause is UnlockCause.GRANT and event.event_id:
        return DoorResult(
            event_id=event.event_id, kind=DoorResultKind.OPEN, seconds=event.until_s - event.at_s
        )
    if isinstance(event, UnlockFailed) and event.event_id:
        return DoorResult(event_id=event.event_id, kind=DoorResultKind.FAILED)
    if isinstance(event, UnlockUnconfirmed) and event.event_id:
        return DoorResult(event_id=event.event_id, kind=DoorResultKind.UNCONFIRMED)
    if isinstance(event, UnlockRefused) and event.cause is UnlockCause.GRANT and event.event_id:
        return DoorResult(event_id=event.event_id, kind=DoorResultKind.REFUSED, why=event.why)
    return None


def describe(status: DoorStatus) -> str:
    """The door's state in a few words, for the screens ("door locked · lockdown")."""
    state = status.state
    parts = ["door unlocked" if state.unlocked else "door locked"]
    if state.door_open:
        parts.append("open")
    if state.lockdown:
        parts.append("LOCKDOWN")
    parts.extend(alarm.value.replace("_", " ").upper() for alarm in sorted(state.alarms))
    if status.fault is not None:
        parts.append("DOOR FAULT")
    return " · ".join(parts)


class LockedFirst(QObject):
    """Exists so that the door screen hears, on its own thread, whether the lock held
    from the kiosk's first moment (core.access.lock_hold.LockHold) is locked or faulted:
    the hold tells its listener on its own thread, ``state_described`` is queued."""

    state_described = Signal(str)

    def __init__(self, io: DoorIo, settings: DoorIoSettings) -> None:
        super().__init__()
        self._adapter = io.name
        self._locked = DoorControl(settings).state
        self.hold = LockHold(io, settings, self._fault_changed)

    def start(self) -> None:
        """Start the hold, if the kiosk's entry point has not already (before Qt), and
        say the lock's state again: the first try may have ended before anyone heard."""
        self.hold.start()
        if self.hold.first_try_done:
            self._fault_changed(self.hold.fault)

    def _fault_changed(self, fault: str | None) -> None:
        status = DoorStatus(adapter=self._adapter, state=self._locked, fault=fault)
        self.state_described.emit(describe(status))


def hold_locked_first(settings: DoorIoSettings) -> LockedFirst | None:
    """The adapter of ``settings`` held locked (not yet started); None for adapter
    "none". ``door_io`` is a local setting (kiosk.toml, KIOSK_DOOR_IO__*), never the
    database's, so it is known before the database is opened."""
    io = open_door_io(settings)
    if io is None:
        return None
    log.info("door hardware: %s (fail-%s)", io.name, settings.fail_mode.value)
    return LockedFirst(io, settings)


def open_door_hardware(
    io: DoorIo,
    services: Services,
    metrics: KioskMetrics,
    listeners: Sequence[DoorListener] = (),
) -> DoorHardware:
    """The door controller over ``io`` (handed over by the LockHold), with its audit
    trail and operators' commands from the database."""
    commands = SqlDoorCommands(services.store.engine, services.claim)
    return DoorHardware(
        io, services.settings, services.events.record_audit, metrics, commands, listeners
    )
