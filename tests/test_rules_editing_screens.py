"""Editing the access rules and people's PINs on the operator screens, in the real
kiosk window on the real database: schedules, groups, calendars and areas through
the store's locked edit, PINs through the service ``kiosk-admin people pin`` uses."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from core.access.door_pin import DoorPins, PinVerdict
from core.people.pins import DURESS_CLASH_TEXT, PinKind
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.rules.model import (
    AccessGroup,
    AntiPassbackArea,
    Door,
    HolidayCalendar,
    PassbackMode,
    Schedule,
    TimeRange,
    Weekday,
)
from core.rules.rule_edits import put_group
from core.rules.rules_file_text import rules_file_text
from core.settings import SecuritySettings, Settings
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.pin_store import SqlPinStore
from storage.rules_store import SqlRulesStore
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, logged_in, open_page

KIOSK = "front-door"
PIN = "73915"
DURESS = "48260"


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    return SqlRulesStore(db_engine)


@pytest.fixture
def grace(identity_store: SqlIdentityStore, staff: dict[Role, Operator]) -> uuid.UUID:
    """A person the admin enrolled (so erin, the enroller, did not)."""
    vector = np.random.default_rng(5).standard_normal(512).astype(np.float32)
    return identity_store.enroll(
        Enrollment(
            "Grace Hopper",
            "B-7",
            ConsentGrant("v1", "ab" * 32, staff[Role.ADMIN]),
            (NewTemplate(vector / np.linalg.norm(vector), "m@1", 0.9),),
        )
    )


def _rules_page(qtbot: QtBot, open_window, tab: str):  # type: ignore[no-untyped-def]
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Access rules")
    page = mode.rules_page
    page.tabs.setCurrentIndex([page.tabs.tabText(i) for i in range(page.tabs.count())].index(tab))
    qtbot.waitUntil(lambda: page.groups.rowCount() >= 1, timeout=5_000)  # the rules are in
    return page


def _edits(audit_log: SqlAuditLog, admin: Operator) -> list[dict[str, object]]:
    events = audit_log.audit_events(50, actor=admin)
    return [e.details for e in events if e.action == "rules.edited"]


def test_an_admin_adds_a_schedule_and_a_group_on_screen(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    rules: SqlRulesStore,
    audit_log: SqlAuditLog,
    grace: uuid.UUID,
) -> None:
    page = _rules_page(qtbot, open_window, "Schedules")
    form = page.forms["Schedules"]
    form.new.click()
    form.name.setText("office")
    for day in list(Weekday)[:5]:
        form.days[day].setText("08:00-12:00, 13:00-18:00")
    form.days[Weekday.SAT].setText("09:00-12:00")
    form.save.click()
    qtbot.waitUntil(lambda: form.message.text() == "schedule office added", timeout=5_000)
    qtbot.waitUntil(lambda: page.schedules.rowCount() == 2, timeout=5_000)

    groups = page.forms["Groups"]
    qtbot.waitUntil(lambda: groups.schedule.findText("office") >= 0, timeout=5_000)
    groups.new.click()
    groups.name.setText("staff")
    groups.schedule.setCurrentText("office")
    groups.all_doors.setChecked(False)
    groups.doors.boxes[KIOSK].setChecked(True)
    groups.save.click()
    qtbot.waitUntil(lambda: groups.message.text() == "group staff added", timeout=5_000)
    qtbot.waitUntil(lambda: page.groups.rowCount() == 2, timeout=5_000)

    admin = staff[Role.ADMIN]
    stored = rules.rule_set(actor=admin)
    office = TimeRange.parse("08:00-12:00"), TimeRange.parse("13:00-18:00")
    week = dict.fromkeys(list(Weekday)[:5], office) | {
        Weekday.SAT: (TimeRange.parse("09:00-12:00"),)
    }
    assert Schedule("office", week) in stored.schedules
    assert AccessGroup("staff", "office", frozenset({KIOSK})) in stored.groups
    assert stored.members["everyone"] == {grace}  # the default group kept its member
    exported = rules_file_text(stored)  # what kiosk-admin rules export prints
    assert 'name = "staff"' in exported
    assert 'mon = ["08:00-12:00", "13:00-18:00"]' in exported
    added = _edits(audit_log, admin)
    assert [e["edit"] for e in added] == ["group staff added", "schedule office added"]
    assert added[0]["added"]["group"] == 1
    assert added[0]["members_removed"] == 0


def test_a_bad_time_range_is_refused_in_one_line_and_nothing_changes(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    rules: SqlRulesStore,
    audit_log: SqlAuditLog,
) -> None:
    admin = staff[Role.ADMIN]
    page = _rules_page(qtbot, open_window, "Schedules")
    before = rules.rule_set(actor=admin)  # with the door the kiosk made at its start
    form = page.forms["Schedules"]
    qtbot.waitUntil(lambda: page.schedules.rowCount() == 1, timeout=5_000)
    page.schedules.selectRow(0)  # "always"
    assert form.name.text() == "always"
    assert form.name.isReadOnly()
    form.days[Weekday.TUE].setText("18:00-08:00")
    form.save.click()
    assert form.message.text() == (
        "Tue: time range 18:00-08:00 is not a range within one day: its start must be "
        "before its end (00:00-24:00)"
    )
    form.days[Weekday.TUE].setText("8-18")
    form.save.click()
    assert "\n" not in form.message.text()
    assert form.message.text().startswith("Tue: '8' is not a time of day")

    # A refusal only the stored rules show comes back from the store in one line too.
    form.load(None)
    form.name.setText("always")
    form.save.click()
    qtbot.waitUntil(lambda: "exists already" in form.message.text(), timeout=5_000)
    assert form.message.text() == "schedule always exists already; choose another name"
    assert rules.rule_set(actor=admin) == before
    assert _edits(audit_log, admin) == []


def test_a_schedule_a_group_uses_is_not_deleted(
    qtbot: QtBot, open_window, staff: dict[Role, Operator], rules: SqlRulesStore
) -> None:
    admin = staff[Role.ADMIN]
    page = _rules_page(qtbot, open_window, "Schedules")
    before = rules.rule_set(actor=admin)  # with the door the kiosk made at its start
    form = page.forms["Schedules"]
    qtbot.waitUntil(lambda: page.schedules.rowCount() == 1, timeout=5_000)
    page.schedules.selectRow(0)
    form.delete.click()  # asks first, in the kiosk's style
    assert form.confirm_sheet.title.text() == "Delete schedule always?"
    form.confirm_sheet.confirm.click()
    qtbot.waitUntil(lambda: form.message.text() != "", timeout=5_000)
    assert form.message.text() == (
        "schedule always is used by group everyone; give that group another schedule first"
    )
    assert rules.rule_set(actor=admin) == before


def test_an_admin_sets_calendars_areas_and_a_doors_calendar_on_screen(
    qtbot: QtBot, open_window, staff: dict[Role, Operator], rules: SqlRulesStore
) -> None:
    admin = staff[Role.ADMIN]
    page = _rules_page(qtbot, open_window, "Holidays")
    form = page.forms["Holidays"]
    form.new.click()
    form.name.setText("bavaria")
    form.country.setText("xx")
    form.save.click()
    assert form.message.text().startswith("country 'XX' has no public-holiday calendar")
    form.country.setText("de")
    form.subdivision.setText("by")
    form.closures.setText("2026-12-24 2026-12-31")
    form.save.click()
    qtbot.waitUntil(lambda: form.message.text() == "holiday calendar bavaria added", timeout=5_000)

    doors = page.doors
    qtbot.waitUntil(lambda: doors.calendar.findText("bavaria") >= 0, timeout=5_000)
    doors.select(KIOSK)
    doors.calendar.setCurrentText("bavaria")
    doors.save.click()
    qtbot.waitUntil(lambda: "saved" in doors.message.text(), timeout=5_000)
    assert doors.message.text() == f"door {KIOSK}: holiday calendar saved"

    areas = page.forms["Areas"]
    areas.new.click()
    areas.name.setText("lobby")
    areas.entry.boxes[KIOSK].setChecked(True)
    areas.save.click()
    qtbot.waitUntil(lambda: areas.message.text() != "", timeout=5_000)
    assert areas.message.text() == "area lobby: it needs at least one entry and one exit door"

    stored = rules.rule_set(actor=admin)
    assert stored.calendars == (
        HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 24), date(2026, 12, 31)})),
    )
    assert [d.calendar for d in stored.doors] == ["bavaria"]
    assert stored.areas == ()

    # A door only a rules file named so far can be an area's exit door.
    lab = Door("lab-2", "Lab 2", "Europe/Berlin")
    rules.apply_rule_set(replace(stored, doors=(*stored.doors, lab)), actor=admin, dry_run=False)
    page.refresh()
    qtbot.waitUntil(lambda: "lab-2" in areas.exit.boxes, timeout=5_000)
    areas.entry.boxes[KIOSK].setChecked(True)
    areas.exit.boxes["lab-2"].setChecked(True)
    areas.mode.setCurrentIndex(areas.mode.findData(PassbackMode.SOFT.value))
    areas.save.click()
    qtbot.waitUntil(lambda: areas.message.text() == "area lobby added", timeout=5_000)
    assert rules.rule_set(actor=admin).areas == (
        AntiPassbackArea("lobby", frozenset({KIOSK}), frozenset({"lab-2"}), PassbackMode.SOFT),
    )


def test_an_edit_waits_for_a_membership_written_meanwhile_and_keeps_it(
    staff: dict[Role, Operator], rules: SqlRulesStore, grace: uuid.UUID
) -> None:
    """The edit reads the rules under the lock a membership write holds shared: the
    person put in a group while an edit is being made is in it afterwards."""
    admin = staff[Role.ADMIN]
    rules.edit_rule_set(
        put_group(AccessGroup("staff", "always", all_doors=True), new=True), actor=admin, what="x"
    )
    writing = threading.Event()
    written = threading.Event()

    def slow_edit(current):  # type: ignore[no-untyped-def]
        writing.set()
        # The membership write below must wait for this edit, not slip in before it.
        assert not written.wait(1.0)
        return put_group(AccessGroup("night", "always", all_doors=True), new=True)(current)

    def assign() -> None:
        writing.wait(10)
        rules.set_person_access(grace, actor=admin, groups=frozenset({"staff"}))
        written.set()

    helper = threading.Thread(target=assign)
    helper.start()
    rules.edit_rule_set(slow_edit, actor=admin, what="group night added")
    helper.join(10)
    assert written.is_set()
    stored = rules.rule_set(actor=admin)
    assert stored.members["staff"] == {grace}
    assert {g.name for g in stored.groups} == {"everyone", "staff", "night"}


@pytest.mark.slow
def test_an_admin_sets_a_persons_pin_on_screen_and_it_is_never_shown(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    grace: uuid.UUID,
    db_engine: Engine,
    audit_log: SqlAuditLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    people = mode.people_page
    people.search.setText("grace")
    qtbot.waitUntil(lambda: people.results.count() == 1, timeout=5_000)
    people.results.setCurrentRow(0)
    pins = people.pins
    assert pins is not None
    qtbot.waitUntil(lambda: pins.set_button.isEnabled(), timeout=5_000)
    people.tabs.setCurrentWidget(pins)

    pins.first.setText(PIN)
    pins.again.setText("73916")
    pins.set_button.click()
    assert pins.message.text() == "the two PINs differ; type the new PIN twice again"
    assert pins.first.text() == pins.again.text() == ""  # nothing typed stays
    pins.first.setText("12a4")
    pins.again.setText("12a4")
    pins.set_button.click()
    assert pins.message.text().startswith("a PIN is 4 to 8 digits")

    pins.first.setText(PIN)
    pins.again.setText(PIN)
    pins.set_button.click()
    qtbot.waitUntil(lambda: pins.message.text() == "PIN set", timeout=10_000)
    pins.kind.setCurrentIndex(pins.kind.findData(PinKind.DURESS.value))
    pins.first.setText(PIN)
    pins.again.setText(PIN)
    pins.set_button.click()
    qtbot.waitUntil(lambda: "differ" in pins.message.text(), timeout=10_000)
    # Told, the clash opens nothing: the PIN it matched is cleared (docs/door-pin.md).
    assert pins.message.text() == DURESS_CLASH_TEXT
    pins.kind.setCurrentIndex(pins.kind.findData(PinKind.PIN.value))
    pins.first.setText(PIN)
    pins.again.setText(PIN)
    pins.set_button.click()
    qtbot.waitUntil(lambda: pins.message.text() == "PIN set", timeout=10_000)
    pins.kind.setCurrentIndex(pins.kind.findData(PinKind.DURESS.value))
    pins.first.setText(DURESS)
    pins.again.setText(DURESS)
    pins.set_button.click()
    qtbot.waitUntil(lambda: pins.message.text() == "duress PIN set", timeout=10_000)

    door = DoorPins(
        store=SqlPinStore(db_engine),
        policy=SecuritySettings(),
        kiosk_id=KIOSK,
        record_audit=lambda _event: None,
    )
    assert door.verify(grace, PIN) is PinVerdict.RIGHT
    assert door.verify(grace, DURESS) is PinVerdict.DURESS
    assert door.verify(grace, "0000") is PinVerdict.WRONG

    events = audit_log.audit_events(100, actor=staff[Role.ADMIN])
    set_events = [e for e in events if e.action == "person.pin_set"]
    assert [(e.actor, e.target, e.details["kind"]) for e in set_events] == [
        ("alice", str(grace), "duress"),
        ("alice", str(grace), "pin"),
        ("alice", str(grace), "pin"),
    ]
    everything = json.dumps([(e.action, e.target, e.details) for e in events], default=str)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PIN, DURESS):
        assert secret not in everything
        assert secret not in logged
        assert secret not in pins.message.text()

    pins.kind.setCurrentIndex(pins.kind.findData(PinKind.PIN.value))
    pins.clear_button.click()
    assert pins.confirm_sheet.title.text() == "Clear the PIN and the duress PIN?"
    pins.confirm_sheet.confirm.click()
    qtbot.waitUntil(lambda: pins.message.text() == "PIN cleared", timeout=10_000)
    assert door.verify(grace, PIN) is PinVerdict.WRONG


def test_an_enroller_is_refused_a_pin_for_someone_elses_person(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    grace: uuid.UUID,
    db_engine: Engine,
    audit_log: SqlAuditLog,
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    people = mode.people_page
    people.search.setText("grace")
    qtbot.waitUntil(lambda: people.results.count() == 1, timeout=5_000)
    people.results.setCurrentRow(0)
    pins = people.pins
    assert pins is not None
    qtbot.waitUntil(lambda: pins.set_button.isEnabled(), timeout=5_000)
    pins.first.setText(PIN)
    pins.again.setText(PIN)
    pins.set_button.click()
    qtbot.waitUntil(lambda: pins.message.text() != "", timeout=10_000)
    assert pins.message.text() == (
        "operator erin may set PINs only for the people they enrolled; ask an admin"
    )
    assert pins.set_button.isEnabled()
    door = DoorPins(
        store=SqlPinStore(db_engine),
        policy=SecuritySettings(),
        kiosk_id=KIOSK,
        record_audit=lambda _event: None,
    )
    assert door.verify(grace, PIN) is PinVerdict.WRONG  # nothing was stored
    events = audit_log.audit_events(50, actor=staff[Role.ADMIN])
    assert not [e for e in events if e.action == "person.pin_set"]
    assert [e for e in events if e.actor == "erin" and e.action.startswith("permission.denied")]


@pytest.mark.usefixtures("grace")
def test_an_auditor_sees_no_edit_controls_and_an_enroller_no_rule_forms(
    qtbot: QtBot, open_window, staff: dict[Role, Operator]
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    page = mode.rules_page
    assert page.forms == {}
    assert not page.doors.form.isVisibleTo(page.doors)
    qtbot.waitUntil(lambda: page.groups.rowCount() == 1, timeout=5_000)
    assert "people_page" not in mode.__dict__  # no People page, so no PIN tab
    mode.log_out()

    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    assert mode.rules_page.forms == {}
    people = mode.people_page
    assert people.pins is not None  # for the people erin enrolls; the store decides
    assert [people.tabs.tabText(i) for i in range(people.tabs.count())] == [
        "Record",
        "Access",
        "PIN",
        "Photos",
    ]
