"""The operator side of the kiosk window: real widgets, store, bcrypt and models."""

from __future__ import annotations

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.settings import SecuritySettings, Settings
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, STARTUP_MS, log_in


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
        (
            Role.ADMIN,
            "alice",
            ["People", "Enroll", "Operators", "Audit", "Settings", "Access rules"],
        ),
        (Role.ENROLLER, "erin", ["People", "Enroll", "Access rules"]),
        (Role.AUDITOR, "otto", ["Audit", "Access rules"]),
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
        assert mode.people_page.may_delete is (role is Role.ADMIN)
        # Nothing about a person, and no Delete, before one is chosen.
        assert not mode.people_page.delete_button.isVisibleTo(mode.people_page)


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
    assert page.delete_button.isVisible()
    page.delete_button.click()  # asks, in the kiosk's style, for the name
    sheet = page.confirm_sheet
    assert sheet.isVisible()
    assert sheet.title.text() == "Delete Grace Hopper?"
    sheet.typed.setText("Grace")
    assert not sheet.confirm.isEnabled()
    sheet.cancel.click()
    assert not sheet.isVisible()
    page.delete_button.click()
    assert sheet.typed.text() == ""  # asked afresh
    sheet.typed.setText("grace  hopper")  # as people read it: case and spaces aside
    assert sheet.confirm.isEnabled()
    sheet.confirm.click()
    qtbot.waitUntil(lambda: page.results.count() == 0, timeout=5_000)
    assert page.person.currentWidget() is page.nobody_chosen  # no stale record, no Delete
    assert identity_store.person(person_id, actor=staff[Role.ADMIN]).summary.template_count == 0
