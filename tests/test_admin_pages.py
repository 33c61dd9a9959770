"""The admin pages on the real store: operators, audit filters, settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot

from core.accounts.operators import Authenticator
from core.accounts.passwords import verify_password
from core.errors import AuthenticationFailed
from core.records import AccessOutcome, Operator, Role, access_decision
from core.settings import CameraSettings, SecuritySettings, Settings
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.settings_store import SqlSettingsStore
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, logged_in, open_page

NEW_PASSWORD = "velvet-harbour-lamp-58"


def test_an_admin_adds_disables_resets_and_changes_an_operator(
    qtbot: QtBot, open_window, staff: dict[Role, Operator], operator_store: SqlOperatorStore
) -> None:
    window = open_window()
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Operators")
    page = mode.operators_page
    qtbot.waitUntil(lambda: page.table.rowCount() == 3, timeout=5_000)

    page.new_username.setText("Dave")
    page.new_role.setCurrentIndex(page.new_role.findData("enroller"))
    page.new_password.setText(NEW_PASSWORD)
    page.new_password_again.setText(NEW_PASSWORD)
    page.add_button.click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 4, timeout=10_000)
    assert "dave added as enroller" in page.message.text()
    assert page.new_password.text() == ""

    page.select("dave")
    page.role.setCurrentIndex(page.role.findData("auditor"))
    page.set_role_button.click()
    qtbot.waitUntil(lambda: "dave is now auditor" in page.message.text(), timeout=5_000)

    page.select("dave")
    page.toggle_button.click()  # asks first
    assert page.confirm_sheet.title.text() == "Disable dave?"
    page.confirm_sheet.confirm.click()
    qtbot.waitUntil(lambda: "dave disabled" in page.message.text(), timeout=5_000)
    qtbot.waitUntil(lambda: page.selected() is not None and page.selected().disabled, timeout=5_000)
    assert page.toggle_button.text() == "Enable"

    page.reset_password.setText("velvet-harbour-lamp-99")
    page.reset_password_again.setText("velvet-harbour-lamp-99")
    page.reset_button.click()
    qtbot.waitUntil(lambda: "password of dave reset" in page.message.text(), timeout=10_000)

    dave = operator_store.find_operator("dave")
    assert dave is not None
    assert (dave.role, dave.disabled) == (Role.AUDITOR, True)
    assert verify_password("velvet-harbour-lamp-99", dave.password_hash)
    with pytest.raises(AuthenticationFailed, match="unknown username or wrong password"):
        Authenticator(operator_store, SecuritySettings(), "t").authenticate(
            "dave", "velvet-harbour-lamp-99"
        )  # disabled: refused like any wrong login


@pytest.mark.usefixtures("staff")
def test_operator_errors_are_shown_and_change_nothing(
    qtbot: QtBot, open_window, operator_store: SqlOperatorStore
) -> None:
    window = open_window()
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    page = mode.operators_page
    qtbot.waitUntil(lambda: page.table.rowCount() == 3, timeout=5_000)
    page.new_username.setText("eve")
    page.new_password.setText("password1234")
    page.new_password_again.setText("password1234")
    page.add_button.click()
    qtbot.waitUntil(lambda: "common" in page.message.text(), timeout=5_000)
    page.new_password_again.setText("something-else-entirely")
    page.add_button.click()
    assert "differ" in page.message.text()
    page.select("alice")
    page.toggle_button.click()
    page.confirm_sheet.confirm.click()
    qtbot.waitUntil(lambda: "cannot disable their own" in page.message.text(), timeout=5_000)
    assert operator_store.find_operator("eve") is None
    alice = operator_store.find_operator("alice")
    assert alice is not None
    assert not alice.disabled


def test_audit_and_access_filters(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    identity_store: SqlIdentityStore,
) -> None:
    for outcome in (AccessOutcome.GRANTED, AccessOutcome.UNKNOWN, AccessOutcome.UNKNOWN):
        identity_store.record_access(
            access_decision(kiosk_id="door-2", outcome=outcome, latency_ms=12.0, similarity=0.5)
        )
    window = open_window()
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    page = mode.audit_page
    qtbot.waitUntil(lambda: page.access.rowCount() == 3, timeout=5_000)

    page.outcome.setCurrentIndex(page.outcome.findData("unknown"))
    page.actor.setText("Alice")
    page.action.setCurrentText("operator.")
    page.refresh()
    qtbot.waitUntil(lambda: page.access.rowCount() == 2, timeout=5_000)
    qtbot.waitUntil(lambda: page.audit.rowCount() == 3, timeout=5_000)  # alice, erin, otto
    for row in range(3):
        actor, action = page.audit.item(row, 1).text(), page.audit.item(row, 2).text()
        assert (actor, action) == ("alice", "operator.create")

    page.action.setCurrentText("person.delete")
    page.refresh()
    qtbot.waitUntil(lambda: page.audit_list.currentWidget() is page.no_audit, timeout=5_000)
    assert page.audit.rowCount() == 0

    page.since_on.setChecked(True)
    page.since.setDateTime(page.since.dateTime().addDays(2))
    page.refresh()
    qtbot.waitUntil(lambda: page.access_list.currentWidget() is page.no_access, timeout=5_000)

    page.until_on.setChecked(True)
    page.until.setDateTime(page.since.dateTime().addDays(-1))
    page.refresh()
    qtbot.waitUntil(
        lambda: "the start must come before the end" in page.message.text(), timeout=5_000
    )

    page.verify_button.click()
    qtbot.waitUntil(lambda: "Audit chain intact" in page.chain.text(), timeout=5_000)


def test_log_filters_in_the_store(
    audit_log: SqlAuditLog, staff: dict[Role, Operator], identity_store: SqlIdentityStore
) -> None:
    from core.log_records import LogFilter

    identity_store.record_access(
        access_decision(kiosk_id="door-1", outcome=AccessOutcome.NO_FACE, latency_ms=3.0)
    )
    identity_store.record_access(
        access_decision(kiosk_id="door-2", outcome=AccessOutcome.NO_FACE, latency_ms=3.0)
    )
    admin = staff[Role.ADMIN]
    only_door_2 = audit_log.access_events(10, LogFilter(kiosk_id="door-2"), actor=admin)
    assert [e.kiosk_id for e in only_door_2] == ["door-2"]
    future = datetime.now().astimezone() + timedelta(hours=1)
    assert audit_log.audit_events(10, LogFilter(since=future), actor=admin) == []
    assert len(audit_log.audit_events(10, LogFilter(until=future, actor="alice"), actor=admin)) == 3
    exact = audit_log.audit_events(10, LogFilter(action="operator.create"), actor=admin)
    prefix = audit_log.audit_events(10, LogFilter(action="operator."), actor=admin)
    assert len(exact) == len(prefix) == 3
    # A LIKE wildcard typed by someone is matched literally.
    assert audit_log.audit_events(10, LogFilter(action="%."), actor=admin) == []


def test_an_admin_changes_the_threshold_and_the_door_uses_it(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    db_engine,
    audit_log: SqlAuditLog,
) -> None:
    window = open_window()
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Settings")
    page = mode.settings_page
    assert page.fields["matching.threshold"].text() == "0.4"
    assert not page.fields["camera.source"].isEnabled()  # pinned by the command line

    page.fields["matching.threshold"].setText("1.5")
    page.save.click()
    assert "matching.threshold" in page.message.text()
    assert "at least 0.3 and at most 1" in page.message.text()

    page.fields["matching.threshold"].setText("0.45")
    page.fields["door.frames_to_confirm"].setText("2")
    page.save.click()
    qtbot.waitUntil(lambda: "saved and applied" in page.message.text(), timeout=5_000)
    assert "matching.threshold 0.4 -> 0.45" in page.message.text()
    assert window.controller.settings.matching.threshold == 0.45
    assert window.controller.settings.door.frames_to_confirm == 2

    stored = SqlSettingsStore(db_engine).stored_settings("any-kiosk")
    assert stored == {"matching.threshold": 0.45, "door.frames_to_confirm": 2}
    (change,) = [
        e
        for e in audit_log.audit_events(10, actor=staff[Role.ADMIN])
        if e.action == "settings.change"
    ]
    assert change.actor == "alice"
    assert change.details["matching.threshold"] == {"scope": "*", "old": 0.4, "new": 0.45}


@pytest.mark.usefixtures("staff")
def test_a_camera_chosen_on_the_settings_screen_is_checked_and_used_at_once(
    qtbot: QtBot, open_window, tmp_path, photos
) -> None:
    # Camera 0 (there is none on a test machine); folders allowed, as for a demonstration.
    window = open_window(Settings(camera=CameraSettings(allow_files=True)), pin_camera=False)
    qtbot.waitUntil(lambda: window.door.banner.text() == "camera unavailable", timeout=10_000)
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    page = mode.settings_page
    field = page.fields["camera.source"]
    assert field.isEnabled()
    field.setText(str(tmp_path / "no-such-camera"))
    page.save.click()
    assert "no-such-camera does not exist" in page.message.text()
    scene = tmp_path / "scene"
    scene.mkdir()
    (scene / "frame.png").write_bytes((photos / "no_face.png").read_bytes())
    field.setText(str(scene))
    page.save.click()
    qtbot.waitUntil(lambda: "saved and applied" in page.message.text(), timeout=5_000)
    capture = window.controller.capture
    qtbot.waitUntil(lambda: capture.frames_read > 0, timeout=10_000)
