"""The operator side of the kiosk window: real widgets, store, bcrypt and models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from config.environment import Location
from core.operators import Authenticator, OperatorService
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.settings import SecuritySettings, Settings
from kiosk.app import KioskWindow
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.conftest import dispose_windows

ADMIN_PASSWORD = "tall-ladder-orange-77"
PASSWORDS = {Role.ENROLLER: "quiet-river-stone-42", Role.AUDITOR: "brown-cedar-window-9"}
STARTUP_MS = 30_000


@pytest.fixture
def open_window(
    qtbot: QtBot, fresh_database: str, tmp_path: Path, photos: Path
) -> Iterator[object]:
    windows: list[KioskWindow] = []
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "frame.png").write_bytes((photos / "no_face.png").read_bytes())

    def open_(settings: Settings | None = None) -> KioskWindow:
        window = KioskWindow(
            settings or Settings(), Location(tmp_path / "data", fresh_database), str(camera), 5.0
        )
        qtbot.addWidget(window)
        window.resize(1024, 700)
        window.show()
        window.controller.start()
        windows.append(window)
        qtbot.waitUntil(lambda: window.controller.operator_mode is not None, timeout=STARTUP_MS)
        return window

    yield open_
    dispose_windows(windows)


@pytest.fixture
def staff(operator_store: SqlOperatorStore) -> dict[Role, Operator]:
    admin = Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "alice", ADMIN_PASSWORD
    )
    service = OperatorService(operator_store, SecuritySettings())
    return {
        Role.ADMIN: admin,
        Role.ENROLLER: service.add(admin, "erin", Role.ENROLLER, PASSWORDS[Role.ENROLLER]),
        Role.AUDITOR: service.add(admin, "otto", Role.AUDITOR, PASSWORDS[Role.AUDITOR]),
    }


def log_in(qtbot: QtBot, window: KioskWindow, username: str, password: str) -> None:
    mode = window.controller.operator_mode
    assert mode is not None
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=STARTUP_MS)
    window.controller.request_login()
    assert window.stack.currentWidget() is mode.login
    mode.login.username.setText(username)
    mode.login.password.setText(password)
    mode.login.log_in.click()


def test_first_run_creates_the_admin(
    qtbot: QtBot, open_window, operator_store: SqlOperatorStore
) -> None:
    window = open_window()
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: window.stack.currentWidget() is mode.first_run, timeout=STARTUP_MS)
    mode.first_run.username.setText("alice")
    mode.first_run.password.setText("password1234")
    mode.first_run.confirm.setText("password1234")
    mode.first_run.create_button.click()
    qtbot.waitUntil(lambda: "common passwords" in mode.first_run.error.text(), timeout=10_000)
    mode.first_run.password.setText(ADMIN_PASSWORD)
    mode.first_run.confirm.setText(ADMIN_PASSWORD)
    mode.first_run.create_button.click()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=10_000)
    created = operator_store.find_operator("alice")
    assert created is not None
    assert created.role is Role.ADMIN


@pytest.mark.parametrize(
    ("role", "username", "pages"),
    [
        (Role.ADMIN, "alice", ["People", "Audit"]),
        (Role.ENROLLER, "erin", ["People"]),
        (Role.AUDITOR, "otto", ["Audit"]),
    ],
)
@pytest.mark.usefixtures("staff")
def test_each_role_sees_only_its_screens(
    qtbot: QtBot, open_window, role: Role, username: str, pages: list[str]
) -> None:
    window = open_window()
    log_in(qtbot, window, username, PASSWORDS.get(role, ADMIN_PASSWORD))
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: mode.admin is not None, timeout=10_000)
    assert mode.admin.page_titles() == pages
    if "People" in pages:
        can_delete = role is Role.ADMIN
        assert mode.people_page.delete_button.isVisibleTo(mode.people_page) is can_delete


@pytest.mark.usefixtures("staff")
def test_the_lockout_message_appears_after_failed_logins(qtbot: QtBot, open_window) -> None:
    window = open_window()
    mode = window.controller.operator_mode
    for _ in range(6):
        log_in(qtbot, window, "alice", "not the password at all")
        qtbot.waitUntil(lambda: mode.login.error.text() != "", timeout=10_000)
        if "try again after" in mode.login.error.text():
            break
        mode.login.cancel.click()
    assert "try again after" in mode.login.error.text()


@pytest.mark.usefixtures("staff")
def test_inactivity_returns_to_the_door(qtbot: QtBot, open_window) -> None:
    window = open_window(Settings(security=SecuritySettings(session_idle_s=1.0)))
    log_in(qtbot, window, "alice", ADMIN_PASSWORD)
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: mode.admin is not None, timeout=10_000)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=5_000)
    assert mode.session is None
    assert "inactivity" in window.door.status.text()


def test_the_door_pauses_while_operators_work(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
) -> None:
    window = open_window()
    recognition = window.controller.recognition
    assert recognition is not None
    worker = recognition.worker
    qtbot.waitUntil(lambda: worker.frames_processed > 0, timeout=STARTUP_MS)
    log_in(qtbot, window, "alice", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: window.controller.operator_mode.admin is not None, timeout=10_000)
    qtbot.wait(400)
    paused_at = worker.frames_processed
    qtbot.wait(1000)
    assert worker.frames_processed == paused_at
    window.controller.operator_mode.log_out()
    qtbot.waitUntil(lambda: worker.frames_processed > paused_at, timeout=5_000)


def test_people_are_found_and_deleted_after_typing_their_name(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    identity_store: SqlIdentityStore,
) -> None:
    vector = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    person_id = identity_store.enroll(
        Enrollment(
            "Grace Hopper",
            "B-7",
            ConsentGrant("v1", "ab" * 32, staff[Role.ADMIN]),
            (NewTemplate(vector / np.linalg.norm(vector), "m@1", 0.9),),
        )
    )
    window = open_window()
    log_in(qtbot, window, "alice", ADMIN_PASSWORD)
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: mode.admin is not None, timeout=10_000)
    page = mode.people_page
    page.search.setText("grace")
    qtbot.waitUntil(lambda: page.results.count() == 1, timeout=5_000)
    page.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: "Grace Hopper" in page.detail.text(), timeout=5_000)
    assert "Kept until" in page.detail.text()
    page.confirm_name.setText("Grace")
    assert not page.delete_button.isEnabled()
    page.confirm_name.setText("Grace Hopper")
    assert page.delete_button.isEnabled()
    page.delete_button.click()
    qtbot.waitUntil(lambda: page.results.count() == 0, timeout=5_000)
    assert identity_store.person(person_id).summary.template_count == 0
