"""The operator side of the kiosk: first run, login, the admin screens, logging out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QStackedWidget, QWidget

from core.audit import AuditService
from core.operators import Authenticator
from core.people import PeopleService
from core.permissions import ROLE_PERMISSIONS, Permission
from core.records import Operator
from core.sessions import OperatorSession
from core.settings import Settings
from kiosk.admin_screen import AdminScreen
from kiosk.audit_page import AuditPage
from kiosk.forms import FirstRunScreen, LoginScreen
from kiosk.kiosk_screen import KioskScreen
from kiosk.people_page import SEARCH_LIMIT, PeoplePage
from kiosk.startup import Services
from kiosk.tasks import TaskRunner

log = logging.getLogger(__name__)
_SESSION_CHECK_MS = 1000


class OperatorMode(QObject):
    """Switches the window between the door and the operator's screens.

    Every store call goes through the TaskRunner, so the GUI thread stays free;
    every permission is checked again by the core services it calls.
    """

    people_page: PeoplePage
    audit_page: AuditPage

    def __init__(
        self,
        stack: QStackedWidget,
        door_screen: KioskScreen,
        services: Services,
        settings: Settings,
        set_door_active: Callable[[bool], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._stack = stack
        self._door = door_screen
        self._store = services.store
        self._settings = settings
        self._set_door_active = set_door_active
        self._clock = clock
        self.tasks = TaskRunner(default_failure=self._show_failure)
        self._authenticator = Authenticator(
            services.store.operators, settings.security, settings.kiosk_id
        )
        self._people = PeopleService(services.store.identity, settings.security)
        self._audit = AuditService(services.store.audit)
        self.first_run = FirstRunScreen()
        self.login = LoginScreen()
        self.admin: AdminScreen | None = None
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
        self.tasks.run(
            lambda: len(self._store.operators.operators()),
            success=lambda count: self.show_door() if count else self._show(self.first_run),
        )

    def request_login(self) -> None:
        if self._stack.currentWidget() is self._door:
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
        self.show_door()
        if reason:
            self._door.show_status(reason)

    def shutdown(self) -> None:
        self._session_check.stop()
        self.tasks.shutdown()

    def _show(self, widget: QWidget) -> None:
        self._stack.setCurrentWidget(widget)
        self._set_door_active(widget is self._door)

    # --- first run and login ------------------------------------------------------------

    @Slot(str, str)
    def _create_first_admin(self, username: str, password: str) -> None:
        self.tasks.run(
            lambda: self._authenticator.create_first_admin(username, password),
            success=lambda _operator: self.show_door(),
            failure=self.first_run.show_error,
        )

    @Slot(str, str)
    def _log_in(self, username: str, password: str) -> None:
        self.tasks.run(
            lambda: self._authenticator.authenticate(username, password),
            success=self._logged_in,
            failure=self.login.show_error,
        )

    def _logged_in(self, operator: Operator) -> None:
        self.session = OperatorSession(
            operator, self._settings.security.session_idle_s, self._clock
        )
        self.admin = AdminScreen(operator, self._pages(operator))
        self.admin.logout_requested.connect(self.log_out)
        self._stack.addWidget(self.admin)
        self._show(self.admin)
        self._session_check.start()

    def _pages(self, operator: Operator) -> list[tuple[str, QWidget]]:
        allowed = ROLE_PERMISSIONS[operator.role]
        pages: list[tuple[str, QWidget]] = []
        if Permission.VIEW_PEOPLE in allowed:
            self.people_page = PeoplePage(
                self._find_people,
                self._show_person,
                self._delete_person if Permission.DELETE_PEOPLE in allowed else None,
            )
            pages.append(("People", self.people_page))
            self.people_page.refresh()
        if Permission.READ_AUDIT in allowed:
            self.audit_page = AuditPage(self._load_audit, self._load_access, self._verify_audit)
            pages.append(("Audit", self.audit_page))
            self.audit_page.refresh()
        return pages

    # --- what the pages ask for ---------------------------------------------------------

    def _as_operator(self, work: Callable[[Operator], Any], success: Callable[[Any], None]) -> None:
        """Run ``work`` for the logged-in operator; an expired session logs out instead.

        Each request is the operator's activity: it renews the session. (An app-wide
        Qt event filter would see every key press, but a Python eventFilter returning
        a bool corrupts the refcount of False in PySide6 on Python 3.11.)"""
        if self.session is None or not self.session.active:
            self.log_out("the operator session ended")
            return
        operator = self.session.operator()
        self.tasks.run(lambda: work(operator), success=success)

    def _find_people(self, search: str) -> None:
        self._as_operator(
            lambda op: self._people.find(op, search.strip() or None, SEARCH_LIMIT),
            self.people_page.show_people,
        )

    def _show_person(self, person_id: uuid.UUID) -> None:
        self._as_operator(lambda op: self._people.show(op, person_id), self.people_page.show_person)

    def _delete_person(self, person_id: uuid.UUID) -> None:
        def deleted(_: object) -> None:
            if self.admin is not None:
                self.admin.show_message("deleted; every template removed")
            self.people_page.refresh()

        self._as_operator(lambda op: self._people.delete(op, person_id), deleted)

    def _load_audit(self) -> None:
        self._as_operator(lambda op: self._audit.events(op, 200), self.audit_page.show_audit)

    def _load_access(self) -> None:
        self._as_operator(
            lambda op: self._audit.access_events(op, 200), self.audit_page.show_access
        )

    def _verify_audit(self) -> None:
        self._as_operator(self._audit.verify, self.audit_page.show_chain)

    # --- inactivity ---------------------------------------------------------------------

    def _check_session(self) -> None:
        if self.session is not None and not self.session.active:
            self.log_out("the operator session ended after inactivity")

    def _show_failure(self, message: str) -> None:
        if self.admin is not None:
            self.admin.show_message(message)
        else:
            self._door.show_status(message)
        log.warning("operator action failed: %s", message)
