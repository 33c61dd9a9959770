"""The operator's side of a kiosk window as the kiosk builds it, on a store and the
models, without a camera or a door: for the screenshots (kiosk.screenshots)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget

from core.settings import Settings
from core.vision.engine import FaceEngine
from kiosk.admin_screen import AdminScreen
from kiosk.enrollment_worker import EnrollmentWorker
from kiosk.kiosk_screen import KioskScreen
from kiosk.latest_frame import LatestFrame
from kiosk.operator_mode import OperatorMode
from kiosk.startup import Services
from storage.event_log import ResilientEventLog
from storage.spool import EventSpool
from storage.store import OpenStore

WAIT_S = 30.0
"""How long a login or a page's data may take before the desk gives up."""
_WAKE_MS = 20


class OperatorDesk:
    """A kiosk window's stack (the door screen, the login, the admin screens) driven
    by the kiosk's own OperatorMode: every page shows what the store holds."""

    def __init__(
        self, store: OpenStore, engine: FaceEngine, settings: Settings, folder: Path
    ) -> None:
        """``folder``: a private folder for the door's event spool (never written here)."""
        self.window = QMainWindow()
        self.window.setWindowTitle("Door kiosk")
        stack = QStackedWidget()
        self.door = KioskScreen()
        stack.addWidget(self.door)
        self.window.setCentralWidget(stack)
        self.stack = stack
        self._events = ResilientEventLog(
            store.engine, EventSpool(folder / "spool" / "events.jsonl", settings.spool), "shots"
        )
        self.enrollment = EnrollmentWorker(engine, settings, LatestFrame())
        services = Services(store=store, engine=engine, settings=settings, events=self._events)
        self.mode = OperatorMode(
            stack, self.door, services, lambda _active: None, self.enrollment, {}
        )
        self.mode.begin()
        self.wait_for(
            lambda: stack.currentWidget() in (self.door, self.mode.first_run), "the first screen"
        )

    @property
    def admin(self) -> AdminScreen:
        if self.mode.admin is None:
            raise RuntimeError("nobody is logged in at the operator desk")
        return self.mode.admin

    def log_in(self, username: str, password: str) -> AdminScreen:
        self.wait_for(lambda: self.stack.currentWidget() is self.door, "the door screen")
        self.mode.request_login()
        self.mode.login.username.setText(username)
        self.mode.login.password.setText(password)
        self.mode.login.log_in.click()
        self.wait_for(lambda: self.mode.admin is not None, f"{username}'s login")
        self.settle()
        return self.admin

    def log_out(self) -> None:
        self.mode.log_out()
        self.settle()

    def settle(self) -> None:
        """Until every request the pages made has been answered and shown (twice:
        an answer may ask again)."""
        for _ in range(2):
            self._answered()

    def _answered(self) -> None:
        """Until a request made now is answered: the single store thread answers in order."""
        answered: list[bool] = []
        self.mode.tasks.run(lambda: None, success=lambda _: answered.append(True))
        self.wait_for(lambda: bool(answered), "the store's answers")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        wake = QTimer()  # the loop below sleeps until an event: this is one, now and then
        wake.start(_WAKE_MS)
        try:
            while not condition():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"waited {WAIT_S:g} s for {what}")
                QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        finally:
            wake.stop()
        QApplication.processEvents()

    def close(self) -> None:
        self.mode.shutdown()
        self.enrollment.stop_capture()
        self._events.close()
        self.window.close()
