"""The recognition worker: runs the door's policy on the newest frame, off the GUI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.access.door import DoorRecognizer
from core.access.frame_outcome import FrameOutcome
from core.errors import RecognitionPaused, StoreBusy, StoreError
from core.faces import BGRImage
from kiosk.latest_frame import LatestFrame

log = logging.getLogger(__name__)


class RecognitionWorker(QObject):
    """Lives on its own QThread; each ``frame_available`` runs the recognizer on the
    newest frame. Notifications that find the slot already emptied cost nothing,
    so the newest frame always wins.

    A PIN typed on the door's keypad arrives as a queued call to ``submit_pin`` and
    is checked here too, between two frames: the door's state has one owner."""

    outcome_ready = Signal(object)  # core.access.frame_outcome.FrameOutcome
    frame_done = Signal()  # after each frame taken, whatever came of it
    paused = Signal(float)
    offline = Signal(str)
    busy = Signal(str)
    failed = Signal(str)
    pin_ignored = Signal()
    """A PIN was not decided on: the door no longer waited for it, or checking failed."""

    def __init__(
        self,
        recognizer: DoorRecognizer,
        latest: LatestFrame,
        observer: Callable[[FrameOutcome, float], None] | None = None,
    ) -> None:
        """``observer``, if given, is called on this worker's thread with each frame's
        outcome and how long the frame waited before recognition began (ms)."""
        super().__init__()
        self._observer = observer
        self._recognizer = recognizer
        self._recognizer_lock = threading.Lock()
        self._latest = latest
        self._active = threading.Event()
        self._active.set()
        self._resumed = threading.Event()
        self.frames_processed = 0

    def set_active(self, active: bool) -> None:
        """Pause the door while operators use the screen; safe from any thread."""
        if active:
            if not self._active.is_set():
                self._resumed.set()
            self._active.set()
        else:
            self._active.clear()

    def replace_recognizer(self, recognizer: DoorRecognizer) -> None:
        """New settings: the next frame is judged by ``recognizer``; safe from any thread."""
        with self._recognizer_lock:
            self._recognizer = recognizer

    @Slot()
    def process_latest(self) -> None:
        if not self._active.is_set():
            return  # the frame is left for the enrollment capture
        taken = self._latest.take_with_age()
        if taken is None:
            return
        frame, waited_ms = taken
        try:
            self._process(frame, waited_ms)
        finally:
            self.frame_done.emit()

    @Slot(int, str)
    def submit_pin(self, request: int, pin: str) -> None:
        """The PIN typed for the door's PIN ``request``: checked and decided on this
        thread; its outcome is shown like a frame's."""
        with self._recognizer_lock:
            recognizer = self._recognizer
        outcome = self._run(lambda: recognizer.enter_pin(request, pin))
        if outcome is None:
            self.pin_ignored.emit()
            return
        # Not the observer's: it counts camera frames, and a PIN is none.
        self.outcome_ready.emit(outcome)

    def _process(self, frame: BGRImage, waited_ms: float) -> None:
        with self._recognizer_lock:
            recognizer = self._recognizer
        if self._resumed.is_set():
            self._resumed.clear()
            recognizer.forget()
        outcome = self._run(lambda: recognizer.process(frame))
        if outcome is None:
            return
        self.frames_processed += 1
        if self._observer is not None:
            self._observer(outcome, waited_ms)
        self.outcome_ready.emit(outcome)

    def _run(self, step: Callable[[], FrameOutcome | None]) -> FrameOutcome | None:
        """``step``'s outcome; None, with the reason signalled, when it failed."""
        try:
            return step()
        except RecognitionPaused as pause:
            self.paused.emit(pause.retry_after_s)
        except StoreBusy as error:
            self.busy.emit(str(error))
        except StoreError as error:
            self.offline.emit(str(error))
        except BaseException as error:  # one bad frame or PIN (even a SystemExit from a
            # library) must not end recognition, nor leave its thread unable to stop
            log.exception("recognition failed on a frame or a PIN")
            self.failed.emit(f"{type(error).__name__}: {error}")
        return None


class RecognitionThread:
    """Owns the QThread the door's worker, and any other user of the engine on
    camera frames, lives on; ``stop()`` quits and joins it."""

    def __init__(self, worker: RecognitionWorker) -> None:
        self.worker = worker
        self._thread = QThread()
        self._thread.setObjectName("recognition")
        worker.moveToThread(self._thread)

    def adopt(self, worker: QObject) -> None:
        """Run ``worker``'s slots on this thread too; call before ``start()``."""
        worker.moveToThread(self._thread)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.quit()
        self._thread.wait()

    def is_running(self) -> bool:
        return self._thread.isRunning()
