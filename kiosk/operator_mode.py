"""The operator side of the kiosk: first run, login, the admin screens, logging out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QStackedWidget, QWidget

from core.access.door_commands import DoorCommandService
from core.accounts.operators import Authenticator, OperatorService
from core.accounts.permissions import ROLE_PERMISSIONS, Permission
from core.accounts.sessions import OperatorSession
from core.administration.audit import AuditService
from core.administration.shared_settings import SettingsService
from core.door_io_settings import DoorAdapter
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentResult, EnrollmentService
from core.errors import AlreadyEnrolled
from core.people.people import PeopleService
from core.people.pins import PinService
from core.records import Operator
from core.settings import Settings
from kiosk.access_screens import AccessScreens
from kiosk.add_photos import attach_add_photos, photo_addition
from kiosk.admin_screen import AdminScreen
from kiosk.audit_page import AuditPage
from kiosk.door_page import DoorPage
from kiosk.enrollment_wizard import EnrollmentRequest, EnrollmentWizard, captured_face_refusal
from kiosk.enrollment_worker import EnrollmentWorker
from kiosk.forms import FirstRunScreen, LoginScreen
from kiosk.kiosk_screen import KioskScreen
from kiosk.login_idle import LoginIdle
from kiosk.operator_actions import OperatorActions
from kiosk.operators_page import OperatorsPage
from kiosk.people_page import SEARCH_LIMIT, PeoplePage
from kiosk.rules_page import AccessRulesPage
from kiosk.settings_page import SettingsPage
from kiosk.startup import Services
from kiosk.tasks import TaskRunner
from storage.door_commands import SqlDoorCommands
from storage.pin_store import SqlPinStore

log = logging.getLogger(__name__)

# An operator's action that failed after they left: its message may name a person or
# the database's address, so the door screen only says where to look.
LATE_FAILURE_TEXT = "an operator's action did not complete: details in the kiosk's log"
_SESSION_CHECK_MS = 1000
_PAGES = (
    "people_page",
    "enrollment_wizard",
    "operators_page",
    "audit_page",
    "settings_page",
    "door_page",
    "rules_page",
)


class OperatorMode(QObject):
    """Switches the window between the door and the operator's screens.

    Every store call goes through the TaskRunner, so the GUI thread stays free;
    every permission is checked again by the core services it calls.
    """

    settings_changed = Signal(object)  # Settings, saved on the Settings screen

    people_page: PeoplePage
    enrollment_wizard: EnrollmentWizard
    operators_page: OperatorsPage
    audit_page: AuditPage
    settings_page: SettingsPage
    door_page: DoorPage
    rules_page: AccessRulesPage

    def __init__(
        self,
        stack: QStackedWidget,
        door_screen: KioskScreen,
        services: Services,
        set_door_active: Callable[[bool], None],
        enrollment: EnrollmentWorker,
        pinned: Mapping[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._stack = stack
        self._door = door_screen
        self._store = services.store
        self._engine = services.engine
        self._base_settings = services.settings
        self._pinned = pinned
        self._set_door_active = set_door_active
        self._enrollment = enrollment
        self._clock = clock
        self.tasks = TaskRunner(default_failure=self._show_failure)
        self.actions = OperatorActions(self.tasks, lambda: self.session, self.log_out)
        self._login_idle = LoginIdle(services.settings.security.login_screen_idle_s, self)
        self._login_idle.timed_out.connect(self._login_unattended)
        self._first_run = False
        """No operator exists yet: a login request shows the first-run screen."""
        self.use_settings(services.settings)
        self._people = PeopleService(services.store.identity, services.settings.security)
        self._audit = AuditService(services.store.audit, services.settings.security)
        self.first_run = FirstRunScreen()
        self.login = LoginScreen()
        self.admin: AdminScreen | None = None
        self._access: AccessScreens | None = None
        self.door_state = ""
        """The door hardware's state in words (kiosk.door_hardware), shown to operators."""
        self.alerts = ""
        self.session: OperatorSession | None = None
        for screen in (self.first_run, self.login):
            stack.addWidget(screen)
        self.first_run.create_requested.connect(self._create_first_admin)
        self.login.login_requested.connect(self._log_in)
        self.login.cancelled.connect(self.show_door)
        self._session_check = QTimer(self)
        self._session_check.setInterval(_SESSION_CHECK_MS)
        self._session_check.timeout.connect(self._check_session)

    # --- entering and leaving -----------------------------------------------------------

    def begin(self) -> None:
        """First run if no operator exists yet, else the door."""
        self.tasks.run(self._store.operators.has_operators, success=self._operators_exist)

    def _operators_exist(self, exist: bool) -> None:
        self._first_run = not exist
        if not exist:
            self._show(self.first_run)
        elif self._stack.currentWidget() is not self.login:  # asked for before this answer
            self.show_door()

    def request_login(self) -> None:
        if self._stack.currentWidget() is self._door:
            if self._first_run:
                self._show(self.first_run)
                return
            self.login.reset()
            self._show(self.login)

    @Slot()
    def show_door(self) -> None:
        self._show(self._door)

    @Slot()
    def log_out(self, reason: str = "") -> None:
        self._session_check.stop()
        if self.session is not None:
            self.session.end()
            self.session = None
        if self.admin is not None:
            self._stack.removeWidget(self.admin)
            self.admin.deleteLater()
            self.admin = None
        self._access = None
        for page in _PAGES:  # no stale handle on a page that is being deleted
            self.__dict__.pop(page, None)
        self.show_door()
        if reason:
            self._door.show_status(reason)

    @Slot(str)
    def show_door_state(self, text: str) -> None:
        self.door_state = text
        if self.admin is not None:
            self.admin.show_door_state(text)

    @Slot(str)
    def show_alerts(self, text: str) -> None:
        """The alerts going on (integrations.alerts) in one line; empty when none."""
        self.alerts = text
        if self.admin is not None:
            self.admin.show_alerts(text)

    def shutdown(self) -> None:
        self._session_check.stop()
        self._login_idle.disarm()
        self.tasks.shutdown()

    def _show(self, widget: QWidget) -> None:
        if widget is self._door:
            self._enrollment.stop_capture()  # nothing half-captured outlives the screen
        self._stack.setCurrentWidget(widget)
        self._set_door_active(widget is self._door)
        if widget is self.login or widget is self.first_run:
            self._login_idle.arm()
        else:
            self._login_idle.disarm()

    def _login_unattended(self) -> None:
        screen = self._stack.currentWidget()
        if screen is not self.login and screen is not self.first_run:
            return
        log.info(
            "the %s screen was left unattended: back to the door",
            "login" if screen is self.login else "first-run",
        )
        self.login.reset()  # a half-typed username does not wait for the next person
        self.show_door()

    # --- first run and login ------------------------------------------------------------

    @Slot(str, str)
    def _create_first_admin(self, username: str, password: str) -> None:
        self._login_idle.hold()  # the store is checking, not the person waiting
        self.tasks.run(
            lambda: self._authenticator.create_first_admin(username, password),
            success=self._first_admin_created,
            failure=lambda message: self._refused(self.first_run.show_error, message),
        )

    def _first_admin_created(self, _operator: Operator) -> None:
        self._first_run = False
        self.show_door()

    @Slot(str, str)
    def _log_in(self, username: str, password: str) -> None:
        self._login_idle.hold()
        self.tasks.run(
            lambda: self._authenticator.authenticate(username, password),
            success=self._logged_in,
            failure=lambda message: self._refused(self.login.show_error, message),
        )

    def _refused(self, show: Callable[[str], None], message: str) -> None:
        show(message)
        if self._login_idle.armed:
            self._login_idle.arm()  # counting again from the refusal

    def _logged_in(self, operator: Operator) -> None:
        self.session = OperatorSession(
            operator, self._settings.security.session_idle_s, self._clock
        )
        self.admin = AdminScreen(operator, self._pages(operator))
        self.admin.logout_requested.connect(self.log_out)
        self.admin.show_door_state(self.door_state)
        self.admin.show_alerts(self.alerts)
        self._stack.addWidget(self.admin)
        self._show(self.admin)
        self._session_check.start()

    def _pages(self, operator: Operator) -> list[tuple[str, QWidget]]:
        allowed = ROLE_PERMISSIONS[operator.role]
        pins = PinService(SqlPinStore(self._store.engine), self._settings.security)
        access = self._access = AccessScreens(self.actions, self._store.rules, allowed, pins)
        pages: list[tuple[str, QWidget]] = []
        if Permission.VIEW_PEOPLE in allowed:
            self.people_page = PeoplePage(
                self._find_people,
                self._show_person,
                self._delete_person if Permission.DELETE_PEOPLE in allowed else None,
                access.access_setter(lambda: self.people_page),
                access.pin_changer(lambda: self.people_page),
            )
            access.offer_groups(self.people_page.show_groups)
            if Permission.ENROLL in allowed:
                self.add_photos = attach_add_photos(
                    self.people_page,
                    self.actions,
                    lambda: photo_addition(
                        self._enroller,
                        self._store,
                        self._settings.matching,
                        self._engine.template_model,
                    ),
                    self._settings.images,
                    self._show_person,
                )
            pages.append(("People", self.people_page))
            self.people_page.refresh()
        if Permission.ENROLL in allowed:
            self.enrollment_wizard = EnrollmentWizard(
                current_consent(),
                operator.username,
                visitor_days=self._settings.rules.visitor_valid_days,
                osdp=self._settings.osdp,
            )
            access.offer_groups(self.enrollment_wizard.show_groups)
            self._connect_wizard(self.enrollment_wizard)
            pages.append(("Enroll", self.enrollment_wizard))
            if "people_page" in self.__dict__:
                self.people_page.offer_enrollment(self._open_enrollment)
        if Permission.MANAGE_OPERATORS in allowed:
            self.operators_page = OperatorsPage(
                self.actions, OperatorService(self._store.operators, self._settings.security)
            )
            pages.append(("Operators", self.operators_page))
            self.operators_page.refresh()
        if Permission.READ_AUDIT in allowed:
            self.audit_page = AuditPage(self.actions, self._audit, operator.role)
            pages.append(("Audit", self.audit_page))
            self.audit_page.refresh()
        if Permission.CHANGE_SETTINGS in allowed:
            self.settings_page = SettingsPage(
                self.actions,
                SettingsService(self._store.settings, self._base_settings),
                self._settings,
                self._pinned,
                self._settings_saved,
            )
            pages.append(("Settings", self.settings_page))
        door_io = self._settings.door_io
        if Permission.VIEW_DOORS in allowed and door_io.adapter is not DoorAdapter.NONE:
            self.door_page = DoorPage(
                self.actions,
                DoorCommandService(SqlDoorCommands(self._store.engine), door_io),
                self._settings.kiosk_id,
                may_control=Permission.CONTROL_DOOR in allowed,
                settings=door_io,
            )
            pages.append(("Door", self.door_page))
            self.door_page.refresh()
        rules_page = access.rules_page()
        if rules_page is not None:
            self.rules_page = rules_page
            pages.append(("Access rules", rules_page))
        access.refresh()
        return pages

    # --- what the pages ask for ---------------------------------------------------------

    def _open_enrollment(self) -> None:
        if self.admin is not None:
            self.admin.open_page("Enroll")

    def _find_people(self, search: str) -> None:
        self.actions.run(
            lambda op: self._people.find(op, search.strip() or None, SEARCH_LIMIT),
            self.people_page.show_people,
        )

    def _show_person(self, person_id: uuid.UUID) -> None:
        self.actions.run(lambda op: self._people.show(op, person_id), self.people_page.show_person)
        if self._access is not None:
            self._access.show_person_access(person_id, self.people_page)

    def _delete_person(self, person_id: uuid.UUID) -> None:
        def deleted(_: object) -> None:
            if self.admin is not None:
                self.admin.show_notice("deleted; every template removed")
            self.people_page.refresh()

        self.actions.run(lambda op: self._people.delete(op, person_id), deleted)

    def _connect_wizard(self, wizard: EnrollmentWizard) -> None:
        worker = self._enrollment
        wizard.capture_requested.connect(self._start_capture)
        wizard.capture_cancelled.connect(self._stop_capture)
        wizard.save_requested.connect(self._save_enrollment)
        worker.progress.connect(wizard.show_progress)
        worker.completed.connect(wizard.show_captured)
        worker.failed.connect(wizard.show_error)

    def _start_capture(self) -> None:
        if self.actions.touch():
            self._enrollment.start_capture()

    def _stop_capture(self) -> None:
        self._enrollment.stop_capture()  # at once, not queued behind a frame being judged

    def _save_enrollment(self, request: EnrollmentRequest) -> None:
        wizard = self.enrollment_wizard
        consent = current_consent()

        def enroll(operator: Operator) -> EnrollmentResult:
            images = [(f"capture {i}", frame) for i, frame in enumerate(request.frames, 1)]
            try:
                return self._enroller.enroll(
                    operator,
                    request.display_name,
                    request.external_ref,
                    images,
                    consent,
                    True,
                    groups=request.groups,
                    validity=request.validity,
                )
            except AlreadyEnrolled as refused:
                raise captured_face_refusal(refused) from refused

        def saved(result: EnrollmentResult) -> None:
            wizard.show_saved(result)
            if "people_page" in self.__dict__:
                self.people_page.refresh()

        self.actions.run(enroll, saved, wizard.show_error)

    def _settings_saved(self, settings: Settings) -> None:
        self.use_settings(settings)
        self.settings_changed.emit(settings)

    def use_settings(self, settings: Settings) -> None:
        """New shared settings: the next login and session use them."""
        self._settings = settings
        self._login_idle.set_idle_s(settings.security.login_screen_idle_s)
        self._authenticator = Authenticator(
            self._store.operators, settings.security, settings.kiosk_id
        )
        self._enroller = self._enrollment_service(settings)

    def _enrollment_service(self, settings: Settings) -> EnrollmentService:
        return EnrollmentService(self._engine, self._store.identity, settings.matching)

    # --- inactivity ---------------------------------------------------------------------

    def _check_session(self) -> None:
        if self.session is not None and not self.session.active:
            self.log_out("the operator session ended after inactivity")

    def _show_failure(self, message: str) -> None:
        if self.admin is not None:
            self.admin.show_error(message)
        else:  # the operator left: the public door screen repeats none of it
            self._door.show_status(LATE_FAILURE_TEXT)
        # The message may name a person ("already enrolled as ..."): the log
        # gets it only where the site allows names there.
        log.warning(
            "operator action failed: %s",
            message if self._settings.telemetry.log_person_names else "(message withheld)",
        )
