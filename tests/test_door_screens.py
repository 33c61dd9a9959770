"""The real kiosk window with the simulated door: the door page's lockdown reaches
this kiosk's door through the database, and both screens show the door's state."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from core.door_io_settings import DoorIoSettings
from core.records import Operator, Role
from core.settings import Settings
from storage.door_commands import SqlDoorCommands
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, logged_in, open_page

DOOR = Settings(
    kiosk_id="door-west",
    door_io=DoorIoSettings(adapter="simulated", operator_poll_s=0.2, poll_interval_s=0.05),
)


def test_an_admin_locks_the_door_down_and_releases_it_from_the_door_page(
    qtbot: QtBot, open_window, staff: dict[Role, Operator]
) -> None:
    window = open_window(DOOR)
    door = window.controller.door
    assert door is not None
    qtbot.waitUntil(lambda: window.door.door_state.text() == "door locked", timeout=10_000)
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    assert "Door" in mode.admin.page_titles()
    open_page(mode, "Door")
    page = mode.door_page
    page.lockdown_button.click()
    qtbot.waitUntil(lambda: "reason" in page.message.text(), timeout=5_000)
    page.reason.setText("police request")
    page.lockdown_button.click()
    qtbot.waitUntil(lambda: "lockdown sent to door-west" in page.message.text(), timeout=5_000)
    qtbot.waitUntil(lambda: door.status.state.lockdown, timeout=5_000)
    qtbot.waitUntil(lambda: "LOCKDOWN" in mode.admin.door_state.text(), timeout=5_000)
    assert "LOCKDOWN" in window.door.door_state.text()
    assert window.controller.services is not None
    reports = SqlDoorCommands(window.controller.services.store.engine)
    qtbot.waitUntil(lambda: reports.reports(staff[Role.ADMIN])[0].lockdown, timeout=5_000)
    page.refresh()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=5_000)
    qtbot.waitUntil(lambda: page.table.item(0, 3).text() == "LOCKDOWN", timeout=5_000)
    page.reason.setText("all clear")
    page.release_button.click()
    qtbot.waitUntil(lambda: not door.status.state.lockdown, timeout=5_000)
    page.seconds.setValue(30)
    page.reason.setText("delivery")
    page.unlock_button.click()
    qtbot.waitUntil(lambda: door.status.state.unlocked, timeout=5_000)


@pytest.mark.usefixtures("staff")
def test_an_auditor_sees_the_doors_but_has_no_controls(qtbot: QtBot, open_window) -> None:
    window = open_window(DOOR)
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    assert mode.admin.page_titles() == ["Audit", "Door", "Access rules"]
    assert not mode.door_page.lockdown_button.isVisibleTo(mode.door_page)
