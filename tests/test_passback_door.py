"""Anti-passback through the real door: real frames, models and database, three kiosks
of one area (two entries, one exit), each built as the kiosk builds its door."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.access.door import DoorRecognizer
from core.access.door_access import DoorAccess
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import AccessDecision, AccessOutcome, Operator, Refusal, Role
from core.rules.model import AntiPassbackArea, Door
from core.rules.public_holidays import PublicHolidays
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.area_presence import SqlAreaPresence
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore

BERLIN = ZoneInfo("Europe/Berlin")
# A Monday morning at the doors, whatever the test machine's clock says.
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).astimezone(UTC)
LAB = AntiPassbackArea("lab", frozenset({"lab-in-1", "lab-in-2"}), frozenset({"lab-out"}))


def load(path: Path) -> np.ndarray:
    return read_image_file(path, ImageLimits())


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    """The same scene a few pixels to the side: a person standing not quite still."""
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1])


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def doors(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    admin: Operator,
    yaoming_jpg: Path,
    db_engine: Engine,
) -> dict[str, DoorRecognizer]:
    """Yao Ming enrolled (in the default group: every door, at all times), and a door
    for each kiosk of the lab."""
    enrollment = EnrollmentService(face_engine, identity_store, settings.matching)
    enrollment.enroll(admin, "Yao Ming", None, [("y", load(yaoming_jpg))], current_consent(), True)
    rules = SqlRulesStore(db_engine)
    for kiosk_id in sorted(LAB.entry | LAB.exit):
        rules.ensure_door(Door(kiosk_id, kiosk_id, "Europe/Berlin"))
    current = rules.rule_set(actor=admin)
    rules.apply_rule_set(replace(current, areas=(LAB,)), actor=admin, dry_run=False)
    presence = SqlAreaPresence(db_engine)
    built = {}
    for kiosk_id in sorted(LAB.entry | LAB.exit):
        door_settings = settings.model_copy(
            update={"kiosk_id": kiosk_id, "security": SecuritySettings(recognition_max_denied=1000)}
        )
        access = DoorAccess(
            kiosk_id=kiosk_id,
            rules=rules,
            holidays=PublicHolidays(),
            presence=presence,
            now=lambda: NOW,
        )
        built[kiosk_id] = build_door(
            engine=face_engine, store=identity_store, settings=door_settings, access=access
        )
    return built


def walk_up(door: DoorRecognizer, scene: np.ndarray) -> AccessDecision:
    """A person in front of ``door`` until it decides."""
    door.forget()
    for dx in (0, 2, 4, 6):
        decision = door.process(shifted(scene, dx)).decision
        if decision is not None:
            return decision
    raise AssertionError("the door decided nothing")


def test_a_second_entry_without_an_exit_is_refused_at_the_other_entry_door(
    doors: dict[str, DoorRecognizer], photos: Path, db_engine: Engine
) -> None:
    scene = load(photos / "yaoming_in_players.jpg")
    first = walk_up(doors["lab-in-1"], scene)
    assert first.granted
    second = walk_up(doors["lab-in-2"], scene)
    assert second.outcome is AccessOutcome.REFUSED
    assert second.refusal is Refusal.ANTI_PASSBACK
    assert second.person_id == first.person_id
    assert second.display_name is None
    assert second.reason == "entry already recorded: please use the exit first"
    assert walk_up(doors["lab-out"], scene).granted
    assert walk_up(doors["lab-in-2"], scene).granted

    with Session(db_engine) as session:
        stored = session.execute(
            select(
                schema.AccessEvent.kiosk_id, schema.AccessEvent.outcome, schema.AccessEvent.refusal
            ).order_by(schema.AccessEvent.id)
        ).all()
    assert [tuple(row) for row in stored] == [
        ("lab-in-1", "granted", None),
        ("lab-in-2", "refused", "anti_passback"),
        ("lab-out", "granted", None),
        ("lab-in-2", "granted", None),
    ]
