"""The access rules on the operator screens, in the real kiosk window on the real
database: doors renamed and set, the rules shown read-only, a person's groups and
validity edited (and an enroller refused on someone else's person), and a refused
decision explained on the Audit screen."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from core.records import (
    AccessOutcome,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
    Refusal,
    Role,
    access_decision,
)
from core.rules.model import AccessGroup, Door, DoorMode, Schedule, TimeRange, Validity, Weekday
from core.settings import Settings
from kiosk.access_editor import AccessEditor
from kiosk.audit_page import REFUSAL_WORDS
from kiosk.rules_page import EDIT_HINT
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.rules_store import SqlRulesStore
from tests.operator_window import ADMIN_PASSWORD, PASSWORDS, logged_in, open_page

KIOSK = "front-door"
OFFICE = Schedule("office", {d: (TimeRange.parse("08:00-18:00"),) for d in list(Weekday)[:5]})


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    return SqlRulesStore(db_engine)


@pytest.fixture
def with_staff_group(rules: SqlRulesStore, staff: dict[Role, Operator]) -> AccessGroup:
    """The migration's rules plus a group "staff" at every door in office hours."""
    group = AccessGroup("staff", OFFICE.name, all_doors=True)
    admin = staff[Role.ADMIN]
    current = rules.rule_set(actor=admin)
    rules.apply_rule_set(
        replace(current, schedules=(*current.schedules, OFFICE), groups=(*current.groups, group)),
        actor=admin,
        dry_run=False,
    )
    return group


@pytest.fixture
def grace(identity_store: SqlIdentityStore, staff: dict[Role, Operator]) -> uuid.UUID:
    """A person the admin enrolled (so the admin witnessed their consent, not erin)."""
    vector = np.random.default_rng(5).standard_normal(512).astype(np.float32)
    return identity_store.enroll(
        Enrollment(
            "Grace Hopper",
            "B-7",
            ConsentGrant("v1", "ab" * 32, staff[Role.ADMIN]),
            (NewTemplate(vector / np.linalg.norm(vector), "m@1", 0.9),),
        )
    )


def test_an_admin_renames_a_door_and_sets_its_zone_and_mode(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    rules: SqlRulesStore,
    audit_log: SqlAuditLog,
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    open_page(mode, "Access rules")
    page = mode.rules_page.doors
    assert page.form.isVisibleTo(page)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=5_000)
    admin = staff[Role.ADMIN]
    (before,) = rules.doors(actor=admin)
    page.select(KIOSK)
    assert page.name.text() == before.display_name

    page.time_zone.setCurrentText("Mars/Olympus_Mons")
    page.save.click()
    assert "not in the list" in page.message.text()

    page.name.setText("Front entrance")
    page.time_zone.setCurrentText("Europe/Berlin")
    page.mode.setCurrentIndex(page.mode.findData(DoorMode.FACE_AND_PIN.value))
    page.save.click()
    qtbot.waitUntil(lambda: "saved" in page.message.text(), timeout=5_000)
    assert page.message.text() == f"door {KIOSK}: name, time zone, mode saved"
    qtbot.waitUntil(lambda: page.table.item(0, 1).text() == "Front entrance", timeout=5_000)

    assert rules.doors(actor=admin) == [
        Door(KIOSK, "Front entrance", "Europe/Berlin", None, DoorMode.FACE_AND_PIN)
    ]
    (changed,) = [e for e in audit_log.audit_events(20, actor=admin) if e.action == "door.changed"]
    assert (changed.actor, changed.target) == ("alice", KIOSK)
    assert changed.details["display_name"] == {"from": before.display_name, "to": "Front entrance"}
    assert changed.details["time_zone"]["to"] == "Europe/Berlin"


def test_the_time_zone_list_narrows_to_what_is_typed(
    qtbot: QtBot, open_window, staff: dict[Role, Operator]
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    completer = mode.rules_page.doors.time_zone.completer()
    completer.setCompletionPrefix("berl")
    shown = completer.completionModel()
    found = [shown.index(i, 0).data() for i in range(completer.completionCount())]
    assert "Europe/Berlin" in found
    assert all("berl" in zone.lower() for zone in found)


@pytest.mark.usefixtures("with_staff_group")
def test_an_auditor_reads_the_doors_and_an_enroller_the_rules(
    qtbot: QtBot, open_window, grace: uuid.UUID
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    page = mode.rules_page
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Doors",
        "Groups",
        "Schedules",
        "Holidays",
        "Areas",
    ]
    assert not page.doors.form.isVisibleTo(page.doors)
    qtbot.waitUntil(lambda: page.doors.table.rowCount() == 1, timeout=5_000)
    mode.log_out()

    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    open_page(mode, "Access rules")
    page = mode.rules_page
    assert page.doors is None  # an enroller may not see the doors
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Groups",
        "Schedules",
        "Holidays",
        "Areas",
    ]
    qtbot.waitUntil(lambda: page.groups.rowCount() == 2, timeout=5_000)
    rows = {
        page.groups.item(r, 0).text(): [page.groups.item(r, c).text() for c in range(1, 5)]
        for r in range(2)
    }
    # Grace joined the default group at enrollment; nobody is in staff yet.
    assert rows == {
        "everyone (default)": ["every door", "always", "closed", "1"],
        "staff": ["every door", "office", "closed", "0"],
    }
    schedules = {page.schedules.item(r, 0).text(): page.schedules.item(r, 1).text() for r in (0, 1)}
    assert schedules["office"] == "Mon-Fri 08:00-18:00"
    assert schedules["always"] == "Mon-Sun 00:00-24:00"
    assert "kiosk-admin rules export" in EDIT_HINT
    assert EDIT_HINT in [label.text() for label in page.findChildren(QLabel)]


@pytest.mark.usefixtures("with_staff_group")
def test_an_admin_edits_a_persons_groups_and_validity(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    grace: uuid.UUID,
    rules: SqlRulesStore,
    audit_log: SqlAuditLog,
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "alice", ADMIN_PASSWORD)
    page = mode.people_page
    page.search.setText("grace")
    qtbot.waitUntil(lambda: page.results.count() == 1, timeout=5_000)
    page.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: "Access groups: everyone" in page.access_summary.text(), timeout=5_000)
    assert "No validity limit" in page.access_summary.text()
    page.tabs.setCurrentIndex(1)
    editor = page.access
    qtbot.waitUntil(lambda: "staff" in editor.group_boxes, timeout=5_000)
    assert editor.ticked() == {"everyone"}
    assert editor.isEnabled()

    editor.group_boxes["everyone"].setChecked(False)
    editor.group_boxes["staff"].setChecked(True)
    editor.valid_from_on.setChecked(True)
    editor.valid_from.setDate(QDate(2027, 2, 1))
    editor.valid_until_on.setChecked(True)
    editor.valid_until.setDate(QDate(2027, 1, 31))
    page.save_access.click()
    assert "after valid until" in page.access_message.text()  # checked before the store

    editor.valid_from_on.setChecked(False)
    page.save_access.click()
    qtbot.waitUntil(lambda: page.access_message.text() == "access saved", timeout=5_000)
    qtbot.waitUntil(lambda: "Valid until 2027-01-31" in page.access_summary.text(), timeout=5_000)

    admin = staff[Role.ADMIN]
    assert rules.person_access(grace, actor=admin) == (
        frozenset({"staff"}),
        Validity(None, date(2027, 1, 31)),
    )
    (changed,) = [
        e for e in audit_log.audit_events(20, actor=admin) if e.action == "person.access_changed"
    ]
    assert (changed.actor, changed.target) == ("alice", str(grace))
    assert changed.details["groups_added"] == ["staff"]
    assert changed.details["valid_until"] == "2027-01-31"


@pytest.mark.usefixtures("with_staff_group")
def test_an_enroller_is_refused_on_someone_elses_person(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    grace: uuid.UUID,
    rules: SqlRulesStore,
) -> None:
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "erin", PASSWORDS[Role.ENROLLER])
    page = mode.people_page
    page.search.setText("grace")
    qtbot.waitUntil(lambda: page.results.count() == 1, timeout=5_000)
    page.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: page.access.isEnabled(), timeout=5_000)
    page.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: "staff" in page.access.group_boxes, timeout=5_000)
    page.access.group_boxes["staff"].setChecked(True)
    page.save_access.click()
    qtbot.waitUntil(lambda: page.access_message.text() != "", timeout=5_000)
    message = page.access_message.text()
    assert message == (
        "operator erin may set access only for the people they enrolled; ask an admin"
    )
    assert page.save_access.isEnabled()  # the operator may correct and try again
    assert rules.person_access(grace, actor=staff[Role.ADMIN]) == (
        frozenset({"everyone"}),
        Validity(),
    )


def test_a_refused_decision_shows_which_rule_refused(
    qtbot: QtBot,
    open_window,
    staff: dict[Role, Operator],
    identity_store: SqlIdentityStore,
) -> None:
    identity_store.record_access(
        access_decision(
            kiosk_id=KIOSK,
            outcome=AccessOutcome.REFUSED,
            latency_ms=9.0,
            similarity=0.71,
            refusal=Refusal.OUTSIDE_SCHEDULE,
        )
    )
    identity_store.record_access(
        access_decision(kiosk_id=KIOSK, outcome=AccessOutcome.UNKNOWN, latency_ms=9.0)
    )
    window = open_window(Settings(kiosk_id=KIOSK))
    mode = logged_in(qtbot, window, "otto", PASSWORDS[Role.AUDITOR])
    page = mode.audit_page
    qtbot.waitUntil(lambda: page.access.rowCount() == 2, timeout=5_000)
    newest, oldest = (access_row(page, row) for row in range(2))
    words = REFUSAL_WORDS[Refusal.OUTSIDE_SCHEDULE]
    assert oldest[1:] == [KIOSK, "refused", "0.71", words]
    assert newest[1:] == [KIOSK, "unknown", "", ""]  # no rule refused: nothing more to say

    page.outcome.setCurrentIndex(page.outcome.findData(AccessOutcome.REFUSED.value))
    page.refresh()
    qtbot.waitUntil(lambda: page.access.rowCount() == 1, timeout=5_000)
    assert access_row(page, 0)[-1] == words


def access_row(page, row: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The access table's row: when, door, decision, similarity, why refused."""
    return [page.access.item(row, column).text() for column in range(page.access.columnCount())]


def test_every_refusal_has_words_for_the_operator() -> None:
    assert set(REFUSAL_WORDS) == set(Refusal)
    assert len(set(REFUSAL_WORDS.values())) == len(Refusal)


def test_the_visitor_tick_fills_in_the_last_day_unless_one_is_given(qtbot: QtBot) -> None:
    today = date(2026, 3, 30)
    editor = AccessEditor(visitor_days=2, today=lambda: today)
    qtbot.addWidget(editor)
    assert editor.chosen_groups() is None  # not loaded: the store's default group
    editor.show_groups([AccessGroup("everyone", "always", all_doors=True, default=True)])
    assert editor.chosen_groups() == ("everyone",)

    editor.visitor.setChecked(True)
    assert editor.validity() == Validity(None, date(2026, 3, 31))
    editor.visitor.setChecked(False)
    assert editor.validity() == Validity()  # what the tick filled in, it takes back

    editor.valid_until_on.setChecked(True)
    editor.valid_until.setDate(QDate(2026, 4, 10))
    editor.visitor.setChecked(True)
    assert editor.validity() == Validity(None, date(2026, 4, 10))  # a given day stays
    editor.visitor.setChecked(False)
    assert editor.validity() == Validity(None, date(2026, 4, 10))
