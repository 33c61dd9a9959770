"""The door's recognition policy on real frames, models and database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.access.door import DoorRecognizer, Guidance
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import Operator, Role
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore


def load(path: Path) -> np.ndarray:
    return read_image_file(path, ImageLimits())


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    """The same scene a few pixels to the side: a person standing not quite still."""
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1])


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def door(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    admin: Operator,
    yaoming_jpg: Path,
) -> DoorRecognizer:
    enrollment = EnrollmentService(face_engine, identity_store, settings.matching)
    enrollment.enroll(admin, "Yao Ming", None, [("y", load(yaoming_jpg))], current_consent(), True)
    door_settings = settings.model_copy(
        update={"kiosk_id": "door-1", "security": SecuritySettings(recognition_max_denied=1000)}
    )
    return build_door(engine=face_engine, store=identity_store, settings=door_settings)


def access_events(engine: Engine) -> list[schema.AccessEvent]:
    with Session(engine) as session:
        return list(session.scalars(select(schema.AccessEvent).order_by(schema.AccessEvent.id)))


def test_the_enrolled_person_is_granted_once_then_not_searched_again(
    door: DoorRecognizer, photos: Path, db_engine: Engine
) -> None:
    crop = load(photos / "yaoming_in_players.jpg")
    outcomes = [door.process(shifted(crop, dx)) for dx in (0, 2, 4, 6, 8, 10)]
    decided = [o.decision for o in outcomes if o.decision is not None]
    assert len(decided) == 1
    assert outcomes[2].decision is decided[0]  # the third agreeing frame decides
    assert decided[0].granted
    assert decided[0].display_name == "Yao Ming"
    assert [o.searched for o in outcomes] == [True, True, True, False, False, False]
    events = access_events(db_engine)
    assert [(e.outcome, e.kiosk_id) for e in events] == [("granted", "door-1")]
    # Each frame says where its time went; a decided face is only detected.
    assert all(o.timings.detect_ms > 0 for o in outcomes)
    assert all(o.timings.embed_ms > 0 and o.timings.search_ms > 0 for o in outcomes[:3])
    assert all(o.timings.total_ms == o.timings.detect_ms for o in outcomes[3:])
    assert outcomes[2].timings.record_ms > 0
    assert [o.timings.record_ms > 0 for o in outcomes].count(True) == 1


def test_a_stranger_is_denied_after_consecutive_refusals(
    door: DoorRecognizer, gdp_jpg: Path, face_engine: FaceEngine, db_engine: Engine
) -> None:
    image = load(gdp_jpg)
    largest = max(face_engine.detect(image), key=lambda f: f.area)
    x1, y1, x2, y2 = (int(v) for v in largest.box)
    stranger = np.ascontiguousarray(image[max(y1 - 40, 0) : y2 + 40, max(x1 - 40, 0) : x2 + 40])
    outcomes = [door.process(stranger) for _ in range(4)]
    decision = outcomes[2].decision
    assert decision is not None
    assert not decision.granted
    assert decision.display_name is None
    assert outcomes[3].decision is None
    assert [e.outcome for e in access_events(db_engine)] == ["unknown"]


def test_a_crowd_is_asked_to_come_one_at_a_time(door: DoorRecognizer, t1_jpg: Path) -> None:
    outcome = door.process(load(t1_jpg))
    assert outcome.guidance is Guidance.ONE_AT_A_TIME
    assert not outcome.searched


def test_a_distant_face_is_asked_to_come_closer(door: DoorRecognizer, yaoming_jpg: Path) -> None:
    small = cv2.resize(load(yaoming_jpg), None, fx=0.18, fy=0.18)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    outcome = door.process(canvas)
    assert outcome.guidance is Guidance.COME_CLOSER
    assert not outcome.searched


def test_no_face_is_no_decision(door: DoorRecognizer, photos: Path, db_engine: Engine) -> None:
    outcome = door.process(load(photos / "no_face.png"))
    assert outcome.tracked is None
    assert outcome.decision is None
    with Session(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(schema.AccessEvent)) == 0
