"""The capture thread: reads the camera, never waits for recognition."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import cv2
from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QImage

from core.faces import BGRImage
from frames.sources import CameraLost, FrameSource
from kiosk.latest_frame import LatestFrame

log = logging.getLogger(__name__)


def to_qimage(frame: BGRImage) -> QImage:
    """The frame as 32-bit pixels, the screen's own format: painting it then needs no
    conversion, which on a full-HD screen halves the GUI thread's work per frame."""
    height, width = frame.shape[:2]
    pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)  # QImage's RGB32 in memory order
    image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_RGB32)
    return image.copy()  # own the pixels: the array is freed on return


class CaptureThread(QThread):
    """Reads frames on its own thread, so a slow or stuck camera never freezes the screen.

    Each frame replaces the previous one in ``latest`` (dropped frames are
    counted there). A lost camera is reported and reopened with doubling
    waits. ``stop()`` is cooperative: it sets a flag, wakes the waits, joins.
    """

    frame_captured = Signal(QImage)
    frame_available = Signal()
    camera_available = Signal(bool)

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        latest: LatestFrame,
        reconnect_first_s: float = 0.5,
        reconnect_max_s: float = 10.0,
    ) -> None:
        super().__init__()
        self._open_source = open_source
        self._latest = latest
        self._reconnect_first_s = reconnect_first_s
        self._reconnect_max_s = reconnect_max_s
        self._stopping = threading.Event()
        self.frames_read = 0
        self.reconnects = 0

    def run(self) -> None:
        wait = self._reconnect_first_s
        while not self._stopping.is_set():
            try:
                source = self._open_source()
                source.open()
            except Exception as error:  # noqa: BLE001 - any failure to open is a lost camera
                self._report_lost("camera unavailable", error)
                self._stopping.wait(wait)
                wait = min(wait * 2, self._reconnect_max_s)
                self.reconnects += 1
                continue
            wait = self._reconnect_first_s
            self.camera_available.emit(True)
            try:
                self._read_until_lost(source)
            except Exception as error:  # noqa: BLE001 - a driver fault must not end the loop
                self._report_lost("camera lost", error)
            finally:
                source.close()

    def _report_lost(self, what: str, error: Exception) -> None:
        if isinstance(error, CameraLost):
            log.warning("%s: %s", what, error)
        else:
            log.exception("%s: unexpected %s", what, type(error).__name__)
        self.camera_available.emit(False)

    def _read_until_lost(self, source: FrameSource) -> None:
        interval = source.frame_interval_s
        next_due = time.monotonic()
        while not self._stopping.is_set():
            frame = source.read()
            self._latest.put(frame)
            self.frames_read += 1
            self.frame_available.emit()
            self.frame_captured.emit(to_qimage(frame))
            if interval > 0:
                next_due += interval
                self._stopping.wait(max(0.0, next_due - time.monotonic()))

    def stop(self) -> None:
        self._stopping.set()
        self.wait()
