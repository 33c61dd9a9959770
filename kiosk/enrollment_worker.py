"""Live enrollment capture on the recognition thread, while the door is paused."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal, Slot

from core.enrollment.capture import EnrollmentCapture
from core.errors import KioskError
from core.settings import Settings
from core.vision.engine import FaceEngine
from kiosk.camera import to_qimage
from kiosk.latest_frame import LatestFrame

log = logging.getLogger(__name__)


class EnrollmentWorker(QObject):
    """Judges the newest frame for the enrollment wizard, only while a capture runs.

    Lives on the recognition thread next to the door's worker, which leaves
    frames alone while operators use the screen, so the two never compete for
    a frame. ``start_capture`` and ``stop_capture`` are safe from any thread.
    """

    progress = Signal(object, object)  # CaptureProgress, the judged frame as a QImage
    completed = Signal(object)  # core.enrollment.capture.CapturedEnrollment
    failed = Signal(str)

    def __init__(self, engine: FaceEngine, settings: Settings, latest: LatestFrame) -> None:
        super().__init__()
        self._engine = engine
        self._settings = settings
        self._latest = latest
        self._lock = threading.Lock()
        self._capture: EnrollmentCapture | None = None

    def use_settings(self, settings: Settings) -> None:
        """For the next capture; safe from any thread."""
        with self._lock:
            self._settings = settings

    def start_capture(self) -> None:
        with self._lock:
            self._capture = EnrollmentCapture(
                self._engine, self._settings.enrollment, self._settings.matching.threshold
            )

    def stop_capture(self) -> None:
        """Drops whatever was captured: nothing of it is kept."""
        with self._lock:
            self._capture = None

    @property
    def capturing(self) -> bool:
        with self._lock:
            return self._capture is not None

    @Slot()
    def process_latest(self) -> None:
        with self._lock:
            capture = self._capture
        if capture is None:
            return
        frame = self._latest.take()
        if frame is None:
            return
        try:
            progress = capture.offer(frame)
        except KioskError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:
            log.exception("enrollment capture failed on a frame")
            self.failed.emit(f"unexpected {type(error).__name__}: {error}")
            return
        with self._lock:
            if self._capture is not capture:  # cancelled while this frame was judged
                return
            if progress.done:
                self._capture = None
        self.progress.emit(progress, to_qimage(frame))
        if progress.done:
            self.completed.emit(capture.captured)
