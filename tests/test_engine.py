"""The engine on the real buffalo_sc models and the package photos."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputRejected, QualityRejected
from core.inference.insightface_backend import detector_input
from core.settings import ImageLimits
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from core.vision.quality import QualityCheck

LIMITS = ImageLimits()


def load(path: Path) -> np.ndarray:
    return read_image_file(path, LIMITS)


def test_yaoming_passes_the_gate_with_a_unit_embedding(
    face_engine: FaceEngine, yaoming_jpg: Path
) -> None:
    sample = face_engine.enrollment_sample(load(yaoming_jpg), "yaoming.jpg")
    assert sample.embedding.shape == (512,)
    assert sample.embedding.dtype == np.float32
    assert np.linalg.norm(sample.embedding) == pytest.approx(1.0, abs=1e-5)
    assert sample.face.landmarks.shape == (5, 2)


def test_same_person_is_similar_and_strangers_are_not(
    face_engine: FaceEngine, yaoming_jpg: Path, photos: Path, t1_jpg: Path, gdp_jpg: Path
) -> None:
    reference = face_engine.enrollment_sample(load(yaoming_jpg), "ref").embedding
    crop = face_engine.identification_sample(load(photos / "yaoming_in_players.jpg"), "crop")
    assert float(crop.embedding @ reference) > 0.5
    for group in (t1_jpg, gdp_jpg):
        image = load(group)
        for face in face_engine.detect(image):
            assert float(face_engine.sample(image, face).embedding @ reference) < 0.3


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("yaoming_blurred.jpg", QualityCheck.BLURRY),
        ("yaoming_dark.jpg", QualityCheck.TOO_DARK),
        ("yaoming_small.jpg", QualityCheck.FACE_TOO_SMALL),
        ("yaoming_tilted.jpg", QualityCheck.NOT_FRONTAL),
        ("no_face.png", QualityCheck.NO_FACE),
    ],
)
def test_enrollment_gate_names_the_reason(
    face_engine: FaceEngine, photos: Path, name: str, check: QualityCheck
) -> None:
    with pytest.raises(QualityRejected) as raised:
        face_engine.enrollment_sample(load(photos / name), name)
    assert check in {reason.check for reason in raised.value.reasons}
    assert str(raised.value).startswith(f"{name}: ")


def test_group_photo_is_refused_for_enrollment(face_engine: FaceEngine, t1_jpg: Path) -> None:
    with pytest.raises(QualityRejected, match="6 faces in image; enrollment needs exactly one"):
        face_engine.enrollment_sample(load(t1_jpg), "t1.jpg")


def test_identification_takes_the_largest_face(face_engine: FaceEngine, t1_jpg: Path) -> None:
    image = load(t1_jpg)
    faces = face_engine.detect(image)
    sample = face_engine.identification_sample(image, "t1.jpg")
    assert sample.face.area == max(face.area for face in faces)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 3), np.float32),
        np.zeros((10, 100, 3), np.uint8),
        np.zeros((100, 100, 4), np.uint8),
    ],
)
def test_malformed_frames_are_refused(face_engine: FaceEngine, frame: np.ndarray) -> None:
    with pytest.raises(InputRejected):
        face_engine.detect(frame)


def test_one_engine_serves_several_threads_with_identical_results(
    face_engine: FaceEngine, yaoming_jpg: Path, photos: Path, gdp_jpg: Path
) -> None:
    images = [load(yaoming_jpg), load(photos / "yaoming_in_players.jpg"), load(gdp_jpg)] * 4

    def embed(image: np.ndarray) -> np.ndarray:
        return face_engine.identification_sample(image, "frame").embedding

    sequential = [embed(image) for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(embed, images))
    for alone, together in zip(sequential, concurrent, strict=True):
        np.testing.assert_allclose(alone, together, atol=1e-5)


def test_the_models_threads_rest_between_frames(face_engine: FaceEngine, yaoming_jpg: Path) -> None:
    # onnxruntime's threads spin while a run lasts; if they spun on after it (about
    # 70 ms of CPU in the half second after a frame), they would take the cores that
    # the camera, the screen and PostgreSQL need between frames.
    frame = load(yaoming_jpg)
    face_engine.sample(frame, face_engine.detect(frame)[0])
    started = time.process_time()
    time.sleep(0.5)
    assert time.process_time() - started < 0.02


@pytest.mark.parametrize(
    ("height", "width", "side", "expected"),
    [
        (480, 640, 320, (320, 256)),  # a 4:3 camera frame: 240 rows, rounded up to the stride
        (480, 640, 640, (640, 480)),
        (640, 480, 320, (256, 320)),  # portrait
        (500, 500, 320, (320, 320)),
        (10, 1000, 320, (320, 32)),  # never below one stride
    ],
)
def test_detector_input_follows_the_image_shape(
    height: int, width: int, side: int, expected: tuple[int, int]
) -> None:
    assert detector_input(height, width, side) == expected


@pytest.mark.parametrize("side", [320, 640])
def test_detection_without_padding_rows_finds_the_same_faces(
    face_engine: FaceEngine, t1_jpg: Path, side: int
) -> None:
    # A frame padded with black rows to a square is what the detector searched before
    # its input followed the frame's shape; the faces must not depend on the padding.
    frame = cv2.resize(load(t1_jpg), (640, 480))
    square = np.zeros((640, 640, 3), np.uint8)
    square[:480] = frame
    detector = face_engine.with_detector_size(side)
    fitted = sorted(detector.detect(frame), key=lambda face: face.box)
    padded = sorted(detector.detect(square), key=lambda face: face.box)
    assert len(fitted) == len(padded) == 6
    for ours, theirs in zip(fitted, padded, strict=True):
        assert np.allclose(ours.box, theirs.box, atol=1.0)
        assert np.allclose(ours.landmarks, theirs.landmarks, atol=1.0)
        assert ours.score == pytest.approx(theirs.score, abs=0.02)
