"""Choosing good frames for a live enrollment, on the real models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.enrollment.capture import DIFFERENT_PERSON_ADVICE, EnrollmentCapture
from core.settings import EnrollmentSettings
from core.vision.engine import FaceEngine
from tests.conftest import good_stranger


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def yao(yaoming_jpg: Path) -> np.ndarray:
    image = cv2.imread(str(yaoming_jpg))
    assert image is not None
    return image


def test_good_frames_count_once_per_interval_until_enough(
    face_engine: FaceEngine, yao: np.ndarray
) -> None:
    clock = Clock()
    capture = EnrollmentCapture(
        face_engine, EnrollmentSettings(frames=2, min_interval_s=0.5), 0.4, clock
    )
    first = capture.offer(yao)
    assert (first.accepted, first.needed, first.advice, first.done) == (1, 2, None, False)
    assert first.face is not None
    clock.now += 0.1
    assert capture.offer(yao).accepted == 1  # too soon: the same instant twice adds nothing
    clock.now += 0.5
    assert capture.offer(yao).done
    captured = capture.captured
    assert len(captured.frames) == len(captured.faces) == 2
    assert captured.frames[0] is not yao  # a copy: the camera may reuse its buffer


def test_the_gates_reasons_come_back_as_plain_advice(
    face_engine: FaceEngine, photos: Path, gdp_jpg: Path
) -> None:
    capture = EnrollmentCapture(face_engine, EnrollmentSettings(), 0.4)
    cases = {
        "no_face.png": "step in front of the camera",
        "yaoming_dark.jpg": "too dark",
        "yaoming_small.jpg": "come closer",
    }
    for name, advice in cases.items():
        progress = capture.offer(cv2.imread(str(photos / name)))
        assert progress.advice is not None
        assert advice in progress.advice, name
        assert progress.accepted == 0
    crowd = capture.offer(cv2.imread(str(gdp_jpg)))
    assert crowd.advice == "one person at a time"
    assert crowd.face is not None  # the largest, for the preview box


def test_a_different_person_after_the_first_frame_is_not_counted(
    face_engine: FaceEngine, yao: np.ndarray, t1_jpg: Path
) -> None:
    crop = good_stranger(face_engine, cv2.imread(str(t1_jpg)))
    clock = Clock()
    capture = EnrollmentCapture(face_engine, EnrollmentSettings(frames=2), 0.4, clock)
    assert capture.offer(yao).accepted == 1
    clock.now += 1
    progress = capture.offer(crop)
    assert (progress.accepted, progress.advice) == (1, DIFFERENT_PERSON_ADVICE)
