"""Come closer means come closer (issue 27, item 9): a face smaller than the door's
minimum (door.min_face_px, measured by kiosk-bench's face-size section) is asked to
come closer and never searched; one above it is searched. Real models and database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.access.door import DoorRecognizer, Guidance
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.faces import BGRImage
from core.records import AccessOutcome, Operator, Role
from core.settings import DoorSettings, ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

# The region of players.jpg around the player who is the man of yaoming.jpg: his face
# there is 45 px wide, the case the issue found searched and granted.
PLAYER_REGION = (slice(90, 260), slice(650, 840))


def _door_frame(players: BGRImage, scale: float) -> BGRImage:
    """The player's region, scaled, in the middle of a 640x480 frame."""
    region = players[PLAYER_REGION]
    if scale != 1:
        region = np.asarray(
            cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC),
            np.uint8,
        )
    frame = np.full((480, 640, 3), 96, np.uint8)
    top, left = (480 - region.shape[0]) // 2, (640 - region.shape[1]) // 2
    frame[top : top + region.shape[0], left : left + region.shape[1]] = region
    return frame


def _door(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_jpg: Path,
) -> DoorRecognizer:
    admin: Operator = operator_store.add_first_operator("alice", "bcrypt-sha256$u", Role.ADMIN)
    yao = read_image_file(yaoming_jpg, ImageLimits())
    EnrollmentService(face_engine, identity_store, settings.matching).enroll(
        admin, "Yao Ming", None, [("y", yao)], current_consent(), True
    )
    door_settings = settings.model_copy(
        update={"kiosk_id": "door-1", "security": SecuritySettings(recognition_max_denied=1000)}
    )
    # The kiosk's camera engine: detection at the camera's input size.
    camera = face_engine.with_detector_size(settings.models.camera_detector_input_size)
    return build_door(engine=camera, store=identity_store, settings=door_settings)


def _events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(schema.AccessEvent)) or 0


def test_a_45_px_face_is_asked_to_come_closer_and_never_searched(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_jpg: Path,
    players_jpg: Path,
    db_engine: Engine,
) -> None:
    door = _door(face_engine, identity_store, operator_store, settings, yaoming_jpg)
    frame = _door_frame(read_image_file(players_jpg, ImageLimits()), 1.0)
    outcomes = [door.process(frame) for _ in range(2 * settings.door.frames_to_confirm)]

    sizes = {round(o.tracked.short_side) for o in outcomes if o.tracked is not None}
    assert sizes, "the face must be found for the test to mean anything"
    assert max(sizes) < DoorSettings().min_face_px
    assert 40 <= min(sizes) <= 47  # the face of about 45 px
    assert {o.guidance for o in outcomes} == {Guidance.COME_CLOSER}
    assert not any(o.searched for o in outcomes)
    assert _events(db_engine) == 0


def test_the_same_face_above_the_minimum_is_searched_and_granted(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
    yaoming_jpg: Path,
    players_jpg: Path,
    db_engine: Engine,
) -> None:
    door = _door(face_engine, identity_store, operator_store, settings, yaoming_jpg)
    # 45 px x 1.3: about 58 px, above the minimum and short of the 64 px from which the
    # benchmark found every found face matched.
    frame = _door_frame(read_image_file(players_jpg, ImageLimits()), 1.3)
    outcomes = [door.process(frame) for _ in range(settings.door.frames_to_confirm)]

    sizes = [o.tracked.short_side for o in outcomes if o.tracked is not None]
    assert len(sizes) == len(outcomes)
    assert min(sizes) >= DoorSettings().min_face_px
    assert all(o.searched for o in outcomes)
    assert Guidance.COME_CLOSER not in {o.guidance for o in outcomes}
    decision = outcomes[-1].decision
    assert decision is not None
    assert decision.outcome is AccessOutcome.GRANTED
    assert decision.display_name == "Yao Ming"
    assert _events(db_engine) == 1


def test_the_benchmark_finds_the_doors_minimum_reliable_and_a_tiny_face_not(
    face_engine: FaceEngine, settings: Settings
) -> None:
    from bench import face_size

    camera = face_engine.with_detector_size(settings.models.camera_detector_input_size)
    minimum = DoorSettings().min_face_px
    found = face_size.run(face_engine, camera, 3, lambda _: None, sizes=(20, minimum, 96))
    tiny, at_minimum, near = found.rows
    assert found.people >= 5
    assert at_minimum.reliable
    assert near.reliable
    assert not tiny.reliable
    assert found.minimum_px == minimum
    assert "| face px |" in face_size.section(found)
