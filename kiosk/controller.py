"""Wires the threads to the kiosk screen, and stops them cleanly."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QStackedWidget

from config.environment import Location
from core.access.consumers import DecisionRelay
from core.access.door import DecisionConsumer, DoorRecognizer
from core.access.door_access import DoorAccess
from core.access.door_builder import build_door
from core.access.door_pin import DoorPins
from core.access.door_status import DoorStatus
from core.access.frame_outcome import FrameOutcome
from core.errors import KioskError
from core.people.pin_throttle import PinScope, PinWait
from core.settings import Settings
from frames.sources import FrameSource, source_from_spec
from integrations.events import Alert, AlertKind
from integrations.forwarder import Forwarder
from kiosk.backup_schedule import BackupSchedule, open_backup_schedule
from kiosk.camera import CaptureThread
from kiosk.door_hardware import (
    DoorHardware,
    LockedFirst,
    describe,
    hold_locked_first,
    open_door_hardware,
)
from kiosk.enrollment_worker import EnrollmentWorker
from kiosk.integrations_link import AlertLine, open_kiosk_integrations
from kiosk.kiosk_screen import KioskScreen
from kiosk.latest_frame import LatestFrame
from kiosk.operator_mode import OperatorMode
from kiosk.reader_display import ReaderDisplay
from kiosk.recognition import RecognitionThread, RecognitionWorker
from kiosk.spool_flusher import SpoolFlusher
from kiosk.startup import Services, Startup
from osdp_reader import open_reader
from osdp_reader.grants import GrantSender
from osdp_reader.reader import OsdpReader
from storage.area_presence import SqlAreaPresence
from storage.badges import SqlBadgeBook
from storage.pin_store import SqlPinStore
from telemetry.decision_log import DecisionLog
from telemetry.metrics import KioskMetrics
from telemetry.reader_metrics import ReaderCollector

log = logging.getLogger(__name__)

# How often the same database problem is logged again while it lasts (s).
DATABASE_PROBLEM_LOG_S = 60.0


class KioskController(QObject):
    """Owns the start-up, capture and recognition threads for one kiosk window."""

    def __init__(
        self,
        stack: QStackedWidget,
        screen: KioskScreen,
        settings: Settings,
        location: Location,
        pinned: Mapping[str, Any],
        db_password: str | None = None,
        locked_first: LockedFirst | None = None,
    ) -> None:
        """``pinned`` settings (from the command line) win over the database's.
        ``locked_first``: the lock already held by the entry point (kiosk.door_lock_first)."""
        super().__init__()
        self._stack = stack
        self._screen = screen
        self._pinned = dict(pinned)
        self._resources = ExitStack()
        self._data_dir = location.data_dir
        self._location = location
        self._db_password = db_password
        # The lock is forced locked before the database and the models are touched, and
        # stays so if they fail; the door controller takes the adapter over once started.
        self._locked_first = locked_first or hold_locked_first(settings.door_io)
        self._startup = Startup(
            location,
            settings,
            self._pinned,
            db_password,
            self._resources,
            None if self._locked_first is None else self._locked_first.hold,
        )
        # Only bound methods of QObjects here: Qt then runs them on the receiver's (GUI)
        # thread. A lambda has no receiver and may run on the emitting thread.
        self._startup.progress.connect(screen.show_starting)
        self._startup.ready.connect(self._start_recognition)
        self._startup.failed.connect(self._startup_failed)
        self.settings = settings
        self.latest = LatestFrame()
        self.capture: CaptureThread | None = None
        self.recognition: RecognitionThread | None = None
        self.enrollment: EnrollmentWorker | None = None
        self.flusher: SpoolFlusher | None = None
        self.services: Services | None = None
        self.operator_mode: OperatorMode | None = None
        # Called on the recognition thread with each frame's outcome and wait (ms).
        self.frame_observer: Callable[[FrameOutcome, float], None] | None = None
        self.metrics = KioskMetrics()
        # The door's decision consumers (the log, the metrics, the door hardware, the OSDP
        # reader, the integrations, as configured), off the recognition path.
        self.decisions: DecisionRelay | None = None
        # The lock, door contact and exit button ([door_io]); None without door hardware.
        self.door: DoorHardware | None = None
        # The kiosk as an OSDP reader towards a door controller ([osdp]); None when off.
        self.reader: OsdpReader | None = None
        self.reader_display: ReaderDisplay | None = None
        self._door_words = ""
        self._reader_words = ""
        """The door hardware's and the controller link's state, shown to operators together."""
        # MQTT, webhooks and alerts (integrations/); None when a setting keeps them off.
        self.integrations: Forwarder | None = None
        self.alert_line = AlertLine()
        # The daily backup ([backup] time_of_day); None when it is off.
        self.backups: BackupSchedule | None = None
        self._alerts = self._backup_trouble = ""
        self._camera_was_lost = False
        self._database_problem: tuple[str, str, float] | None = None
        self._shutting_down = False
        screen.operator_requested.connect(self.request_login)

    def start(self) -> None:
        self._screen.show_starting("database, models, camera")
        if self._locked_first is not None:
            self._locked_first.state_described.connect(self._screen.show_door_state)
            self._locked_first.start()
        self._startup.start()

    @Slot(object)
    def _start_recognition(self, services: Services) -> None:
        if self._shutting_down:  # start-up finished while the window was closing
            return
        self.services = services
        self.settings = settings = services.settings
        metrics_refused = ""
        if settings.telemetry.metrics_port:
            try:
                self.metrics.serve(settings.telemetry.metrics_port)
            except KioskError as error:  # the door goes on; the refusal stays in sight
                log.error("metrics are off: %s", error)
                metrics_refused = f"metrics are off: {error}"
        self.metrics.watch_spool(services.events)
        if services.database_server is not None:
            self.metrics.watch_database_server(services.database_server.status)
        self.integrations = open_kiosk_integrations(
            services, self._data_dir, self._door_status, self.alert_line
        )
        listeners = [] if self.integrations is None else [self.integrations]
        if self._locked_first is not None:
            # Handed over by the start-up thread: waiting here for an adapter call under
            # way would freeze the window for up to the adapter's time-out.
            assert services.door_io is not None
            self._locked_first.state_described.disconnect(self._screen.show_door_state)
            self._locked_first = None
            self.door = open_door_hardware(services.door_io, services, self.metrics, listeners)
        if self.door is not None:
            self.door.show_on(self._screen)
            self.door.start()
        if services.reader_key is not None:
            self._start_reader(services)
        if self.integrations is not None:
            self.integrations.start()
        worker = RecognitionWorker(self._door_recognizer(settings), self.latest, self._observe)
        self.recognition = RecognitionThread(worker)
        self.enrollment = EnrollmentWorker(services.engine, settings, self.latest)
        self.recognition.adopt(self.enrollment)
        worker.outcome_ready.connect(self._screen.show_outcome)
        worker.frame_done.connect(self._screen.frame_done)
        worker.paused.connect(self._screen.show_paused)
        worker.failed.connect(self._recognition_failed)
        worker.pin_ignored.connect(self._screen.end_pin)
        self._screen.pin_entered.connect(worker.submit_pin)  # queued: the worker's thread
        worker.paused.connect(self._count_pause)
        worker.offline.connect(self._database_offline)
        worker.busy.connect(self._database_busy)
        self.operator_mode = OperatorMode(
            self._stack, self._screen, services, worker.set_active, self.enrollment, self._pinned
        )
        self.operator_mode.settings_changed.connect(self.apply_settings)
        self.alert_line.changed.connect(self._show_alerts)
        if self.door is not None:
            self.door.state_described.connect(self._show_door_words)
            self._show_door_words(describe(self.door.status))
        if self.reader_display is not None:
            self.reader_display.state_described.connect(self._show_reader_words)
            self.reader_display.describe()
        self.recognition.start()
        self.flusher = SpoolFlusher(services.events, settings.door.offline_retry_s)
        self.flusher.trouble_changed.connect(self._screen.show_spool_trouble)
        self.flusher.start()
        self.backups = open_backup_schedule(services, self._location, self._db_password)
        if self.backups is not None:
            self.backups.trouble_changed.connect(self._show_backup_trouble)
            self.backups.start()
        self._start_capture()
        self._screen.show_idle()
        self.operator_mode.begin()
        # Never a path: the door screen is public.
        self._screen.show_status(metrics_refused or settings.kiosk_name or settings.kiosk_id)

    def _door_status(self) -> DoorStatus | None:
        """For the integrations, on their threads: the door's state, None without one."""
        door = self.door
        return None if door is None else door.status

    def _door_recognizer(self, settings: Settings) -> DoorRecognizer:
        assert self.services is not None
        if self.decisions is None:
            # Made once: a new recognizer (new settings) hands its decisions to the same lanes.
            lanes: list[tuple[str, DecisionConsumer]] = [
                ("log", DecisionLog(settings.telemetry.log_person_names)),
                ("metrics", self.metrics),
            ]
            if self.door is not None:
                lanes.append(("door", self.door.controller))
            if self.reader is not None:
                badges = SqlBadgeBook(self.services.store.engine)
                lanes.append(("osdp", GrantSender(self.reader, badges, settings.osdp)))
            if self.integrations is not None:
                lanes.append(("integrations", self.integrations))
            self.decisions = DecisionRelay(lanes, settings.door.decision_queue)
            self.metrics.watch_consumers(self.decisions.counts)
        door = self.door
        access = DoorAccess(
            kiosk_id=settings.kiosk_id,
            rules=self.services.store.rules,
            holidays=self.services.holidays,
            presence=SqlAreaPresence(
                self.services.store.engine, settings.rules.presence_lock_wait_ms
            ),
            locked_down=lambda: door is not None and door.status.state.lockdown,
        )
        pins = DoorPins(
            store=SqlPinStore(self.services.store.engine),
            policy=settings.security,
            kiosk_id=settings.kiosk_id,
            record_audit=self.services.events.record_audit,
            on_wait=self._pin_wait_alert,
        )
        return build_door(
            engine=self.services.engine,
            store=self.services.store.identity,
            settings=settings,
            events=self.services.events,
            access=access,
            pins=pins,
            consumers=[self.decisions],
        )

    def _pin_wait_alert(self, wait: PinWait) -> None:
        """On the recognition thread: wrong PINs made a person's PIN entry wait."""
        if self.integrations is not None:
            where = "at every door" if wait.scope is PinScope.PERSON else "at this door"
            self.integrations.raise_alert(
                Alert(
                    kind=AlertKind.PIN_WAIT,
                    text=f"wrong PINs at {self.settings.kiosk_id}: a person's PIN entry waits "
                    f"{wait.seconds} s {where}",
                    details={"scope": wait.scope.value, "seconds": wait.seconds},
                )
            )

    def _start_reader(self, services: Services) -> None:
        """The OSDP reader on its serial port; the controller's answers on the door screen."""
        assert services.reader_key is not None
        osdp = services.settings.osdp
        self.reader_display = ReaderDisplay(self._screen, osdp)
        self.reader = open_reader(
            osdp, services.reader_key, self.reader_display.signals, services.settings.kiosk_id
        )
        self.metrics.registry.register(ReaderCollector(self.reader.status))
        self.reader.start()

    @Slot(str)
    def _show_door_words(self, text: str) -> None:
        self._door_words = text
        self._show_door_state()

    @Slot(str)
    def _show_reader_words(self, text: str) -> None:
        self._reader_words = text
        self._show_door_state()

    def _show_door_state(self) -> None:
        if self.operator_mode is not None:
            words = (self._door_words, self._reader_words)
            self.operator_mode.show_door_state(" · ".join(w for w in words if w))

    def _start_capture(self) -> None:
        assert self.recognition is not None
        assert self.enrollment is not None
        self.capture = CaptureThread(self._open_camera, self.latest)
        self.capture.frame_available.connect(self.recognition.worker.process_latest)
        self.capture.frame_available.connect(self.enrollment.process_latest)
        self.capture.frame_captured.connect(self._screen.show_frame)
        self.capture.camera_available.connect(self._screen.show_camera)
        self.capture.camera_available.connect(self._count_camera)
        self.capture.start()

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """Settings saved on the Settings screen take effect now; pinned ones stay."""
        if self.recognition is None or self.enrollment is None or self.capture is None:
            return
        old_camera = self.settings.camera
        self.settings = settings
        self.recognition.worker.replace_recognizer(self._door_recognizer(settings))
        self.enrollment.use_settings(settings)
        if settings.camera != old_camera:
            self.capture.stop()
            self._start_capture()

    def pinned_keys(self) -> frozenset[str]:
        return frozenset(self._pinned)

    @Slot()
    def request_login(self) -> None:
        if self.operator_mode is not None:
            self.operator_mode.request_login()

    def _open_camera(self) -> FrameSource:
        return source_from_spec(self.settings.camera, self.settings.images)

    def _observe(self, outcome: FrameOutcome, waited_ms: float) -> None:
        """On the recognition thread, after each frame: the frame metrics (the
        decisions reach the log and the metrics through the relay's lanes)."""
        if self.capture is not None:
            self.metrics.catch_up_frames(self.capture.frames_read, self.latest.dropped)
        self.metrics.observe_frame(outcome)
        if self.frame_observer is not None:
            self.frame_observer(outcome, waited_ms)

    @Slot(str)
    def _recognition_failed(self, reason: str) -> None:
        """The worker caught it and goes on with the next frame; say so on the screen,
        whose words never repeat the error's (it may name a path or a person)."""
        log.error("recognition failed on a frame: %s", reason)
        self.metrics.recognition_faults.inc()
        self._screen.show_fault()

    @Slot(str)
    def _show_alerts(self, text: str) -> None:
        self._alerts = text
        self._show_operator_alerts()

    @Slot(str)
    def _show_backup_trouble(self, text: str) -> None:
        self._backup_trouble = text
        self._show_operator_alerts()

    def _show_operator_alerts(self) -> None:
        """The integrations' alerts and a failed scheduled backup, on one line."""
        if self.operator_mode is not None:
            shown = [t for t in (self._alerts, self._backup_trouble) if t]
            self.operator_mode.show_alerts(" · ".join(shown))

    @Slot(float)
    def _count_pause(self, _seconds: float) -> None:
        self.metrics.throttle_pauses.inc()

    @Slot(str)
    def _database_offline(self, detail: str) -> None:
        self.metrics.database_errors.labels("offline").inc()
        self._log_database_problem("offline", detail)
        self._screen.show_offline()

    @Slot(str)
    def _database_busy(self, detail: str) -> None:
        self.metrics.database_errors.labels("busy").inc()
        self._log_database_problem("busy", detail)
        self._screen.show_busy()

    def _log_database_problem(self, kind: str, detail: str) -> None:
        # The operator reads the database's own words here, when they change and at
        # most once a minute otherwise, not once a frame; the door screen never shows them.
        now = time.monotonic()
        if (
            self._database_problem is None
            or self._database_problem[:2] != (kind, detail)
            or (now - self._database_problem[2] >= DATABASE_PROBLEM_LOG_S)
        ):
            self._database_problem = (kind, detail, now)
            log.warning("the door's database is %s: %s", kind, detail)

    @Slot(bool)
    def _count_camera(self, available: bool) -> None:
        if available and self._camera_was_lost:
            self.metrics.camera_reconnects.inc()
        self._camera_was_lost = not available

    @Slot(str)
    def _startup_failed(self, reason: str) -> None:
        log.error("cannot start: %s", reason)
        self._screen.show_starting("failed")
        self._screen.show_status(f"cannot start: {reason}")

    def shutdown(self) -> None:
        """Stop every thread and close the store; safe to call more than once."""
        self._shutting_down = True
        if self.operator_mode is not None:
            self.operator_mode.shutdown()
        if self.capture is not None:
            self.capture.stop()
        if self.enrollment is not None:
            self.enrollment.stop_capture()
        if self.recognition is not None:
            self.recognition.stop()
        if self.flusher is not None:
            self.flusher.stop()
        if self.backups is not None:
            self.backups.stop()
        if self.decisions is not None:
            self.decisions.close()
        if self.reader is not None:
            self.reader.stop()  # what the controller has not taken is withdrawn
        if self.door is not None:
            self.door.stop()  # locked at a clean exit
        if self.integrations is not None:
            self.integrations.stop()  # after the door: its last events go out too
        if self._locked_first is not None:  # start-up failed or had not finished
            self._locked_first.hold.stop()
            self._locked_first = None
        self._startup.wait()
        self._resources.close()
        self.metrics.close()

    def threads_running(self) -> list[str]:
        running = []
        if self._startup.isRunning():
            running.append("startup")
        if self.capture is not None and self.capture.isRunning():
            running.append("capture")
        if self.recognition is not None and self.recognition.is_running():
            running.append("recognition")
        if self.flusher is not None and self.flusher.isRunning():
            running.append("spool-flusher")
        if self.backups is not None and self.backups.isRunning():
            running.append("backup-schedule")
        return running
