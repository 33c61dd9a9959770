"""Wires the threads to the kiosk screen, and stops them cleanly."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QStackedWidget

from config.environment import Location
from core.door import DoorRecognizer
from core.identity import IdentityService
from core.settings import Settings
from core.throttle import RecognitionThrottle
from kiosk.camera import CaptureThread
from kiosk.frames import FrameSource, source_from_spec
from kiosk.kiosk_screen import KioskScreen
from kiosk.latest_frame import LatestFrame
from kiosk.operator_mode import OperatorMode
from kiosk.recognition import RecognitionThread, RecognitionWorker
from kiosk.startup import Services, Startup

log = logging.getLogger(__name__)


class KioskController(QObject):
    """Owns the start-up, capture and recognition threads for one kiosk window."""

    def __init__(
        self,
        stack: QStackedWidget,
        screen: KioskScreen,
        settings: Settings,
        location: Location,
        camera: str,
        camera_fps: float,
        db_password: str | None = None,
    ) -> None:
        super().__init__()
        self._stack = stack
        self._screen = screen
        self._settings = settings
        self._camera = camera
        self._camera_fps = camera_fps
        self._resources = ExitStack()
        self._startup = Startup(location, settings, db_password, self._resources)
        # Only bound methods of QObjects here: Qt then runs them on the receiver's (GUI)
        # thread. A lambda has no receiver and may run on the emitting thread.
        self._startup.progress.connect(screen.show_starting)
        self._startup.ready.connect(self._start_recognition)
        self._startup.failed.connect(self._startup_failed)
        self.latest = LatestFrame()
        self.capture: CaptureThread | None = None
        self.recognition: RecognitionThread | None = None
        self.services: Services | None = None
        self.operator_mode: OperatorMode | None = None
        self._shutting_down = False
        screen.operator_requested.connect(self.request_login)

    def start(self) -> None:
        self._screen.show_starting("database, models, camera")
        self._startup.start()

    @Slot(object)
    def _start_recognition(self, services: Services) -> None:
        if self._shutting_down:  # start-up finished while the window was closing
            return
        self.services = services
        settings = self._settings
        throttle = RecognitionThrottle(settings.security)
        identity = IdentityService(
            services.engine, services.store.identity, settings.matching, throttle, settings.kiosk_id
        )
        recognizer = DoorRecognizer(
            services.engine, identity, settings.door, settings.quality, throttle
        )
        worker = RecognitionWorker(recognizer, self.latest)
        self.recognition = RecognitionThread(worker)
        self.capture = CaptureThread(self._open_camera, self.latest)
        self.capture.frame_available.connect(worker.process_latest)
        self.capture.frame_captured.connect(self._screen.show_frame)
        self.capture.camera_available.connect(self._screen.show_camera)
        worker.outcome_ready.connect(self._screen.show_outcome)
        worker.paused.connect(self._screen.show_paused)
        worker.offline.connect(self._screen.show_offline)
        worker.failed.connect(self._recognition_failed)
        self.operator_mode = OperatorMode(
            self._stack, self._screen, services, settings, worker.set_active
        )
        self.recognition.start()
        self.capture.start()
        self._screen.show_idle()
        self.operator_mode.begin()
        self._screen.show_status(f"{settings.kiosk_id} · {services.store.location}")

    @Slot()
    def request_login(self) -> None:
        if self.operator_mode is not None:
            self.operator_mode.request_login()

    def _open_camera(self) -> FrameSource:
        return source_from_spec(self._camera, self._settings.images, self._camera_fps)

    @Slot(str)
    def _recognition_failed(self, reason: str) -> None:
        log.error("recognition failed on a frame: %s", reason)

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
        if self.recognition is not None:
            self.recognition.stop()
        self._startup.wait()
        self._resources.close()

    def threads_running(self) -> list[str]:
        running = []
        if self._startup.isRunning():
            running.append("startup")
        if self.capture is not None and self.capture.isRunning():
            running.append("capture")
        if self.recognition is not None and self.recognition.is_running():
            running.append("recognition")
        return running
