"""Every operator screen on a 800x480 screen (the README's smallest) and a 1920x1080 one:
the window stays the screen's size, and every button shown can be reached, scrolled
into view where its page scrolls (issue 27 item 7: after login the window grew to
1248x713 on such a screen, and Log out, the consent boxes, "Start the camera
capture", the person's details and Delete were off-screen)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QAbstractButton, QApplication, QScrollArea, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from core.door_io_settings import DoorIoSettings
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.settings import Settings
from kiosk.app import KioskWindow
from kiosk.confirm_sheet import ConfirmSheet
from storage.identity_store import SqlIdentityStore
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, camera_folder, logged_in

SIZES = [(800, 480), (1920, 1080)]
CAPTURE_MS = 20_000
LAYOUT_PASSES = 4
# The door hardware (simulated) gives the Door page; the header shows its state and
# the OSDP controller's link, at their longest.
DOOR = Settings(kiosk_id="door-west", door_io=DoorIoSettings(adapter="simulated"))
DOOR_STATE = (
    "door locked · open · LOCKDOWN · FORCED OPEN · DOOR FAULT · door controller without "
    "secure channel (OSDP) · 2 grant(s) not sent to the controller (last: not sent)"
)
ALERTS = "ALERT: door held open at door-west · ALERT: the webhook has failed 12 times"


def _clipping_ancestors(widget: QWidget, window: QWidget) -> Iterator[QWidget]:
    ancestor = widget.parentWidget()
    while ancestor is not None and ancestor is not window:
        yield ancestor
        ancestor = ancestor.parentWidget()


def _where(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def out_of_reach(window: QWidget) -> list[str]:
    """Each button shown that cannot be tapped whole: outside the window, cut off by
    what holds it, or under something else, after every scroll area that holds it
    has scrolled it into view. With a question asked, only its own buttons count."""
    QApplication.processEvents()
    sheets = [s for s in window.findChildren(ConfirmSheet) if s.isVisible()]
    buttons = [
        b
        for b in (sheets[0] if sheets else window).findChildren(QAbstractButton)
        if b.isVisible() and b.window() is window
    ]
    problems = []
    for button in buttons:
        for holder in _clipping_ancestors(button, window):
            if isinstance(holder, QScrollArea):
                holder.ensureWidgetVisible(button, 0, 0)
        QApplication.processEvents()
        where = _where(button, window)
        seen = where.intersected(window.rect())
        for holder in _clipping_ancestors(button, window):
            seen = seen.intersected(_where(holder, window))
        name = f"{type(button).__name__} {button.text()!r}"
        if seen != where:
            problems.append(f"{name} at {where.getRect()} is cut to {seen.getRect()}")
            continue
        hit = window.childAt(where.center())
        if hit is not button and not button.isAncestorOf(hit):
            over = f"{type(hit).__name__} {hit.objectName()!r} at {_where(hit, window).getRect()}"
            problems.append(f"{name} at {where.getRect()} is under {over}")
    return problems


def settle() -> None:
    """Let a resize run its course: a layout that changes a minimum asks for another
    layout pass, which a running kiosk's event loop gives it at once."""
    for _ in range(LAYOUT_PASSES):
        QApplication.processEvents()


def check(window: KioskWindow, size: tuple[int, int], what: str) -> None:
    """``what`` shown fits a screen of ``size``, also after the window was another size
    (a minimum set while it was larger must not keep it larger)."""
    mode = window.controller.operator_mode
    if mode is not None and mode.admin is not None:
        # At its longest (the door hardware's own words replace it when they change).
        mode.show_door_state(DOOR_STATE)
    for other in SIZES:
        window.resize(*other)
        settle()
    window.resize(*size)
    settle()
    assert window.size() == QSize(*size), f"{what}: the window grew to {window.size()}"
    problems = out_of_reach(window)
    assert not problems, f"{what}: " + "; ".join(problems)


def every_tab(window: KioskWindow, size: tuple[int, int], tabs: QTabWidget, what: str) -> None:
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        check(window, size, f"{what}, tab {tabs.tabText(index)}")


@pytest.fixture
def grace(identity_store: SqlIdentityStore, staff: dict[Role, Operator]) -> None:
    vector = np.random.default_rng(3).standard_normal(512).astype(np.float32)
    identity_store.enroll(
        Enrollment(
            "Grace Hopper-Montgomery of the Royal Navy Reserve",
            "B-7",
            ConsentGrant("v1", "ab" * 32, staff[Role.ADMIN]),
            (NewTemplate(vector / np.linalg.norm(vector), "m@1", 0.9),),
        )
    )


@pytest.fixture
def yao_at_the_door(tmp_path: Path, yaoming_jpg: Path) -> Path:
    image = cv2.imread(str(yaoming_jpg))
    assert image is not None
    return camera_folder(tmp_path / "yao", image)


@pytest.mark.slow
@pytest.mark.usefixtures("grace")
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_operator_screen_fits_the_screen_with_every_button_in_reach(
    qtbot: QtBot, open_window, yao_at_the_door: Path, size: tuple[int, int]
) -> None:
    window = open_window(DOOR, camera=yao_at_the_door)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=30_000)
    window.controller.request_login()
    mode = window.controller.operator_mode
    assert window.stack.currentWidget() is mode.login
    mode.login.show_error("unknown username or wrong password; " * 3)
    check(window, size, "the login")
    mode.login.cancel.click()
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    admin = mode.admin
    mode.show_alerts(ALERTS)
    assert admin.page_titles() == [
        "People", "Enroll", "Operators", "Audit", "Settings", "Door", "Access rules",
    ]  # fmt: skip

    admin.open_page("People")
    people = mode.people_page
    qtbot.waitUntil(lambda: people.results.count() == 1, timeout=10_000)
    check(window, size, "People, nobody chosen")
    people.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: "Kept until" in people.detail.text(), timeout=10_000)
    every_tab(window, size, people.tabs, "People")
    people.tabs.setCurrentIndex(0)
    people.delete_button.click()
    check(window, size, "People, asked before deleting")
    people.confirm_sheet.dismiss()

    admin.open_page("Enroll")
    wizard = mode.enrollment_wizard
    wizard.name.setText("Ada Lovelace")
    wizard.person_agrees.setChecked(True)
    wizard.operator_confirms.setChecked(True)
    check(window, size, "Enroll, consent")
    wizard.start_capture.click()
    assert wizard.steps.currentWidget() is wizard.capture_page
    check(window, size, "Enroll, capture")
    qtbot.waitUntil(lambda: wizard.steps.currentWidget() is wizard.review_page, timeout=CAPTURE_MS)
    check(window, size, "Enroll, review")
    wizard.reset()

    admin.open_page("Operators")
    operators = mode.operators_page
    qtbot.waitUntil(lambda: operators.table.rowCount() == 3, timeout=10_000)
    operators.select("erin")
    check(window, size, "Operators")
    operators.toggle_button.click()
    check(window, size, "Operators, asked before disabling")
    operators.confirm_sheet.dismiss()

    admin.open_page("Audit")
    audit = mode.audit_page
    qtbot.waitUntil(lambda: audit.audit.rowCount() > 0, timeout=10_000)
    every_tab(window, size, audit.tabs, "Audit")

    admin.open_page("Settings")
    check(window, size, "Settings")

    admin.open_page("Door")
    door = mode.door_page
    qtbot.waitUntil(lambda: door.table.rowCount() == 1, timeout=10_000)
    check(window, size, "Door")

    admin.open_page("Access rules")
    rules = mode.rules_page
    qtbot.waitUntil(lambda: rules.groups.rowCount() > 0, timeout=10_000)
    tables = [rules.doors.table, rules.groups, rules.schedules, rules.calendars, rules.areas]
    for index, table in enumerate(tables):
        rules.tabs.setCurrentIndex(index)
        if table.rowCount():
            table.selectRow(0)
        check(window, size, f"Access rules, tab {rules.tabs.tabText(index)}")
    rules.tabs.setCurrentIndex(tables.index(rules.groups))
    form = rules.forms["Groups"]
    form.delete.click()
    check(window, size, "Access rules, asked before deleting a group")
    form.confirm_sheet.dismiss()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_first_run_fits_the_screen(qtbot: QtBot, open_window, size: tuple[int, int]) -> None:
    window = open_window()
    window.resize(*size)
    first_run = window.controller.operator_mode.first_run
    qtbot.waitUntil(lambda: window.stack.currentWidget() is first_run, timeout=30_000)
    first_run.show_error("the password is one of the common passwords; choose another " * 2)
    check(window, size, "the first run")


@pytest.mark.slow
@pytest.mark.usefixtures("staff")
def test_an_auditor_s_read_only_screens_fit_a_small_screen(qtbot: QtBot, open_window) -> None:
    size = SIZES[0]
    window = open_window(DOOR)
    window.resize(*size)
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    admin = mode.admin
    assert admin.page_titles() == ["Audit", "Door", "Access rules"]
    every_tab(window, size, mode.audit_page.tabs, "Audit")
    admin.open_page("Door")
    check(window, size, "Door, read only")
    admin.open_page("Access rules")
    rules = mode.rules_page
    qtbot.waitUntil(lambda: rules.groups.rowCount() > 0, timeout=10_000)
    every_tab(window, size, rules.tabs, "Access rules, read only")
