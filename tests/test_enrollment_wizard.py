"""The enrollment wizard end to end: real widgets, camera folder, models and store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import cv2
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from core.records import Operator, Role
from core.rules.model import AccessGroup, Validity
from core.service_settings import RulesSettings
from core.settings import Settings
from kiosk.enrollment_wizard import GOOD_FRAME_TEXT
from kiosk.kiosk_screen import GRANTED_TEXT
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.rules_store import SqlRulesStore
from tests.operator_window import (
    ADMIN_PASSWORD,
    PASSWORDS,
    camera_folder,
    logged_in,
    open_page,
)

CAPTURE_MS = 20_000


@pytest.fixture
def yao_at_the_door(tmp_path: Path, yaoming_jpg: Path) -> Path:
    image = cv2.imread(str(yaoming_jpg))
    assert image is not None
    return camera_folder(tmp_path / "yao", image)


def fill_in(wizard, name: str = "Yao Ming", badge: str = "B-11") -> None:
    wizard.name.setText(name)
    wizard.badge.setText(badge)
    wizard.person_agrees.setChecked(True)
    wizard.operator_confirms.setChecked(True)


def test_an_enroller_enrolls_a_person_who_is_then_greeted_at_the_door(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    yao_at_the_door: Path,
    identity_store: SqlIdentityStore,
    audit_log: SqlAuditLog,
) -> None:
    window = open_window(camera=yao_at_the_door)
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    open_page(mode, "Enroll")
    wizard = mode.enrollment_wizard
    assert "v1" in wizard.person_agrees.text()
    assert "erin" in wizard.operator_confirms.text()
    fill_in(wizard)
    wizard.start_capture.click()
    assert wizard.steps.currentWidget() is wizard.capture_page
    qtbot.waitUntil(lambda: wizard.steps.currentWidget() is wizard.review_page, timeout=CAPTURE_MS)
    assert wizard.thumbnails.count() == 3 + 1  # three faces and a stretch
    assert "Yao Ming" in wizard.summary.text()
    assert identity_store.count_people() == 0  # nothing is stored before Save
    wizard.save.click()
    qtbot.waitUntil(lambda: "enrolled with 3 template(s)" in wizard.message.text(), timeout=10_000)
    assert wizard.steps.currentIndex() == 0
    assert wizard.name.text() == ""
    admin = staff[Role.ADMIN]
    (person,) = identity_store.people(None, 10, actor=admin)
    assert (person.display_name, person.external_ref, person.template_count) == (
        "Yao Ming",
        "B-11",
        3,
    )
    (consent,) = identity_store.person(person.id, actor=admin).consents
    assert consent.witnessed_by == "erin"
    assert any(
        e.action == "person.enroll" and e.actor == "erin"
        for e in audit_log.audit_events(10, actor=admin)
    )
    mode.log_out()
    qtbot.waitUntil(lambda: GRANTED_TEXT in window.door.banner.text(), timeout=10_000)
    assert "Yao Ming" in window.door.banner.text()


@pytest.mark.usefixtures("staff")
def test_cancel_at_any_step_stores_nothing(
    qtbot: QtBot, open_window, yao_at_the_door: Path, identity_store: SqlIdentityStore
) -> None:
    window = open_window(camera=yao_at_the_door)
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Enroll")
    wizard = mode.enrollment_wizard
    worker = window.controller.enrollment
    # During capture.
    fill_in(wizard)
    wizard.start_capture.click()
    assert worker.capturing
    wizard.reset()  # what Cancel does
    assert not worker.capturing
    assert wizard.steps.currentIndex() == 0
    assert not wizard.person_agrees.isChecked()
    # At review.
    fill_in(wizard)
    wizard.start_capture.click()
    qtbot.waitUntil(lambda: wizard.steps.currentWidget() is wizard.review_page, timeout=CAPTURE_MS)
    wizard.reset()
    assert wizard.steps.currentIndex() == 0
    # By leaving: logging out mid-capture drops the capture too.
    fill_in(wizard)
    wizard.start_capture.click()
    mode.log_out()
    assert not worker.capturing
    qtbot.wait(500)
    assert identity_store.count_people() == 0


@pytest.mark.usefixtures("staff")
def test_capture_needs_both_ticks_and_a_name(qtbot: QtBot, open_window) -> None:
    window = open_window()
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    wizard = mode.enrollment_wizard
    wizard.name.setText("Ada Lovelace")
    assert not wizard.start_capture.isEnabled()
    wizard.person_agrees.setChecked(True)
    assert not wizard.start_capture.isEnabled()
    wizard.operator_confirms.setChecked(True)
    assert wizard.start_capture.isEnabled()
    wizard.name.setText("   ")
    assert not wizard.start_capture.isEnabled()


@pytest.mark.usefixtures("staff")
def test_each_frame_gets_the_gates_reason_in_plain_words(
    qtbot: QtBot, open_window, tmp_path: Path, photos: Path, identity_store: SqlIdentityStore
) -> None:
    dark = cv2.imread(str(photos / "yaoming_dark.jpg"))
    window = open_window(camera=camera_folder(tmp_path / "dark", dark))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Enroll")
    wizard = mode.enrollment_wizard
    fill_in(wizard)
    wizard.start_capture.click()
    qtbot.waitUntil(lambda: "too dark" in wizard.advice.text(), timeout=CAPTURE_MS)
    assert wizard.capture_count.value() == 0
    assert wizard.advice.text() != GOOD_FRAME_TEXT
    wizard.reset()
    assert identity_store.count_people() == 0


def test_a_face_already_enrolled_is_refused_at_save(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    yao_at_the_door: Path,
    identity_store: SqlIdentityStore,
) -> None:
    window = open_window(camera=yao_at_the_door)
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Enroll")
    wizard = mode.enrollment_wizard
    for name in ("Yao Ming", "Someone Else"):
        fill_in(wizard, name)
        wizard.start_capture.click()
        qtbot.waitUntil(
            lambda: wizard.steps.currentWidget() is wizard.review_page, timeout=CAPTURE_MS
        )
        wizard.save.click()
        qtbot.waitUntil(lambda: wizard.message.text() != "", timeout=10_000)
    # What happened and what to check; not "delete that person", who is the right one.
    assert wizard.message.text() == (
        "the face captured belongs to Yao Ming (already enrolled); "
        "check who is in front of the camera"
    )
    assert wizard.steps.currentWidget() is wizard.review_page
    assert [p.display_name for p in identity_store.people(None, 10, actor=staff[Role.ADMIN])] == [
        "Yao Ming"
    ]


def test_an_enroller_enrolls_a_visitor_in_a_chosen_group(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    yao_at_the_door: Path,
    identity_store: SqlIdentityStore,
    db_engine: Engine,
) -> None:
    rules = SqlRulesStore(db_engine)
    admin = staff[Role.ADMIN]
    current = rules.rule_set(actor=admin)
    visitors = AccessGroup("visitors", "always", all_doors=True, enrollers_may_assign=True)
    rules.apply_rule_set(
        replace(current, groups=(*current.groups, visitors)), actor=admin, dry_run=False
    )
    days = 3
    window = open_window(
        Settings(rules=RulesSettings(visitor_valid_days=days)), camera=yao_at_the_door
    )
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    open_page(mode, "Enroll")
    wizard = mode.enrollment_wizard
    access = wizard.access
    qtbot.waitUntil(lambda: "visitors" in access.group_boxes, timeout=5_000)
    assert access.ticked() == {"everyone"}  # the default group, preselected
    fill_in(wizard)
    wizard.start_capture.click()
    qtbot.waitUntil(lambda: wizard.steps.currentWidget() is wizard.review_page, timeout=CAPTURE_MS)
    access.group_boxes["everyone"].setChecked(False)
    access.group_boxes["visitors"].setChecked(True)
    access.visitor.setChecked(True)
    last_day = date.today() + timedelta(days=days - 1)
    assert access.valid_until_on.isChecked()
    assert access.valid_until.date().toString("yyyy-MM-dd") == last_day.isoformat()
    wizard.save.click()
    qtbot.waitUntil(lambda: "enrolled with 3 template(s)" in wizard.message.text(), timeout=10_000)
    assert f"groups visitors; valid until {last_day}" in wizard.message.text()
    assert access.ticked() == {"everyone"}  # the next person starts from the default again
    assert not access.visitor.isChecked()
    (person,) = identity_store.people(None, 10, actor=admin)
    assert rules.person_access(person.id, actor=admin) == (
        frozenset({"visitors"}),
        Validity(None, last_day),
    )
