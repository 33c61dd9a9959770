"""No access or audit event is lost while the database is down: spooled, then sent once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from core.access.door import DoorRecognizer
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.log_records import KioskAuditEvent
from core.records import AccessDecision, AccessOutcome, ConsentGrant, Enrollment, NewTemplate, Role
from core.settings import DoorSettings, ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.database import connect, ensure_database
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.event_log import OFFLINE_ACTION, ONLINE_ACTION, ResilientEventLog
from storage.identity_store import SqlIdentityStore
from storage.migrate import upgrade
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool, encode


def decision(
    kiosk_id: str,
    outcome: AccessOutcome,
    person_id: uuid.UUID | None,
    similarity: float | None,
    latency_ms: float,
) -> AccessDecision:
    return AccessDecision(
        kiosk_id=kiosk_id,
        outcome=outcome,
        person_id=person_id,
        similarity=similarity,
        latency_ms=latency_ms,
    )


def load(path: Path) -> np.ndarray:
    return read_image_file(path, ImageLimits())


def stored_access_events(engine: Engine) -> list[schema.AccessEvent]:
    with Session(engine) as session:
        query = select(schema.AccessEvent).order_by(schema.AccessEvent.occurred_at)
        return list(session.scalars(query))


def audit_actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        query = select(schema.AuditEvent.action).order_by(schema.AuditEvent.id)
        return list(session.scalars(query))


# The spool file on its own: tests/test_spool.py.


# ---- the real door, models and an embedded server that stops --------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A server of this test's own, which it may stop and start."""
    server = EmbeddedServer(tmp_path / "postgres")
    server.start()
    yield server
    server.close()


@pytest.fixture
def own_engine(own_server: EmbeddedServer) -> Iterator[Engine]:
    ensure_database(own_server.admin_url(), DATABASE_NAME)
    engine = connect(own_server.admin_url().replace("/postgres?", f"/{DATABASE_NAME}?"))
    upgrade(engine)
    yield engine
    engine.dispose()


def visit(door: DoorRecognizer, face: np.ndarray, empty: np.ndarray) -> list[uuid.UUID]:
    """One person steps up, is decided, and walks away; the event ids decided."""
    decided = []
    for dx in (0, 2, 4, 6):
        shifted = cv2.warpAffine(face, np.float32([[1, 0, dx], [0, 1, 0]]), face.shape[1::-1])
        outcome = door.process(shifted)
        if outcome.decision is not None:
            decided.append(outcome.decision)
    for _ in range(8):  # long enough for the track to end
        door.process(empty)
    assert len(decided) == 1, "each visit is decided exactly once"
    return [decided[0].event_id]


@pytest.mark.slow
def test_stopping_the_database_mid_run_loses_no_access_event(
    own_server: EmbeddedServer,
    own_engine: Engine,
    face_engine: FaceEngine,
    settings: Settings,
    photos: Path,
    yaoming_jpg: Path,
    tmp_path: Path,
) -> None:
    admin = SqlOperatorStore(own_engine).add_first_operator("alice", "bcrypt$unused", Role.ADMIN)
    store = SqlIdentityStore(own_engine)
    events = ResilientEventLog(own_engine, EventSpool(tmp_path / "spool.jsonl"), "door-1")
    enrollment = EnrollmentService(face_engine, store, settings.matching)
    enrollment.enroll(admin, "Yao Ming", None, [("y", load(yaoming_jpg))], current_consent(), True)
    door_settings = settings.model_copy(
        update={
            "kiosk_id": "door-1",
            "door": DoorSettings(offline_retry_s=0.001),
            "security": SecuritySettings(recognition_max_denied=1000),
        }
    )
    door = build_door(engine=face_engine, store=store, settings=door_settings, events=events)
    face = load(photos / "yaoming_in_players.jpg")
    empty = np.full_like(face, 90)

    decided = []
    for _ in range(3):
        decided += visit(door, face, empty)
    own_server.close()  # the database goes away in the middle of the run
    offline_outcomes = []
    for _ in range(4):
        ids = visit(door, face, empty)
        decided += ids
        offline_outcomes.append(ids)
    assert events.pending >= 5  # the four denials and the note that the kiosk went offline
    assert events.flush() == 0  # still down: nothing sent, nothing dropped
    own_server.start()
    waiting = events.pending
    assert events.flush() == waiting + 1  # what the flusher does; and the note that it is back
    assert events.pending == 0
    for _ in range(2):  # back: straight to the database again
        decided += visit(door, face, empty)
    assert events.pending == 0

    stored = stored_access_events(own_engine)
    assert [event.event_id for event in stored] == decided
    assert [event.outcome for event in stored] == ["granted"] * 3 + ["offline"] * 4 + [
        "granted"
    ] * 2
    assert all(event.kiosk_id == "door-1" for event in stored)
    actions = audit_actions(own_engine)
    assert actions[-2:] == [OFFLINE_ACTION, ONLINE_ACTION]


@pytest.mark.slow
def test_a_spool_line_the_database_refuses_never_stops_the_door(
    db_engine: Engine,
    face_engine: FaceEngine,
    settings: Settings,
    photos: Path,
    yaoming_jpg: Path,
    tmp_path: Path,
) -> None:
    """The attack: a line that parses but that the database refuses (a field longer
    than its column; a rule the kiosk does not know). The enrolled person is still let
    in, and the lines are set aside with the reason."""
    admin = SqlOperatorStore(db_engine).add_first_operator("alice", "bcrypt$unused", Role.ADMIN)
    store = SqlIdentityStore(db_engine)
    enrollment = EnrollmentService(face_engine, store, settings.matching)
    enrollment.enroll(admin, "Yao Ming", None, [("y", load(yaoming_jpg))], current_consent(), True)
    with db_engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE access_events ADD CONSTRAINT test_latency CHECK (latency_ms < 1e5)")
        )
    spool = EventSpool(tmp_path / "spool" / "events.jsonl")
    refused = decision("door-1", AccessOutcome.UNKNOWN, None, 0.1, 2e5)
    spool.append(refused)
    too_long = encode(decision("door-1", AccessOutcome.UNKNOWN, None, 0.1, 1.0))
    too_long["kiosk_id"] = "k" * 65
    with spool.path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(too_long) + "\n")
    events = ResilientEventLog(db_engine, spool, "door-1")
    door_settings = settings.model_copy(update={"kiosk_id": "door-1"})
    door = build_door(engine=face_engine, store=store, settings=door_settings, events=events)
    face = load(photos / "yaoming_in_players.jpg")
    empty = np.full_like(face, 90)

    decided = []
    for _ in range(2):  # the spool is not empty: these wait in it, behind the bad lines
        decided += visit(door, face, empty)
    events.flush()
    assert events.pending == 0
    assert events.set_aside == 2
    for _ in range(2):
        decided += visit(door, face, empty)
    spool.close()

    stored = stored_access_events(db_engine)
    assert [event.event_id for event in stored] == decided
    assert [event.outcome for event in stored] == ["granted"] * 4
    reasons = [json.loads(line)["reason"] for line in spool.rejected_path.open()]
    assert any("test_latency" in reason for reason in reasons)
    assert "kiosk_id has 65 characters; its column holds 64" in reasons


def test_the_first_search_after_the_database_restarted_finds_the_person(
    own_server: EmbeddedServer, own_engine: Engine
) -> None:
    """Search connections skip the liveness ping at checkout; the one the restart
    cut off fails once, and the search runs again on a new connection."""
    admin = SqlOperatorStore(own_engine).add_first_operator("alice", "bcrypt$unused", Role.ADMIN)
    store = SqlIdentityStore(own_engine)
    template = np.random.default_rng(3).standard_normal(512).astype(np.float32)
    template /= np.linalg.norm(template)
    model = "test-model@000000000000"
    person = store.enroll(
        Enrollment(
            "Test Person",
            None,
            ConsentGrant("v1", "ab" * 32, admin),
            (NewTemplate(template, model, 0.9),),
        )
    )
    assert store.nearest_people(template, model, 20, 50)[0].person_id == person
    own_server.close()
    own_server.start()
    assert store.nearest_people(template, model, 20, 50)[0].person_id == person


def test_an_event_sent_twice_is_stored_once(own_engine: Engine, tmp_path: Path) -> None:
    """The kiosk may stop after the database committed a batch and before the spool
    forgot it; sending that batch again adds nothing."""
    spool = EventSpool(tmp_path / "spool.jsonl")
    events = ResilientEventLog(own_engine, spool, "door-1")
    access = decision("door-1", AccessOutcome.UNKNOWN, None, 0.1, 30.0)
    note = KioskAuditEvent("door-1", OFFLINE_ACTION, {"reason": "test"})
    events.record_access(access)
    for event in (access, note, note, access):
        spool.append(event)
    assert events.flush() == 4
    assert [event.event_id for event in stored_access_events(own_engine)] == [access.event_id]
    assert audit_actions(own_engine).count(OFFLINE_ACTION) == 1


def test_a_spooled_grant_of_a_person_deleted_since_is_kept_without_them(
    own_engine: Engine, tmp_path: Path
) -> None:
    spool = EventSpool(tmp_path / "spool.jsonl")
    spool.append(decision("door-1", AccessOutcome.GRANTED, uuid.uuid4(), 0.7, 50.0))
    assert ResilientEventLog(own_engine, spool, "door-1").flush() == 1
    (stored,) = stored_access_events(own_engine)
    assert stored.outcome == "granted"
    assert stored.person_id is None
