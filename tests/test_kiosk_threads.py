"""The capture thread, the one-slot hand-off and the recognition worker's signals."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from core.errors import RecognitionPaused, StoreBusy, StoreError
from core.settings import ImageLimits
from frames.sources import ImageFolderSource
from kiosk.camera import CaptureThread
from kiosk.latest_frame import LatestFrame
from kiosk.recognition import RecognitionWorker


def test_latest_frame_keeps_only_the_newest_and_counts_drops() -> None:
    latest = LatestFrame()
    assert latest.take() is None
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(3)]
    for frame in frames:
        latest.put(frame)
    assert latest.dropped == 2
    taken = latest.take()
    assert taken is not None
    assert taken[0, 0, 0] == 2
    assert latest.take() is None


def folder_camera(folder: Path, fps: float = 50) -> ImageFolderSource:
    return ImageFolderSource(folder, fps, ImageLimits())


def test_capture_never_waits_for_a_slow_consumer_and_stops_promptly(
    qtbot: QtBot, photos: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    shutil.copy(photos / "yaoming_in_players.jpg", folder / "0001.jpg")
    latest = LatestFrame()
    capture = CaptureThread(lambda: folder_camera(folder), latest)
    with qtbot.waitSignal(capture.camera_available, check_params_cb=lambda ok: ok, timeout=5000):
        capture.start()
    qtbot.waitUntil(lambda: capture.frames_read >= 10, timeout=5000)
    assert latest.dropped >= 8  # nobody took frames: all but the newest were dropped
    started = time.monotonic()
    capture.stop()
    assert not capture.isRunning()
    assert time.monotonic() - started < 1.0


def test_a_lost_camera_is_reported_and_reconnected(
    qtbot: QtBot, photos: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "camera"
    capture = CaptureThread(
        lambda: folder_camera(folder), LatestFrame(), reconnect_first_s=0.05, reconnect_max_s=0.2
    )
    with qtbot.waitSignal(
        capture.camera_available, check_params_cb=lambda ok: not ok, timeout=5000
    ):
        capture.start()
    qtbot.waitUntil(lambda: capture.reconnects >= 2, timeout=5000)
    folder.mkdir()
    shutil.copy(photos / "no_face.png", folder / "frame.png")
    with qtbot.waitSignal(capture.camera_available, check_params_cb=lambda ok: ok, timeout=5000):
        pass
    capture.stop()


class _FailingRecognizer:
    """Stands in for DoorRecognizer: every frame ends in ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.frames = 0

    def process(self, frame: np.ndarray) -> None:
        self.frames += 1
        raise self.error

    def forget(self) -> None:
        pass


@pytest.mark.parametrize(
    "error", [StoreBusy("slow"), StoreError("down"), RecognitionPaused(5.0), ValueError("x")]
)
def test_every_frame_taken_is_reported_done_even_when_recognition_fails(error: Exception) -> None:
    """The preview paints on ``frame_done``: a busy or unreachable database must not
    leave it waiting for its deadline on every frame."""
    latest = LatestFrame()
    recognizer = _FailingRecognizer(error)
    worker = RecognitionWorker(recognizer, latest)  # type: ignore[arg-type]
    done: list[bool] = []
    worker.frame_done.connect(lambda: done.append(True))
    worker.process_latest()  # an empty slot: nothing was taken, nothing is done
    latest.put(np.zeros((4, 4, 3), np.uint8))
    worker.process_latest()
    assert recognizer.frames == 1
    assert done == [True]
