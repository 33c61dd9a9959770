"""The real kiosk window with the simulated door: the door page's lockdown reaches
this kiosk's door through the database, and both screens show the door's state."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from core.access.door_commands import DoorReport
from core.accounts.sessions import OperatorSession
from core.door_io_settings import DoorIoSettings
from core.errors import SessionExpired
from core.log_records import KioskAuditEvent
from core.records import Operator, Role
from core.settings import Settings
from kiosk.door_page import FAILED_COLUMN, REPORTED_COLUMN
from storage.door_commands import SqlDoorCommands
from storage.kiosk_registry import register_kiosk
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
    qtbot.waitUntil(
        lambda: reports.reports(staff[Role.ADMIN], failed_unlocks_s=60)[0].lockdown,
        timeout=5_000,
    )
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


def test_the_door_page_shows_failed_unlocks_and_silent_kiosks_by_itself(
    qtbot: QtBot, open_window, staff: dict[Role, Operator]
) -> None:
    door_io = DOOR.door_io.model_copy(update={"door_page_refresh_s": 1})
    window = open_window(DOOR.model_copy(update={"door_io": door_io}))
    services = window.controller.services
    assert services is not None
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Door")
    page = mode.door_page
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=5_000)
    assert page.table.item(0, FAILED_COLUMN).text() == ""
    # A failed unlock, as the door's audit trail records it, and another kiosk that
    # last reported 12 minutes ago: the page shows both without a click.
    services.events.record_audit(
        KioskAuditEvent("door-west", "door.unlock_failed", {"detail": "no answer"})
    )
    register_kiosk(services.store.engine, "door-east", "East", "test")
    reports = SqlDoorCommands(services.store.engine)
    reports.report(
        DoorReport(
            kiosk_id="door-east",
            adapter="simulated",
            unlocked=False,
            door_open=False,
            lockdown=False,
            alarms=(),
            fault=None,
        )
    )
    with services.store.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE door_reports SET reported_at = now() - interval '12 minutes' "
                "WHERE kiosk_id = 'door-east'"
            )
        )
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=5_000)
    rows = {page.table.item(r, 0).text(): r for r in range(2)}
    qtbot.waitUntil(
        lambda: page.table.item(rows["door-west"], FAILED_COLUMN).text().startswith("1 in 24 h"),
        timeout=5_000,
    )
    assert (
        page.table.item(rows["door-east"], REPORTED_COLUMN).text()
        == "STALE: last heard 12 minutes ago"
    )
    assert "STALE" not in page.table.item(rows["door-west"], REPORTED_COLUMN).text()


def test_a_page_refreshing_by_itself_keeps_no_idle_session_open() -> None:
    clock = [0.0]
    session = OperatorSession(
        Operator(1, "ada", Role.ADMIN, False, "-"), idle_s=60, clock=lambda: clock[0]
    )
    clock[0] = 50
    assert session.peek().username == "ada"
    clock[0] = 61  # 61 s after the last activity: the peek did not count as one
    assert not session.active
    with pytest.raises(SessionExpired):
        session.peek()
