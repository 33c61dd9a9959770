"""One face, one person: enrollments of the same face racing from threads and from
separate processes on the real embedded PostgreSQL store exactly one person."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.errors import NotAllowed, ReenrollmentPending
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.vision.engine import FaceEngine
from storage.database import connect
from storage.identity_store import ENROLLED_FACE, SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.vector_index import HnswParameters, Precision, create_hnsw_index

MODEL = "test-model@000000000000"
THRESHOLD = 0.4
RACERS = 6
BARRIER_TIMEOUT_S = 120


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def perturbed(template: np.ndarray, seed: int, scale: float = 0.02) -> np.ndarray:
    """The same face as captured again: a tiny change to every component."""
    noise = np.random.default_rng(seed).standard_normal(template.shape[0])
    return unit(template + scale * noise / np.sqrt(template.shape[0]))


def enrollment(
    witness: Operator, name: str, *templates: np.ndarray, threshold: float = THRESHOLD
) -> Enrollment:
    return Enrollment(
        name,
        None,
        ConsentGrant("v1", "ab" * 32, witness),
        tuple(NewTemplate(t, MODEL, 0.9) for t in templates),
        duplicate_threshold=threshold,
    )


def active_people(engine: Engine) -> list[uuid.UUID]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT id FROM people WHERE status = 'active'")))


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


def enroll_in_a_process(
    url: str,
    witness: Operator,
    template: np.ndarray,
    name: str,
    start: Any,
    outcomes: Any,
) -> None:
    """In a process of its own: its own engine and connections to the same database."""
    engine = connect(url)
    try:
        store = SqlIdentityStore(engine)
        with engine.connect() as connection:  # connected before the start
            connection.execute(text("SELECT 1"))
        start.wait(BARRIER_TIMEOUT_S)
        try:
            outcomes.put(f"enrolled {store.enroll(enrollment(witness, name, template))}")
        except NotAllowed as refused:
            outcomes.put(f"refused {refused}")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def yao_template(face_engine: FaceEngine, yaoming_jpg: Path) -> np.ndarray:
    image = cv2.imread(str(yaoming_jpg))
    assert image is not None
    return face_engine.enrollment_sample(image, "yaoming.jpg").embedding


@pytest.mark.slow
def test_one_face_enrolled_from_racing_processes_is_one_person(
    fresh_database: str, db_engine: Engine, admin: Operator, yao_template: np.ndarray
) -> None:
    context = multiprocessing.get_context("spawn")  # no inherited connections or threads
    start, results = context.Barrier(RACERS), context.Queue()
    racers = [
        context.Process(
            target=enroll_in_a_process,
            args=(fresh_database, admin, perturbed(yao_template, i), f"Yao {i}", start, results),
        )
        for i in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=300) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    (winner,) = active_people(db_engine)
    assert sorted(o.split()[0] for o in outcomes) == ["enrolled"] + ["refused"] * (RACERS - 1)
    for outcome in outcomes:
        if outcome.startswith("refused"):
            assert "already enrolled as Yao " in outcome
            assert str(winner) in outcome


def test_one_face_enrolled_from_racing_threads_is_one_person(
    identity_store: SqlIdentityStore, admin: Operator, db_engine: Engine
) -> None:
    face = unit(np.random.default_rng(7).standard_normal(512))
    racers = 12
    start = Barrier(racers)

    def enroll(i: int) -> uuid.UUID | None:
        start.wait(BARRIER_TIMEOUT_S)
        try:
            return identity_store.enroll(enrollment(admin, f"Twin {i}", perturbed(face, i)))
        except NotAllowed:
            return None

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(enroll, range(racers)))
    enrolled = [r for r in results if r is not None]
    assert len(enrolled) == 1
    assert active_people(db_engine) == enrolled


def test_the_threshold_comes_with_the_enrollment(
    identity_store: SqlIdentityStore, admin: Operator
) -> None:
    face = unit(np.random.default_rng(8).standard_normal(512))
    first = identity_store.enroll(enrollment(admin, "Ann", face))
    cousin = perturbed(face, 1, scale=1.0)
    similarity = float(np.dot(face, cousin))
    assert 0.3 < similarity < 0.99
    with pytest.raises(NotAllowed, match=f"Ann \\({first}, similarity {similarity:.2f}\\)"):
        identity_store.enroll(enrollment(admin, "Bea", cousin, threshold=similarity - 0.01))
    assert identity_store.enroll(enrollment(admin, "Bea", cousin, threshold=similarity + 0.01))


def test_only_active_people_and_the_same_model_count(
    identity_store: SqlIdentityStore, admin: Operator, db_engine: Engine
) -> None:
    face = unit(np.random.default_rng(9).standard_normal(512))
    gone = identity_store.enroll(enrollment(admin, "Ann", face))
    identity_store.delete_person(gone, admin)
    again = identity_store.enroll(enrollment(admin, "Ann again", perturbed(face, 1)))
    stranger = unit(np.random.default_rng(11).standard_normal(512))

    def in_other_model(*probes: NewTemplate) -> Enrollment:
        return Enrollment(
            "Someone in another model",
            None,
            ConsentGrant("v1", "ab" * 32, admin),
            (NewTemplate(perturbed(face, 2), "other-model@1", 0.9),),
            duplicate_threshold=THRESHOLD,
            probes=probes,
        )

    # Templates meet templates of their own model only: a new face is compared with
    # MODEL's people through its probe of MODEL (core.enrollment.model_change), and
    # refused without one (issue 27: the same face enrolled again under a new model).
    with pytest.raises(ReenrollmentPending, match=f"only with the model {MODEL}"):
        identity_store.enroll(in_other_model())
    with pytest.raises(NotAllowed, match="Ann again"):
        identity_store.enroll(in_other_model(NewTemplate(perturbed(face, 3), MODEL, 0.9)))
    elsewhere = identity_store.enroll(in_other_model(NewTemplate(stranger, MODEL, 0.9)))
    assert sorted(active_people(db_engine)) == sorted([again, elsewhere])


def test_the_duplicate_check_compares_every_template_not_through_the_index(
    identity_store: SqlIdentityStore, admin: Operator, db_engine: Engine
) -> None:
    rng = np.random.default_rng(10)
    for i in range(3):
        identity_store.enroll(enrollment(admin, f"P{i}", unit(rng.standard_normal(512))))
    with db_engine.begin() as connection:
        create_hnsw_index(connection, HnswParameters(Precision.SINGLE, m=16, ef_construction=64))
        connection.execute(text("ANALYZE face_templates"))
        connection.execute(text("SET LOCAL enable_seqscan = off"))  # tempt it to the index
        plan = "\n".join(
            connection.scalars(
                text(f"EXPLAIN {ENROLLED_FACE.text}"),
                {"query": unit(rng.standard_normal(512)), "model": MODEL, "threshold": 0.4},
            )
        )
    assert "face_templates" in plan
    assert "hnsw" not in plan
