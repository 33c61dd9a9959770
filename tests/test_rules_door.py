"""The access rules at the real door: real frames, models and database, a fake wall clock."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.access.door_access import DoorAccess
from core.access.door_builder import build_door
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import AccessDecision, AccessOutcome, Operator, Refusal, Role
from core.rules.model import ALWAYS, AccessGroup, Door, Schedule, TimeRange, Validity, Weekday
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage import schema
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Schedule("office", {d: (TimeRange.parse("08:00-18:00"),) for d in list(Weekday)[:5]})


class WallClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)

    def __call__(self) -> datetime:
        return self.now


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1])


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def rules(db_engine: Engine, admin: Operator) -> SqlRulesStore:
    store = SqlRulesStore(db_engine)
    store.ensure_door(Door("front", "Front door", "Europe/Berlin"))
    store.apply_rule_set(
        RuleSet(
            doors=(Door("front", "Front door", "Europe/Berlin"),),
            schedules=(ALWAYS, OFFICE),
            groups=(
                AccessGroup("visitors", "always", all_doors=True),
                AccessGroup("staff", "office", frozenset({"front"}), default=True),
            ),
        ),
        actor=admin,
        dry_run=False,
    )
    return store


class Front:
    """The real door "front": its recognizer, its lockdown switch and its wall clock."""

    def __init__(
        self,
        engine: FaceEngine,
        identity: SqlIdentityStore,
        rules: SqlRulesStore,
        settings: Settings,
    ) -> None:
        self.clock = WallClock()
        self.locked_down = False
        self._engine = engine
        self._identity = identity
        self._rules = rules
        self._settings = settings.model_copy(
            update={"kiosk_id": "front", "security": SecuritySettings(recognition_max_denied=1000)}
        )

    def decide(self, image: np.ndarray) -> AccessDecision:
        """A person walks up: a fresh recognizer, three agreeing frames, one decision."""
        access = DoorAccess(
            kiosk_id="front",
            rules=self._rules,
            holidays=PublicHolidays(),
            locked_down=lambda: self.locked_down,
            now=self.clock,
        )
        door = build_door(
            engine=self._engine, store=self._identity, settings=self._settings, access=access
        )
        decided = [door.process(shifted(image, dx)).decision for dx in (0, 2, 4)]
        assert decided[:2] == [None, None]
        assert decided[2] is not None
        return decided[2]


@pytest.fixture
def front(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    settings: Settings,
) -> Front:
    return Front(face_engine, identity_store, rules, settings)


def enroll(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    admin: Operator,
    photo: Path,
    groups: list[str] | None = None,
    validity: Validity | None = None,
) -> None:
    service = EnrollmentService(face_engine, identity_store, settings.matching)
    image = read_image_file(photo, ImageLimits())
    consent = current_consent()
    service.enroll(
        admin, "Yao Ming", None, [("y", image)], consent, True, groups=groups, validity=validity
    )


def stored(engine: Engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(schema.AccessEvent.outcome, schema.AccessEvent.refusal).order_by(
                schema.AccessEvent.id
            )
        )
        return [(outcome, refusal) for outcome, refusal in rows]


def test_staff_pass_in_office_hours_and_not_at_night_or_in_lockdown(
    front: Front,
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    admin: Operator,
    yaoming_jpg: Path,
    photos: Path,
    db_engine: Engine,
) -> None:
    enroll(face_engine, identity_store, settings, admin, yaoming_jpg)  # the default group
    crop = read_image_file(photos / "yaoming_in_players.jpg", ImageLimits())
    morning = front.decide(crop)
    assert morning.granted
    front.clock.now = datetime(2026, 12, 1, 22, 0, tzinfo=BERLIN)
    night = front.decide(crop)
    assert night.outcome is AccessOutcome.REFUSED
    assert night.refusal is Refusal.OUTSIDE_SCHEDULE
    assert night.reason == "not allowed at this time"
    assert night.display_name is None
    front.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=BERLIN)
    front.locked_down = True
    locked = front.decide(crop)
    assert locked.refusal is Refusal.LOCKDOWN
    assert stored(db_engine) == [
        ("granted", None),
        ("refused", "outside_schedule"),
        ("refused", "lockdown"),
    ]


def test_a_visitor_is_refused_the_day_after_their_end_date(
    front: Front,
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    settings: Settings,
    admin: Operator,
    yaoming_jpg: Path,
    photos: Path,
) -> None:
    enroll(
        face_engine,
        identity_store,
        settings,
        admin,
        yaoming_jpg,
        groups=["visitors"],
        validity=Validity(None, date(2026, 12, 1)),
    )
    crop = read_image_file(photos / "yaoming_in_players.jpg", ImageLimits())
    front.clock.now = datetime(2026, 12, 1, 23, 59, tzinfo=BERLIN)
    assert front.decide(crop).granted
    front.clock.now = datetime(2026, 12, 2, 0, 0, tzinfo=BERLIN)
    expired = front.decide(crop)
    assert expired.refusal is Refusal.EXPIRED
    assert expired.reason == "access has ended: please see reception"
