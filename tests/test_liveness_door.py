"""Liveness at the door, on real frames, models and database: a photo never opens it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.liveness import eyes_opened
from core.access.door import DoorRecognizer
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.faces import DetectedFace
from core.inference.insightface_backend import load_engine
from core.records import AccessOutcome, Operator, Role
from core.settings import ImageLimits, LivenessMode, LivenessSettings, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

FPS = 15


class FrameClock:
    """The camera's time: each frame is 1/FPS s after the one before."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def engine_with_landmarks() -> FaceEngine:
    settings = Settings(liveness=LivenessSettings(mode=LivenessMode.BOTH))
    return load_engine(settings, detector_input_size=320)


@pytest.fixture
def enrolled(
    engine_with_landmarks: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    yaoming_jpg: Path,
) -> SqlIdentityStore:
    admin: Operator = operator_store.add_first_operator("alice", "bcrypt$unused", Role.ADMIN)
    enrollment = EnrollmentService(engine_with_landmarks, identity_store, Settings().matching)
    photo = read_image_file(yaoming_jpg, ImageLimits())
    enrollment.enroll(admin, "Yao Ming", None, [("y", photo)], current_consent(), True)
    return identity_store


def door_for(
    mode: LivenessMode, engine: FaceEngine, identity: SqlIdentityStore, clock: FrameClock
) -> DoorRecognizer:
    settings = Settings(
        kiosk_id="door-1",
        security=SecuritySettings(recognition_max_denied=1000),
        liveness=LivenessSettings(mode=mode),
    )
    return build_door(
        engine=engine, store=identity, settings=settings, clock=clock, rng=random.Random(5)
    )


def photo_held_up(photo: np.ndarray, seconds: float, kind: str, seed: int) -> Iterator[np.ndarray]:
    """What the camera sees when someone holds a photo up for ``seconds``, taking it
    away for half a second every 3 s so the door starts a new attempt."""
    rng = np.random.default_rng(seed)
    empty = np.full_like(photo, 70)
    height, width = photo.shape[:2]
    for number in range(int(seconds * FPS)):
        if number % (3 * FPS) >= int(2.5 * FPS):
            yield empty
            continue
        if kind == "still":
            yield photo
        elif kind == "noisy":  # a printed photo under a real sensor: no two frames alike
            noise = rng.normal(0, 4, photo.shape)
            yield np.clip(photo + noise, 0, 255).astype(np.uint8)
        else:  # moved about: rotated, scaled, sheared, shifted
            t = number / FPS
            matrix = cv2.getRotationMatrix2D(
                (width / 2, height / 2), 12 * np.sin(2 * t), 1 + 0.1 * np.sin(3 * t)
            )
            matrix[0, 1] += 0.15 * np.sin(4 * t)
            matrix[:, 2] += (8 * np.sin(5 * t), 6 * np.cos(3 * t))
            yield cv2.warpAffine(photo, matrix, (width, height), borderValue=(70, 70, 70))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (LivenessMode.BOTH, "still"),
        (LivenessMode.BLINK, "noisy"),
        (LivenessMode.TURN, "noisy"),
        (LivenessMode.BLINK, "moved"),
        (LivenessMode.TURN, "moved"),
    ],
)
def test_a_photo_of_the_enrolled_person_shown_for_10_s_is_never_granted(
    mode: LivenessMode,
    kind: str,
    enrolled: SqlIdentityStore,
    engine_with_landmarks: FaceEngine,
    photos: Path,
    db_engine: Engine,
) -> None:
    clock = FrameClock()
    door = door_for(mode, engine_with_landmarks, enrolled, clock)
    photo = read_image_file(photos / "yaoming_in_players.jpg", ImageLimits())
    decisions, challenged = [], 0
    for number, frame in enumerate(photo_held_up(photo, 10, kind, seed=number_seed(kind))):
        clock.now = number / FPS
        outcome = door.process(frame)
        challenged += outcome.liveness is not None
        if outcome.decision is not None:
            decisions.append(outcome.decision.outcome)
    assert AccessOutcome.GRANTED not in decisions
    assert challenged > 0, "the photo matched and was challenged"
    assert decisions
    assert set(decisions) == {AccessOutcome.LIVENESS_FAILED}
    with Session(db_engine) as session:
        stored = list(session.scalars(select(schema.AccessEvent.outcome)))
    assert stored == [outcome.value for outcome in decisions]


def number_seed(kind: str) -> int:
    return {"still": 1, "noisy": 2, "moved": 3}[kind]


class BlinkingLandmarks:
    """The real 106 landmarks of the face, with the lids closing and opening again
    once, a few frames in: what a live person who blinks gives the model."""

    def __init__(self, real: FaceEngine) -> None:
        self._real = real
        self.calls = 0

    def landmarks_106(self, image: np.ndarray, face: DetectedFace) -> np.ndarray:
        self.calls += 1
        openness = {4: 0.5, 5: 0.15, 6: 0.1, 7: 0.5}.get(self.calls, 1.0)
        return eyes_opened(self._real.landmarks_106(image, face), openness)


@pytest.mark.slow
def test_a_live_like_blink_of_the_enrolled_person_opens_the_door(
    enrolled: SqlIdentityStore, engine_with_landmarks: FaceEngine, photos: Path
) -> None:
    """Real frames with sensor noise, real identity; only the blink is synthetic,
    since no package photo holds a closed-eye frame of the same person."""
    clock = FrameClock()
    engine = engine_with_landmarks.with_landmarker(BlinkingLandmarks(engine_with_landmarks))
    door = door_for(LivenessMode.BLINK, engine, enrolled, clock)
    photo = read_image_file(photos / "yaoming_in_players.jpg", ImageLimits())
    rng = np.random.default_rng(9)
    decisions = []
    for number in range(3 * FPS):
        clock.now = number / FPS
        frame = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
        outcome = door.process(frame)
        if outcome.decision is not None:
            decisions.append(outcome.decision)
    assert [d.outcome for d in decisions] == [AccessOutcome.GRANTED]
    assert decisions[0].display_name == "Yao Ming"
