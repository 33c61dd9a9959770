"""The store step of a bulk import on the real database, with synthetic faces: the face
step is a stand-in (bulk_import.FacesOf) and the models never load.

Rows are decided in file order whatever order their faces arrive in; two imports of
one file at the same moment enroll each person once; a dry run finds the file's
own duplicate faces and stores nothing; a badge on two rows refuses both; 200 people
go in with their groups and consent, and a second run adds nobody."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.enrollment.bulk_import import CheckedRow, FacesOf, PeopleImport, RowFaces
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService, LabelledSample
from core.enrollment.import_rows import RowOutcome, RowResult
from core.enrollment.people_file import COLUMNS, RawRow
from core.enrollment.photo_folder import PhotoFolder
from core.faces import BGRImage, DetectedFace, Embedding
from core.match_settings import MatchSettings
from core.records import Operator, Role
from core.rules.model import AccessGroup
from core.settings import QualitySettings
from core.vision.engine import FaceDetector, FaceEngine, FaceSample
from core.vision.quality import FaceMeasurements
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore

pytestmark = pytest.mark.slow  # many database round trips
DIMENSION = 512


class NoModel:
    """Detector and embedder of an engine that never sees an image here."""

    dimension = DIMENSION

    def detect(self, image: BGRImage) -> list[DetectedFace]:
        raise AssertionError("the face step is a stand-in; no image is detected")

    def with_input_size(self, size: int) -> FaceDetector:
        return self

    def embed(self, aligned: BGRImage) -> Embedding:
        raise AssertionError("the face step is a stand-in; no face is embedded")


def face(vector: np.ndarray, label: str) -> LabelledSample:
    detected = DetectedFace((0.0, 0.0, 120.0, 120.0), np.zeros((5, 2), np.float32), 0.9)
    measured = FaceMeasurements(
        face_px=120.0,
        score=0.9,
        sharpness=100.0,
        yaw=0.0,
        roll_degrees=0.0,
        pitch=0.5,
        brightness=120.0,
        dark_fraction=0.0,
        bright_fraction=0.0,
        outside_share=0.0,
    )
    return label, FaceSample(detected, vector.astype(np.float32), measured)


def people(count: int, seed: int = 3) -> list[np.ndarray]:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION))
    return list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def faces_by_photo(vectors: dict[str, np.ndarray]) -> FacesOf:
    """Each photo name's face; a second photo of one person is a near copy."""

    def faces_of(row: CheckedRow) -> RowFaces:
        return RowFaces(tuple(face(vectors[name], name) for name, _ in row.photos))

    return faces_of


def raw(row: int, name: str, badge: str, photos: str, **more: str) -> RawRow:
    cells = dict.fromkeys(COLUMNS, "")
    cells.update(
        name=name, badge=badge, photos=photos, consent_reference=f"HR-{row}", consent_version="v1"
    )
    cells.update(more)
    return RawRow(row, cells)


@pytest.fixture
def site(db_engine: Engine, tmp_path: Path) -> tuple[EnrollmentService, SqlIdentityStore, Operator]:
    store = SqlIdentityStore(db_engine)
    admin = SqlOperatorStore(db_engine).add_first_operator("alice", "unused-hash", Role.ADMIN)
    engine = FaceEngine(NoModel(), NoModel(), QualitySettings(), "synthetic", 10_000_000)
    return EnrollmentService(engine, store, MatchSettings()), store, admin


def importer(
    site: tuple[EnrollmentService, SqlIdentityStore, Operator],
    tmp_path: Path,
    faces_of: FacesOf,
    *,
    dry_run: bool = False,
    workers: int = 2,
) -> PeopleImport:
    service, store, admin = site
    (tmp_path / "photos").mkdir(exist_ok=True)
    return PeopleImport(
        service,
        store,
        admin,
        PhotoFolder(tmp_path / "photos"),
        faces_of,
        workers=workers,
        rows_ahead=2,
        dry_run=dry_run,
    )


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("people", "face_templates", "consent_records", "audit_events")
        }


def test_rows_are_decided_in_file_order_whatever_order_their_faces_arrive(
    site, tmp_path: Path, db_engine: Engine
) -> None:
    vectors = dict(zip(("a.jpg", "b.jpg", "c.jpg"), people(3), strict=True))
    later_row_done = threading.Event()
    plain = faces_by_photo(vectors)

    def faces_of(row: CheckedRow) -> RowFaces:
        if row.row == 2:  # the first row's faces come last
            assert later_row_done.wait(30), "the second row's face step never ran"
        found = plain(row)
        if row.row == 3:
            later_row_done.set()
        return found

    seen: list[int] = []
    rows = [
        raw(2, "Ann", "B-1", "a.jpg"),
        raw(3, "Bo", "B-2", "b.jpg"),
        raw(4, "Cy", "B-3", "c.jpg"),
    ]
    results = importer(site, tmp_path, faces_of).run(rows, lambda r: seen.append(r.row))
    assert seen == [2, 3, 4]
    assert [r.outcome for r in results] == [RowOutcome.ENROLLED] * 3
    assert counts(db_engine)["people"] == 3


def test_two_imports_of_one_file_at_once_enroll_each_person_once(
    site, tmp_path: Path, db_engine: Engine
) -> None:
    size = 12
    vectors = {f"p{i}.jpg": v for i, v in enumerate(people(size))}
    rows = [raw(i + 2, f"Person {i}", f"B-{i}", f"p{i}.jpg") for i in range(size)]
    found: list[list[RowResult]] = []
    failures: list[BaseException] = []

    def one_import() -> None:
        try:
            found.append(importer(site, tmp_path, faces_by_photo(vectors)).run(rows))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    threads = [threading.Thread(target=one_import) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert len(found) == 2
    for results in found:
        assert all(r.went_in for r in results), [r.reason for r in results if not r.went_in]
    enrolled = [r.row for results in found for r in results if r.outcome is RowOutcome.ENROLLED]
    assert sorted(enrolled) == [row.row for row in rows]  # each row once, by one import
    with db_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM people")) == size
        assert connection.scalar(text("SELECT count(DISTINCT external_ref) FROM people")) == size


def test_a_dry_run_finds_the_files_own_duplicate_faces_and_stores_nothing(
    site, tmp_path: Path, db_engine: Engine
) -> None:
    ann, bo = people(2)
    twin = ann + 0.05 * people(1, seed=9)[0]
    vectors = {"ann.jpg": ann, "twin.jpg": twin / np.linalg.norm(twin), "bo.jpg": bo}
    rows = [
        raw(2, "Ann", "B-1", "ann.jpg"),
        raw(3, "Ann's twin", "B-2", "twin.jpg"),
        raw(4, "Bo", "B-3", "bo.jpg", groups="Nowhere"),
        raw(5, "No consent", "B-4", "bo.jpg", consent_reference=" "),
    ]
    before = counts(db_engine)
    results = importer(site, tmp_path, faces_by_photo(vectors), dry_run=True).run(rows)
    assert [r.outcome for r in results] == [
        RowOutcome.WOULD_ENROLL,
        RowOutcome.REFUSED,
        RowOutcome.REFUSED,
        RowOutcome.REFUSED,
    ]
    assert "twin.jpg shows the same face as row 2 of this file" in results[1].reason
    assert results[1].code == "duplicate_face_in_file"
    assert "Nowhere" in results[2].reason  # the store's own check, rolled back
    assert results[3].code == "no_consent"
    assert counts(db_engine) == before  # no person, template, consent or audit event

    stored = importer(site, tmp_path, faces_by_photo(vectors)).run(rows)
    assert [r.outcome for r in stored][:2] == [RowOutcome.ENROLLED, RowOutcome.REFUSED]
    # The run refuses the twin as the dry run did, with the same reason and code.
    assert (stored[1].code, stored[1].reason) == (results[1].code, results[1].reason)
    after = counts(db_engine)
    assert after["people"] == before["people"] + 1
    # Each refusal audited as a single enrollment's would be, the unknown group's too.
    assert after["audit_events"] == before["audit_events"] + 1 + 3


def test_a_badge_whose_person_has_another_face_is_refused(
    site, tmp_path: Path, db_engine: Engine
) -> None:
    service, _, admin = site
    ann, stranger = people(2)
    service.enroll_faces(
        admin,
        service.details("Ann", "B-1", current_consent(), True),
        [face(ann, "ann.jpg")],
    )
    vectors = {"ann.jpg": ann, "stranger.jpg": stranger}
    results = importer(site, tmp_path, faces_by_photo(vectors)).run(
        [raw(2, "Ann", "B-1", "ann.jpg"), raw(3, "Not Ann", "B-1 ", "stranger.jpg")]
    )
    # Row 2 is the badge's enrolled person, matched as ever; row 3 repeats the badge.
    assert results[0].outcome is RowOutcome.ALREADY_ENROLLED
    assert (results[1].outcome, results[1].code) == (
        RowOutcome.REFUSED,
        "duplicate_badge_in_file",
    )
    assert "badge B-1 is on rows 2, 3 of this file" in results[1].reason
    again = importer(site, tmp_path, faces_by_photo(vectors)).run(
        [raw(2, "Not Ann", "B-1", "stranger.jpg")]
    )
    assert again[0].outcome is RowOutcome.REFUSED
    assert "badge B-1 belongs to enrolled person Ann" in again[0].reason
    assert "whose face does not match these photos" in again[0].reason
    assert counts(db_engine)["people"] == 1


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry run"])
def test_a_badge_on_two_rows_of_a_file_refuses_both(
    site, tmp_path: Path, db_engine: Engine, dry_run: bool
) -> None:
    ann, bo, cy = people(3)
    vectors = {"ann.jpg": ann, "bo.jpg": bo, "cy.jpg": cy}
    rows = [
        raw(2, "Ann", "B-1", "ann.jpg"),
        raw(3, "Cy", "B-3", "cy.jpg"),
        raw(4, "Bo", " B-1", "bo.jpg"),
    ]
    before = counts(db_engine)
    results = importer(site, tmp_path, faces_by_photo(vectors), dry_run=dry_run).run(rows)
    assert [(r.row, r.outcome, r.code) for r in results] == [
        (2, RowOutcome.REFUSED, "duplicate_badge_in_file"),
        (3, RowOutcome.WOULD_ENROLL if dry_run else RowOutcome.ENROLLED, ""),
        (4, RowOutcome.REFUSED, "duplicate_badge_in_file"),
    ]
    assert all("badge B-1 is on rows 2, 4 of this file" in results[i].reason for i in (0, 2))
    after = counts(db_engine)
    assert after["people"] == before["people"] + (0 if dry_run else 1)
    if not dry_run:
        with db_engine.connect() as connection:
            audited = connection.execute(
                text(
                    "SELECT details->>'reason' FROM audit_events "
                    "WHERE action = 'person.enroll_refused'"
                )
            ).scalars()
            assert list(audited) == ["duplicate_badge_in_file"] * 2


def test_an_unexpected_failure_of_one_rows_photos_refuses_that_row_only(
    site, tmp_path: Path
) -> None:
    vectors = dict(zip(("a.jpg", "b.jpg"), people(2), strict=True))
    plain = faces_by_photo(vectors)

    def faces_of(row: CheckedRow) -> RowFaces:
        if row.row == 2:
            raise MemoryError("decoder out of memory")
        return plain(row)

    results = importer(site, tmp_path, faces_of).run(
        [raw(2, "Ann", "B-1", "a.jpg"), raw(3, "Bo", "B-2", "b.jpg")]
    )
    assert results[0].outcome is RowOutcome.REFUSED
    assert "MemoryError: decoder out of memory" in results[0].reason
    assert results[1].outcome is RowOutcome.ENROLLED


def test_two_hundred_people_go_in_with_groups_and_consent_and_a_second_run_adds_nobody(
    site, tmp_path: Path, db_engine: Engine
) -> None:
    # Issue 28's acceptance import of 200 people, through kiosk-admin import's own
    # PeopleImport minus the models: the package photos hold too few distinct faces.
    _, _, admin = site
    rules = SqlRulesStore(db_engine)
    current = rules.rule_set(actor=admin)
    lab = AccessGroup("Lab", "always", all_doors=True)
    rules.apply_rule_set(
        replace(current, groups=(*current.groups, lab)), actor=admin, dry_run=False
    )
    size = 200
    vectors = {f"p{i}.jpg": v for i, v in enumerate(people(size, seed=28))}
    rows = [raw(i + 2, f"Person {i}", f"E-{i:04d}", f"p{i}.jpg", groups="Lab") for i in range(size)]
    before = counts(db_engine)
    results = importer(site, tmp_path, faces_by_photo(vectors)).run(rows)
    assert [r.outcome for r in results] == [RowOutcome.ENROLLED] * size
    with db_engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT p.external_ref, c.form_reference, g.name FROM people p "
                "JOIN consent_records c ON c.person_id = p.id "
                "JOIN group_members m ON m.person_id = p.id "
                "JOIN access_groups g ON g.id = m.group_id"
            )
        ).all()
    assert sorted(tuple(row) for row in stored) == sorted(
        (f"E-{i:04d}", f"HR-{i + 2}", "Lab") for i in range(size)
    )
    after = counts(db_engine)
    assert after["face_templates"] == before["face_templates"] + size

    again = importer(site, tmp_path, faces_by_photo(vectors)).run(rows)
    assert [r.outcome for r in again] == [RowOutcome.ALREADY_ENROLLED] * size
    assert [r.person_id for r in again] == [r.person_id for r in results]
    unchanged = counts(db_engine)
    assert {k: unchanged[k] for k in ("people", "face_templates", "consent_records")} == {
        k: after[k] for k in ("people", "face_templates", "consent_records")
    }
