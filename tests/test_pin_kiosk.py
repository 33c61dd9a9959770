"""The face-and-PIN door in the whole kiosk: real models, real embedded database, an
image-folder camera, the keypad pressed as a person presses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, text

from config.environment import Location
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.people.pins import PinKind, PinService
from core.records import AccessOutcome, Role
from core.rules.model import Door, DoorMode
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from kiosk.app import KioskWindow, stylesheet
from kiosk.kiosk_screen import GRANTED_TEXT, KioskScreen
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.pin_store import SqlPinStore
from storage.rules_store import SqlRulesStore
from tests.conftest import dispose_windows
from tests.operator_window import camera_folder

PIN = "2468"
DURESS = "1357"


@pytest.fixture
def pin_door(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    db_engine: Engine,
    settings: Settings,
    yaoming_jpg: Path,
) -> None:
    """Yao enrolled with a PIN and a duress PIN, at a door that asks for the PIN."""
    admin = operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)
    enrollment = EnrollmentService(face_engine, identity_store, settings.matching)
    image = read_image_file(yaoming_jpg, ImageLimits())
    person = enrollment.enroll(admin, "Yao Ming", None, [("y", image)], current_consent(), True)
    pins = PinService(SqlPinStore(db_engine), SecuritySettings())
    pins.set_pin(admin, person.person_id, PIN, PinKind.PIN)
    pins.set_pin(admin, person.person_id, DURESS, PinKind.DURESS)
    rules = SqlRulesStore(db_engine)
    rules.ensure_door(Door(settings.kiosk_id, "Front", "UTC"))
    rules.update_door(settings.kiosk_id, actor=admin, mode=DoorMode.FACE_AND_PIN)


@pytest.fixture
def run_kiosk(qtbot: QtBot, fresh_database: str, tmp_path: Path) -> Iterator[object]:
    windows: list[KioskWindow] = []

    def start(camera: Path) -> KioskScreen:
        window = KioskWindow(
            Settings(), Location(tmp_path / "data", fresh_database), str(camera), 10.0
        )
        window.setStyleSheet(stylesheet())
        qtbot.addWidget(window)
        window.resize(800, 480)
        window.show()
        windows.append(window)
        window.controller.start()
        return window.door

    yield start
    dispose_windows(windows)


@pytest.mark.usefixtures("pin_door")
def test_the_duress_pin_on_the_keypad_opens_like_the_pin_and_raises_the_alarm(
    qtbot: QtBot, run_kiosk, photos: Path, tmp_path: Path, db_engine: Engine
) -> None:
    crop = read_image_file(photos / "yaoming_in_players.jpg", ImageLimits())
    screen = run_kiosk(camera_folder(tmp_path / "yao", crop))
    qtbot.waitUntil(screen.pin_pad.isVisible, timeout=60_000)
    assert GRANTED_TEXT not in screen.banner.text()  # recognised is not yet granted
    for digit in DURESS:
        qtbot.mouseClick(screen.pin_pad.digit_buttons[int(digit)], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.pin_pad.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: GRANTED_TEXT in screen.banner.text(), timeout=30_000)
    assert screen.banner.text() == f"Yao Ming\n{GRANTED_TEXT}"
    with db_engine.connect() as connection:
        alarms = connection.execute(
            text("SELECT target, details FROM audit_events WHERE action = 'door.duress'")
        ).all()
        granted = connection.scalars(
            text("SELECT event_id FROM access_events WHERE outcome = :o"),
            {"o": AccessOutcome.GRANTED.value},
        ).all()
    ((kiosk, details),) = alarms
    assert kiosk == Settings().kiosk_id
    assert [str(event) for event in granted] == [details["access_event_id"]]
    assert DURESS not in str(details)
