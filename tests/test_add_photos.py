"""Adding photos to an enrolled person (issue 27, item 11), on the real models and
database: the quality gate, consent in force, the same person, nobody else's face,
the template limit, the audit event, and the store's check under the enrollment lock."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.enrollment.photo_addition import PhotoAddition
from core.errors import AlreadyEnrolled, ConsentMissing, InvalidValue, NotFound, QualityRejected
from core.faces import BGRImage
from core.log_records import LogFilter
from core.people.people import PeopleService
from core.records import MAX_TEMPLATES_PER_PERSON, NewTemplate, Operator, Role
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.person_enrollment import _ENROLLMENT_LOCK
from storage.person_photos import SqlPersonPhotos
from tests.cli_fixtures import as_json
from tests.conftest import good_stranger


def load(path: Path) -> BGRImage:
    return read_image_file(path, ImageLimits())


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def enrollment(
    face_engine: FaceEngine, identity_store: SqlIdentityStore, settings: Settings
) -> EnrollmentService:
    return EnrollmentService(face_engine, identity_store, settings.matching)


@pytest.fixture
def service(
    enrollment: EnrollmentService, db_engine: Engine, settings: Settings, face_engine: FaceEngine
) -> PhotoAddition:
    model = face_engine.template_model
    return PhotoAddition(enrollment, SqlPersonPhotos(db_engine), settings.matching, model)


def _enroll(
    enrollment: EnrollmentService, admin: Operator, name: str, *images: BGRImage
) -> uuid.UUID:
    labelled = [(f"{name}-{n}.jpg", image) for n, image in enumerate(images)]
    return enrollment.enroll(admin, name, None, labelled, current_consent(), True).person_id


def _templates(engine: Engine, person: uuid.UUID) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text("SELECT count(*) FROM face_templates WHERE person_id = :p"), {"p": person}
            )
        )


def test_photos_of_the_person_are_added_and_audited_with_counts_only(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
    db_engine: Engine,
    audit_log: SqlAuditLog,
) -> None:
    yao = _enroll(enrollment, admin, "Yao Ming", load(yaoming_jpg))
    total = service.add(admin, yao, [("mirrored.jpg", load(photos / "yaoming_mirrored.jpg"))])
    assert total == 2
    assert _templates(db_engine, yao) == 2
    only = LogFilter(action="person.photos_added")
    (event,) = audit_log.audit_events(100, only, actor=admin)
    assert (event.actor, event.target) == ("alice", str(yao))
    assert event.details == {
        "templates_added": 1,
        "templates": 2,
        "models": [face_engine.template_model],
    }


def test_a_poor_photo_or_another_persons_face_is_refused_and_nothing_stored(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
    t1_jpg: Path,
    db_engine: Engine,
    audit_log: SqlAuditLog,
) -> None:
    yao = _enroll(enrollment, admin, "Yao Ming", load(yaoming_jpg))
    with pytest.raises(QualityRejected, match=r"blurred\.jpg"):
        service.add(admin, yao, [("blurred.jpg", load(photos / "yaoming_blurred.jpg"))])
    stranger = good_stranger(face_engine, load(t1_jpg))
    with pytest.raises(QualityRejected, match=r"stranger\.jpg does not look like enrolled person"):
        service.add(admin, yao, [("stranger.jpg", stranger)])
    # A good photo with a bad one: all or nothing.
    with pytest.raises(QualityRejected):
        service.add(
            admin,
            yao,
            [("mirrored.jpg", load(photos / "yaoming_mirrored.jpg")), ("stranger.jpg", stranger)],
        )
    assert _templates(db_engine, yao) == 1
    refused = audit_log.audit_events(100, LogFilter(action="person.photos_refused"), actor=admin)
    assert [(e.target, e.details["images"]) for e in refused] == [(str(yao), n) for n in (2, 1, 1)]


def test_a_face_of_another_enrolled_person_is_refused(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
    db_engine: Engine,
) -> None:
    """Two people enrolled with one face (from before one face one identity, or a
    twin below the threshold then): photos of it may be added to neither."""
    yao = _enroll(enrollment, admin, "Yao Ming", load(yaoming_jpg))
    mirrored = load(photos / "yaoming_mirrored.jpg")
    twin = uuid.uuid4()
    template = face_engine.enrollment_sample(mirrored, "m").embedding
    with db_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO people (id, display_name) VALUES (:id, 'Twin')"), {"id": twin}
        )
        connection.execute(
            text(
                "INSERT INTO consent_records (person_id, version, text_sha256, witnessed_by) "
                "VALUES (:p, 'v1', repeat('0', 64), :w)"
            ),
            {"p": twin, "w": admin.id},
        )
        connection.execute(
            text(
                "INSERT INTO face_templates (person_id, embedding, model, quality) "
                "VALUES (:p, CAST(:e AS vector), :m, 0.9)"
            ),
            {"p": twin, "e": str(template.tolist()), "m": face_engine.template_model},
        )
    # Decided by the store, under the enrollment lock, in the transaction of the write.
    with pytest.raises(
        AlreadyEnrolled, match="photo 1 is the face of another enrolled person, Yao Ming"
    ) as refused:
        service.add(admin, twin, [("mirrored.jpg", mirrored)])
    assert refused.value.person_id == yao
    with pytest.raises(AlreadyEnrolled, match="another enrolled person, Yao Ming"):
        SqlPersonPhotos(db_engine).add_templates(
            twin,
            [NewTemplate(template, face_engine.template_model, 0.9)],
            actor=admin,
            duplicate_threshold=0.4,
        )
    assert _templates(db_engine, twin) == 1


def test_consent_withdrawn_deleted_or_full_is_refused(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    identity_store: SqlIdentityStore,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
) -> None:
    mirrored = [("mirrored.jpg", load(photos / "yaoming_mirrored.jpg"))]
    people = PeopleService(identity_store, SecuritySettings())
    yao = _enroll(enrollment, admin, "Yao Ming", *[load(yaoming_jpg)] * MAX_TEMPLATES_PER_PERSON)
    with pytest.raises(InvalidValue, match=f"has {MAX_TEMPLATES_PER_PERSON} template"):
        service.add(admin, yao, mirrored)

    people.withdraw_consent(admin, yao)
    with pytest.raises(ConsentMissing, match="withdrew consent"):
        service.add(admin, yao, mirrored)
    people.delete(admin, yao)
    with pytest.raises(NotFound):
        service.add(admin, yao, mirrored)
    with pytest.raises(NotFound):
        service.add(admin, uuid.uuid4(), mirrored)


def test_an_enroller_may_add_photos_and_an_auditor_may_not(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    operator_store: SqlOperatorStore,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
) -> None:
    from core.errors import NotAllowed

    yao = _enroll(enrollment, admin, "Yao Ming", load(yaoming_jpg))
    auditor = operator_store.add_operator("carol", "bcrypt-sha256$unused", Role.AUDITOR, admin)
    mirrored = [("mirrored.jpg", load(photos / "yaoming_mirrored.jpg"))]
    with pytest.raises(NotAllowed, match="may not enroll people"):
        service.add(auditor, yao, mirrored)


def test_the_stores_check_waits_for_the_enrollment_lock(
    service: PhotoAddition,
    enrollment: EnrollmentService,
    admin: Operator,
    face_engine: FaceEngine,
    yaoming_jpg: Path,
    photos: Path,
    db_engine: Engine,
) -> None:
    """While another enrollment holds the lock, the addition's check and write wait."""
    yao = _enroll(enrollment, admin, "Yao Ming", load(yaoming_jpg))
    mirrored = [("mirrored.jpg", load(photos / "yaoming_mirrored.jpg"))]
    done: list[object] = []
    with db_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ENROLLMENT_LOCK})
        worker = threading.Thread(target=lambda: done.append(service.add(admin, yao, mirrored)))
        worker.start()
        waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        with db_engine.connect() as watcher:
            for _ in range(600):  # up to 60 s for the worker to reach the lock
                if watcher.execute(waiting).scalar():
                    break
                watcher.rollback()
                threading.Event().wait(0.1)
            else:
                pytest.fail("the addition never waited for the enrollment lock")
        assert done == []
        assert _templates(db_engine, yao) == 1
        holder.rollback()  # lets the lock go
    worker.join(timeout=60)
    assert len(done) == 1
    assert _templates(db_engine, yao) == 2


def test_kiosk_admin_add_photos_by_the_start_of_an_id(
    admin_cli, yaoming_jpg: Path, photos: Path
) -> None:
    enrolled = as_json(
        admin_cli(
            "enroll",
            "--name",
            "Yao Ming",
            "--image",
            yaoming_jpg,
            "--consent",
            "--operator",
            "alice",
            "--json",
        )
    )
    person = enrolled["person_id"]
    added = admin_cli(
        "add-photos", person[:8], "--image", photos / "yaoming_mirrored.jpg", "--operator", "alice"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added 1 photo(s) to {person}: 2 template(s) now"
    again = as_json(
        admin_cli(
            "people",
            "add-photos",
            person,
            "--image",
            photos / "yaoming_mirrored.jpg",
            "--operator",
            "alice",
            "--json",
        )
    )
    assert again["templates"] == 3
    withdrawn = admin_cli("withdraw-consent", person, "--operator", "alice")
    assert withdrawn.returncode == 0, withdrawn.stderr
    refused = admin_cli(
        "add-photos", person, "--image", photos / "yaoming_mirrored.jpg", "--operator", "alice"
    )
    assert refused.returncode == 4
    assert "withdrew consent" in refused.stderr
    audit = as_json(
        admin_cli("audit", "--action", "person.photos_added", "--operator", "alice", "--json")
    )
    assert [e["details"]["templates_added"] for e in audit["events"]] == [1, 1]
