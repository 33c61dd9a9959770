"""The operator screens for ``python -m kiosk.screenshots``: each one, in the kiosk
window as the kiosk builds it (kiosk.operator_desk), at every size of SCREEN_SIZES."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QApplication, QTableWidget, QWidget

from core.access.door_commands import DoorReport
from core.accounts.operators import Authenticator, OperatorService
from core.enrollment.capture import EnrollmentCapture
from core.errors import AuthenticationFailed
from core.faces import BGRImage
from core.people.people import PeopleService
from core.records import Operator, Role
from core.rules.model import (
    AccessGroup,
    AntiPassbackArea,
    Door,
    DoorMode,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Validity,
    Weekday,
)
from core.settings import EnrollmentSettings, Settings
from core.vision.engine import FaceEngine
from kiosk.camera import to_qimage
from kiosk.operator_desk import OperatorDesk
from storage.door_commands import SqlDoorCommands
from storage.kiosk_registry import register_kiosk
from storage.store import OpenStore

SCREEN_SIZES = ((800, 480), (1920, 1080))
"""The smallest screen the kiosk supports and a common large one."""
PASSWORD = "tall-ladder-orange-77"
DOOR_STATE = "door locked · door controller online (OSDP)"
"""What the header shows of the door hardware and the OSDP controller link."""


class Drawing(Protocol):
    def save(self, widget: QWidget, name: str) -> None: ...

    def published(self, frame: BGRImage) -> BGRImage: ...


class OperatorShots:
    """Logs in as the operators of a small site and draws each of their screens."""

    def __init__(
        self,
        store: OpenStore,
        engine: FaceEngine,
        settings: Settings,
        folder: Path,
        drawing: Drawing,
    ) -> None:
        self._store = store
        self._engine = engine
        self._settings = settings
        self._folder = folder
        self._drawing = drawing
        self._staff = OperatorService(store.operators, settings.security)

    @contextmanager
    def desk(self) -> Iterator[OperatorDesk]:
        desk = OperatorDesk(self._store, self._engine, self._settings, self._folder)
        desk.window.show()
        try:
            desk.mode.show_door_state(DOOR_STATE)
            yield desk
        finally:
            desk.close()

    def first_admin(self) -> Operator:
        """The site's first admin, as the first run makes it."""
        return Authenticator(
            self._store.operators, self._settings.security, self._settings.kiosk_id
        ).create_first_admin("alice", PASSWORD)

    def before_anyone_is_enrolled(self, desk: OperatorDesk, admin: Operator) -> None:
        """The login refusing a locked-out operator; People with nobody enrolled."""
        self._staff.add(admin, "bob", Role.ENROLLER, PASSWORD)
        self._login_locked(desk, "bob")
        desk.log_in("alice", PASSWORD)
        self.shoot(desk, "people-empty")
        desk.log_out()

    def on_a_site(self, desk: OperatorDesk, admin: Operator, person: BGRImage) -> None:
        """Every screen of a site with people enrolled, staff, rules and doors;
        ``person``: the face the enrollment captures."""
        self._staff.add(admin, "erin", Role.ENROLLER, PASSWORD)
        self._staff.add(admin, "otto", Role.AUDITOR, PASSWORD)
        self._site(admin)
        desk.log_in("alice", PASSWORD)
        self._people(desk)
        self._wizard(desk, person)
        self._admin_pages(desk)
        self._access_rules(desk)

    def shoot(self, desk: OperatorDesk, name: str) -> None:
        """The kiosk window as it is now, at each of SCREEN_SIZES; raises if the
        window cannot be that size (its screens would not fit such a screen)."""
        for width, height in SCREEN_SIZES:
            desk.window.resize(width, height)
            QApplication.processEvents()
            size = desk.window.size()
            if (size.width(), size.height()) != (width, height):
                raise RuntimeError(
                    f"{name}: the window is {size.width()}x{size.height()}, "
                    f"not {width}x{height}: a screen that size cannot show it"
                )
            self._drawing.save(desk.window, f"{name}-{width}x{height}")

    # --- the screens --------------------------------------------------------------------

    def _login_locked(self, desk: OperatorDesk, username: str) -> None:
        """The login screen after too many failed logins (``username`` is locked out)."""
        authenticator = Authenticator(
            self._store.operators, self._settings.security, self._settings.kiosk_id
        )
        message = ""
        for _ in range(self._settings.security.login_max_failures):
            try:
                authenticator.authenticate(username, "a wrong password")
            except AuthenticationFailed as error:
                message = str(error)
        desk.wait_for(lambda: desk.stack.currentWidget() is desk.door, "the door screen")
        desk.mode.request_login()
        desk.mode.login.username.setText(username)
        desk.mode.login.show_error(message)
        self.shoot(desk, "login-locked")
        desk.mode.login.cancel.click()

    def _site(self, admin: Operator) -> None:
        """A site's rules as a rules file would give them, and its doors' last reports."""
        rules = self._store.rules
        current = rules.rule_set(actor=admin)
        office = Schedule("office", dict.fromkeys(list(Weekday)[:5], (TimeRange(480, 1080),)))
        evenings = Schedule("evenings", dict.fromkeys(list(Weekday)[:6], (TimeRange(1080, 1320),)))
        kiosk = self._settings.kiosk_id
        bavaria = HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 31)}))
        site = replace(
            current,
            doors=(
                Door(kiosk, "Front door", "Europe/Berlin", bavaria.name),
                Door("lab-2", "Lab 2", "Europe/Berlin", bavaria.name, DoorMode.FACE_AND_PIN),
            ),
            schedules=(*current.schedules, office, evenings),
            calendars=(bavaria,),
            groups=(
                *current.groups,
                AccessGroup("staff", "office", frozenset({kiosk, "lab-2"})),
                AccessGroup("cleaners", "evenings", frozenset({kiosk})),
            ),
            areas=(AntiPassbackArea("lab", frozenset({"lab-2"}), frozenset({kiosk})),),
        )
        rules.apply_rule_set(site, actor=admin, dry_run=False)
        people = PeopleService(self._store.identity, self._settings.security)
        yao = next(p for p in people.find(admin, None, 10) if p.display_name == "Yao Ming")
        # As a contractor: staff until the end of next month.
        until = (date.today().replace(day=1) + timedelta(days=62)).replace(day=1)
        rules.set_person_access(
            yao.id,
            actor=admin,
            groups=frozenset({"staff"}),
            validity=Validity(None, until - timedelta(days=1)),
        )
        doors = SqlDoorCommands(self._store.engine)
        for door_id, lockdown in ((kiosk, False), ("lab-2", True)):
            register_kiosk(self._store.engine, door_id, door_id, "screenshots")
            doors.report(
                DoorReport(
                    kiosk_id=door_id,
                    adapter="simulated",
                    unlocked=False,
                    door_open=False,
                    lockdown=lockdown,
                    alarms=(),
                    fault=None,
                )
            )

    def _people(self, desk: OperatorDesk) -> None:
        desk.admin.open_page("People")
        page = desk.mode.people_page
        desk.settle()
        page.results.setCurrentRow(_row(page.results, "Yao Ming"))
        desk.settle()
        self.shoot(desk, "people")
        for index, name in enumerate(("people-access", "people-pin"), start=1):
            page.tabs.setCurrentIndex(index)
            self.shoot(desk, name)
        page.tabs.setCurrentIndex(0)
        page.delete_button.click()
        page.confirm_sheet.typed.setText("Yao")
        self.shoot(desk, "people-delete")
        page.confirm_sheet.dismiss()

    def _wizard(self, desk: OperatorDesk, person: BGRImage) -> None:
        desk.admin.open_page("Enroll")
        wizard = desk.mode.enrollment_wizard
        wizard.name.setText("Grace Example")
        wizard.badge.setText("B-0107")
        wizard.person_agrees.setChecked(True)
        wizard.operator_confirms.setChecked(True)
        self.shoot(desk, "enroll-1-consent")
        capture = EnrollmentCapture(self._engine, EnrollmentSettings(min_interval_s=0), 0.4)
        wizard.start_capture.click()
        progress = capture.offer(person)
        shown = to_qimage(self._drawing.published(person))
        wizard.show_progress(progress, shown)
        self.shoot(desk, "enroll-2-capture")
        while not progress.done:
            progress = capture.offer(person)
        captured = capture.captured
        frames = tuple(self._drawing.published(frame) for frame in captured.frames)
        wizard.show_captured(type(captured)(frames, captured.faces))
        wizard.access.visitor.setChecked(True)
        self.shoot(desk, "enroll-3-review")
        wizard.reset()

    def _admin_pages(self, desk: OperatorDesk) -> None:
        desk.admin.open_page("Operators")
        desk.mode.operators_page.refresh()
        desk.settle()
        desk.mode.operators_page.select("erin")
        self.shoot(desk, "operators")
        desk.admin.open_page("Audit")
        desk.mode.audit_page.refresh()
        desk.settle()
        self.shoot(desk, "audit")
        desk.admin.open_page("Settings")
        self.shoot(desk, "settings")
        desk.admin.open_page("Door")
        desk.mode.door_page.refresh()
        desk.settle()
        self.shoot(desk, "door")

    def _access_rules(self, desk: OperatorDesk) -> None:
        """The Access rules page's tabs as an admin sees them: a row chosen in each,
        its form below (nothing is sent from here)."""
        desk.admin.open_page("Access rules")
        page = desk.mode.rules_page
        page.refresh()
        desk.settle()
        if page.doors is None:
            raise RuntimeError("the admin's Access rules page has no Doors tab")
        page.doors.select(self._settings.kiosk_id)
        self.shoot(desk, "rules-doors")
        chosen = (
            ("groups", page.groups, "staff"),
            ("schedules", page.schedules, "office"),
            ("holidays", page.calendars, "bavaria"),
            ("areas", page.areas, "lab"),
        )
        for index, (tab, table, name) in enumerate(chosen, start=1):
            page.tabs.setCurrentIndex(index)
            table.selectRow(_row(table, name))
            self.shoot(desk, f"rules-{tab}")


def _row(table: QTableWidget, name: str) -> int:
    """The row whose first cell names ``name`` (a default group's says so after it)."""
    cells = (table.item(row, 0) for row in range(table.rowCount()))
    names = [cell.text().split(" (")[0] if cell is not None else "" for cell in cells]
    return names.index(name)
