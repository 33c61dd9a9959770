"""Enrollment and identification on the real models and the real embedded PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.access.identification import Identification, IdentificationService
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.operators import Authenticator
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentResult, EnrollmentService
from core.errors import AuthenticationFailed, NotAllowed, QualityRejected, RecognitionPaused
from core.faces import DetectedFace
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchReason
from core.records import Operator, Role
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

PASSWORD = "tall-ladder-orange-77"


def load(path: Path) -> np.ndarray:
    return read_image_file(path, ImageLimits())


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "test-kiosk").create_first_admin(
        "Alice", PASSWORD
    )


# Who runs kiosk-admin identify in these tests.
IDENTIFIER = Operator(1, "alice", Role.ADMIN, False, "bcrypt$unused")


class IdentityService:
    """Both services over one store, as kiosk-admin has them."""

    def __init__(
        self,
        engine: FaceEngine,
        store: SqlIdentityStore,
        matching: MatchSettings,
        throttle: RecognitionThrottle,
        kiosk_id: str,
    ) -> None:
        self._enrollment = EnrollmentService(engine, store, matching)
        self._identification = IdentificationService(engine, store, matching, kiosk_id)
        self._throttle = throttle

    def enroll(self, *args: Any, **kwargs: Any) -> EnrollmentResult:
        return self._enrollment.enroll(*args, **kwargs)

    def identify(self, frame: np.ndarray, label: str) -> Identification:
        return self._identification.identify(IDENTIFIER, frame, label, self._throttle)


@pytest.fixture
def service(
    face_engine: FaceEngine, identity_store: SqlIdentityStore, settings: Settings
) -> IdentityService:
    # Decisions are under test here; the throttle has tests of its own.
    permissive = RecognitionThrottle(SecuritySettings(recognition_max_denied=1000))
    return IdentityService(face_engine, identity_store, settings.matching, permissive, "test-kiosk")


def only_face(image: np.ndarray, keep: DetectedFace, others: list[DetectedFace]) -> np.ndarray:
    """The image with every other face painted over, at its original scale."""
    masked = image.copy()
    for face in others:
        if face is not keep:
            x1, y1, x2, y2 = (int(v) for v in face.box)
            masked[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1] = 127
    return masked


def enroll_yao(service: IdentityService, admin: Operator, yaoming_jpg: Path) -> None:
    service.enroll(
        admin, "Yao Ming", None, [("yaoming.jpg", load(yaoming_jpg))], current_consent(), True
    )


def test_every_stranger_in_the_group_photos_is_unknown(
    service: IdentityService,
    admin: Operator,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    t1_jpg: Path,
    gdp_jpg: Path,
) -> None:
    enroll_yao(service, admin, yaoming_jpg)
    for group in (t1_jpg, gdp_jpg):
        image = load(group)
        faces = [f for f in face_engine.detect(image) if f.short_side >= 24]
        assert len(faces) >= 3
        for face in faces:
            decision = service.identify(only_face(image, face, faces), group.name).match
            assert decision.matched is None
            assert decision.reason is MatchReason.BELOW_THRESHOLD


def test_the_enrolled_face_is_found_among_the_players(
    service: IdentityService, admin: Operator, yaoming_jpg: Path, photos: Path, db_engine: Engine
) -> None:
    enroll_yao(service, admin, yaoming_jpg)
    result = service.identify(load(photos / "yaoming_in_players.jpg"), "crop")
    assert result.match.matched is not None
    assert result.match.matched.display_name == "Yao Ming"
    with Session(db_engine) as session:
        event = session.scalars(select(schema.AccessEvent)).one()
        person = session.scalars(select(schema.Person)).one()
    assert event.outcome == "granted"
    assert event.kiosk_id == "test-kiosk"
    assert event.person_id == person.id
    # Recorded as what it is: an identification by kiosk-admin, not a door's decision,
    # so it does not count as the person being seen (their retention runs on).
    assert event.source == "cli"
    assert person.last_recognized_at is None


def test_a_higher_threshold_turns_the_match_into_unknown(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    admin: Operator,
    yaoming_jpg: Path,
    photos: Path,
) -> None:
    strict = IdentityService(
        face_engine,
        identity_store,
        MatchSettings(threshold=0.9),
        RecognitionThrottle(SecuritySettings()),
        "k",
    )
    enroll_yao(strict, admin, yaoming_jpg)
    decision = strict.identify(load(photos / "yaoming_in_players.jpg"), "crop").match
    assert decision.reason is MatchReason.BELOW_THRESHOLD


def test_one_face_cannot_be_enrolled_twice(
    service: IdentityService, admin: Operator, yaoming_jpg: Path, photos: Path
) -> None:
    enroll_yao(service, admin, yaoming_jpg)
    with pytest.raises(
        NotAllowed, match=r"mirror\.jpg: this photo's face is already enrolled as Yao Ming"
    ) as refused:
        service.enroll(
            admin,
            "Someone Else",
            None,
            [("mirror.jpg", load(photos / "yaoming_mirrored.jpg"))],
            current_consent(),
            True,
        )
    # Says what to check, and does not tell the operator to delete the person enrolled.
    assert "check that the photo shows the person you mean to enroll" in str(refused.value)
    assert "delete" not in str(refused.value)


def test_photos_of_two_people_are_refused_and_nothing_stored(
    service: IdentityService,
    admin: Operator,
    yaoming_jpg: Path,
    gdp_jpg: Path,
    face_engine: FaceEngine,
    db_engine: Engine,
) -> None:
    image = load(gdp_jpg)
    faces = face_engine.detect(image)
    frontal = max(faces, key=lambda f: f.score)
    other = only_face(image, frontal, faces)
    other = np.ascontiguousarray(np.kron(other, np.ones((2, 2, 1), np.uint8)))  # face over 80 px
    with pytest.raises(QualityRejected, match="does not look like the same person"):
        service.enroll(
            admin,
            "Mixed",
            None,
            [("a.jpg", load(yaoming_jpg)), ("b.jpg", other)],
            current_consent(),
            True,
        )
    with Session(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(schema.Person)) == 0


def test_consent_is_required_and_recorded(
    service: IdentityService, admin: Operator, yaoming_jpg: Path, identity_store: SqlIdentityStore
) -> None:
    with pytest.raises(NotAllowed, match="consent"):
        service.enroll(
            admin, "Yao Ming", None, [("y.jpg", load(yaoming_jpg))], current_consent(), False
        )
    enroll_yao(service, admin, yaoming_jpg)
    person = identity_store.people(None, 10, actor=admin)[0]
    consent = identity_store.person(person.id, actor=admin).consents[0]
    assert consent.version == current_consent().version
    assert consent.text_sha256 == current_consent().sha256
    assert consent.witnessed_by == "alice"


def test_unknown_user_and_wrong_password_look_the_same(
    operator_store: SqlOperatorStore, admin: Operator
) -> None:
    authenticator = Authenticator(operator_store, SecuritySettings(), "test-kiosk")
    assert authenticator.authenticate("ALICE", PASSWORD).username == "alice"
    messages = []
    for username, password in (("alice", "wrong password!!"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationFailed) as raised:
            authenticator.authenticate(username, password)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_recognition_pauses_after_repeated_denials_without_searching(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    admin: Operator,
    yaoming_jpg: Path,
    gdp_jpg: Path,
    settings: Settings,
    db_engine: Engine,
) -> None:
    throttled = IdentityService(
        face_engine, identity_store, settings.matching, RecognitionThrottle(settings.security), "k"
    )
    enroll_yao(throttled, admin, yaoming_jpg)
    stranger = load(gdp_jpg)
    for _ in range(settings.security.recognition_max_denied):
        assert throttled.identify(stranger, "gdp.jpg").match.matched is None
    with pytest.raises(RecognitionPaused, match="please wait"):
        throttled.identify(stranger, "gdp.jpg")
    with Session(db_engine) as session:
        recorded = session.scalar(select(func.count()).select_from(schema.AccessEvent))
    assert recorded == settings.security.recognition_max_denied  # the paused try ran no search
