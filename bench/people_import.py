"""kiosk-admin import's speed, in people per minute (issue 28: 1,000 people, 2 photos each).

Three measurements, all through core.enrollment.bulk_import's own PeopleImport:

- the write path: 1,000 people with 2 synthetic templates each (``uniform`` vectors,
  so no two people are near), the face step a stand-in: the database's share alone,
  every row's badge look-up, one-face-one-identity search and transaction (its people
  then removed: they are enrolled under a stand-in model the real ones cannot compare
  with, so the real models' enrollments would be refused as pending re-enrollment);
- the face step on the real models: the package faces (cut from players.jpg and
  t1.jpg, and yaoming.jpg) written as JPEG files, read, decoded, detected and embedded
  on the worker pool, at one worker with every core's threads and at one worker per
  core with one thread each;
- end to end: both together, the real models' templates swapped for synthetic ones
  after the face step, so that every row is a new person.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine

from bench import synthetic
from bench.database import remove_everyone
from bench.photos import package_photo
from core.enrollment.bulk_import import (
    CheckedRow,
    FacesOf,
    PeopleImport,
    RowFaces,
)
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.enrollment.import_faces import photo_faces, pool_size
from core.enrollment.import_rows import RowOutcome, summary
from core.enrollment.people_file import COLUMNS, RawRow
from core.enrollment.photo_folder import PhotoFolder
from core.faces import BGRImage, DetectedFace
from core.records import Operator, Role
from core.settings import ImageLimits, Settings
from core.vision.engine import FaceEngine, FaceSample
from core.vision.imagefile import read_image_file
from core.vision.quality import FaceMeasurements
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

PHOTOS_PER_PERSON = 2
# The similarity of a person's second synthetic photo to their first, as two photos
# of one face score with buffalo_sc (0.9 and more on the package photos).
SECOND_PHOTO_SIMILARITY = 0.9


@dataclass(frozen=True)
class ImportRate:
    stage: str
    people: int
    workers: int
    threads_per_worker: int
    seconds: float
    went_in: int
    """Rows enrolled (the write path, end to end) or through the face step."""
    per_minute: float

    @classmethod
    def timed(
        cls, stage: str, people: int, pool: tuple[int, int], began: float, went_in: int
    ) -> ImportRate:
        """``people`` done since ``began`` (time.perf_counter) by ``pool`` (workers, threads)."""
        seconds = time.perf_counter() - began
        return cls(stage, people, *pool, seconds, went_in, 60.0 * people / max(seconds, 1e-9))


@dataclass(frozen=True)
class ImportResult:
    cores: int
    package_faces: int
    rates: list[ImportRate]


def run(
    engine: Engine,
    scratch: Path,
    write_people: int,
    face_people: int,
    end_to_end_people: int,
    cores: int,
    progress: Callable[[str], None],
) -> ImportResult:
    """The three measurements on the database behind ``engine`` (a fresh one)."""
    store = SqlIdentityStore(engine)
    admin = SqlOperatorStore(engine).add_first_operator("bench", "bench-unused", Role.ADMIN)
    settings = Settings()
    folder = scratch / "import-photos"
    folder.mkdir(parents=True, exist_ok=True)
    progress(f"import: write path, {write_people:,} people with synthetic faces")
    rates = [_write_path(store, admin, settings, folder, write_people, cores)]
    # The write path's people are enrolled under the stand-in model only, which the real
    # models cannot compare a new face with: enrolling on them would be refused
    # (ReenrollmentPending) until those people are gone.
    remove_everyone(engine)
    # Two engines for three runs: loading one takes seconds of a quick run's minute.
    engines = {threads: _engine(settings, threads) for threads in sorted({1, cores})}
    faces = _package_faces(folder, engines[cores])
    for workers in sorted({1, cores}):
        chosen, threads = pool_size(workers, cores)
        progress(f"import: face step on the models, {chosen} worker(s) x {threads} thread(s)")
        service = EnrollmentService(engines[threads], store, settings.matching)
        rates.append(
            _face_step(service, folder, faces, face_people, chosen, threads, settings.images)
        )
    chosen, threads = pool_size(0, cores)
    progress(f"import: end to end, {end_to_end_people:,} people")
    service = EnrollmentService(engines[threads], store, settings.matching)
    real = photo_faces(service, settings.images)
    vectors = _people_vectors(end_to_end_people, seed=23)
    rows = _rows(end_to_end_people, lambda i: faces[i % len(faces)], first_badge=write_people)
    began = time.perf_counter()
    done = _importer(service, store, admin, folder, _swapped(real, vectors), chosen).run(rows)
    enrolled = summary(done)[RowOutcome.ENROLLED.value]
    rates.append(
        ImportRate.timed("end to end", end_to_end_people, (chosen, threads), began, enrolled)
    )
    return ImportResult(cores, len(faces), rates)


def _write_path(
    store: SqlIdentityStore,
    admin: Operator,
    settings: Settings,
    folder: Path,
    people: int,
    cores: int,
) -> ImportRate:
    service = EnrollmentService(_no_models(settings), store, settings.matching)
    vectors = _people_vectors(people, seed=17)
    rows = _rows(people, lambda i: [f"p{i}_{k}.jpg" for k in range(PHOTOS_PER_PERSON)])
    workers, threads = pool_size(0, cores)
    began = time.perf_counter()
    done = _importer(service, store, admin, folder, _synthetic(vectors), workers).run(rows)
    enrolled = summary(done)[RowOutcome.ENROLLED.value]
    return ImportRate.timed(
        "write path (synthetic faces)", people, (workers, threads), began, enrolled
    )


def _face_step(
    service: EnrollmentService,
    folder: Path,
    faces: list[list[str]],
    people: int,
    workers: int,
    threads: int,
    limits: ImageLimits,
) -> ImportRate:
    photos = PhotoFolder(folder)
    faces_of = photo_faces(service, limits)
    details = service.details("bench", "B-0", current_consent(), True)
    checked = [
        CheckedRow(
            i,
            details,
            tuple((name, photos.path(name)) for name in faces[i % len(faces)]),
        )
        for i in range(people)
    ]
    faces_of(checked[0])  # warm up: the first call of each session allocates
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        found = list(pool.map(faces_of, checked))
    return ImportRate.timed(
        "face step (real models)", people, (workers, threads), began, len(found)
    )


def _importer(
    service: EnrollmentService,
    store: SqlIdentityStore,
    admin: Operator,
    folder: Path,
    faces_of: FacesOf,
    workers: int,
) -> PeopleImport:
    return PeopleImport(
        service,
        store,
        admin,
        PhotoFolder(folder),
        faces_of,
        workers=workers,
        rows_ahead=Settings().bulk_import.rows_ahead_per_worker,
        dry_run=False,
    )


def _rows(people: int, photos: Callable[[int], list[str]], first_badge: int = 0) -> list[RawRow]:
    """One row per person, with the photo names ``photos(i)`` of person ``i``."""
    rows = []
    for i in range(people):
        cells = dict.fromkeys(COLUMNS, "")
        cells.update(
            name=f"Person {first_badge + i}",
            badge=f"B-{first_badge + i:06d}",
            photos=";".join(photos(i)),
            consent_reference=f"HR-{first_badge + i}",
            consent_version=current_consent().version,
        )
        rows.append(RawRow(i + 2, cells))
    return rows


def _people_vectors(people: int, seed: int) -> np.ndarray:
    """(people, PHOTOS_PER_PERSON, 512): each person's photos, near copies of one face."""
    rng = np.random.default_rng(seed)
    first = synthetic.identities(rng, people, "uniform")
    noise = synthetic.identities(rng, people, "uniform")
    spread = np.sqrt(1 / SECOND_PHOTO_SIMILARITY**2 - 1)
    second = first + spread * noise
    second /= np.linalg.norm(second, axis=1, keepdims=True)
    return np.stack([first, second], axis=1).astype(np.float32)


def _sample(vector: np.ndarray) -> FaceSample:
    face = DetectedFace((0.0, 0.0, 160.0, 160.0), np.zeros((5, 2), np.float32), 0.9)
    measured = FaceMeasurements(
        face_px=160.0,
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
    return FaceSample(face, vector, measured)


def _synthetic(vectors: np.ndarray) -> FacesOf:
    def faces_of(row: CheckedRow) -> RowFaces:
        person = row.row - 2
        return RowFaces(
            tuple((name, _sample(vectors[person, k])) for k, (name, _) in enumerate(row.photos))
        )

    return faces_of


def _swapped(real: FacesOf, vectors: np.ndarray) -> FacesOf:
    """The real face step, its templates then replaced: every row a new person."""

    def faces_of(row: CheckedRow) -> RowFaces:
        person = row.row - 2
        return RowFaces(
            tuple(
                (label, replace(sample, embedding=vectors[person, k]))
                for k, (label, sample) in enumerate(real(row).samples)
            )
        )

    return faces_of


def _package_faces(folder: Path, engine: FaceEngine) -> list[list[str]]:
    """Each package face that passes the enrollment gate as two JPEG files in
    ``folder``, the second 85 % of the first's size: one person's two photos."""
    people = []
    for photo, scale in (("players.jpg", 3.0), ("t1.jpg", 2.0), ("yaoming.jpg", 1.0)):
        group = read_image_file(package_photo(photo), ImageLimits())
        for number, face in enumerate(engine.detect(group)):
            x1, y1, x2, y2 = (int(v) for v in face.box)
            pad = int(0.8 * (x2 - x1))
            crop = group[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
            first = _resized(crop, scale)
            second = _resized(first, 0.85)
            if engine.assess(first).issues or engine.assess(second).issues:
                continue
            names = [f"{Path(photo).stem}_{number:02d}{end}.jpg" for end in ("", "_b")]
            for name, image in zip(names, (first, second), strict=True):
                cv2.imwrite(str(folder / name), image)
            people.append(names)
    return people


def _resized(image: BGRImage, scale: float) -> BGRImage:
    resized = cv2.resize(image, None, fx=scale, fy=scale)
    return np.ascontiguousarray(resized, dtype=np.uint8)


def _engine(settings: Settings, threads: int) -> FaceEngine:
    from core.inference.insightface_backend import load_engine

    models = settings.models.model_copy(update={"intra_op_threads": threads})
    return load_engine(settings.model_copy(update={"models": models}))


def _no_models(settings: Settings) -> FaceEngine:
    """An engine whose models are never called: the write path's faces are made."""

    class NoModel:
        dimension = synthetic.EMBEDDING_DIMENSION
        input_size = 640

        def detect(self, image: object) -> list[DetectedFace]:
            raise AssertionError("the write path decodes no photo")

        def with_input_size(self, size: int) -> NoModel:
            return self

        def embed(self, aligned: object) -> np.ndarray:
            raise AssertionError("the write path embeds no face")

    return FaceEngine(
        NoModel(), NoModel(), settings.quality, "bench-synthetic", settings.images.max_pixels
    )
