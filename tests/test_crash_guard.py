"""An exception nobody caught is logged and shown as a closed door, not a dead kiosk."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from pytestqt.qtbot import QtBot

from kiosk.crash_guard import UNEXPECTED_ERROR, CrashGuard
from kiosk.kiosk_screen import FAULT_TEXT, KioskScreen


def test_an_uncaught_error_in_a_thread_is_logged_and_the_door_says_it_stays_closed(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    screen = KioskScreen()
    qtbot.addWidget(screen)
    guard = CrashGuard()
    guard.fault.connect(screen.show_fault)
    guard.install()
    try:
        worker = threading.Thread(target=lambda: 1 / 0)
        with caplog.at_level(logging.CRITICAL), qtbot.waitSignal(guard.fault, timeout=5000):
            worker.start()
            worker.join()
        qtbot.waitUntil(lambda: screen.banner.text() == FAULT_TEXT, timeout=5000)
        assert screen.status.text() == UNEXPECTED_ERROR
        assert guard.caught == 1
        assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)
        # The same for an error that reaches sys.excepthook (a Qt slot's, in PySide6).
        try:
            raise RuntimeError("/var/lib/kiosk/secret path")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        assert guard.caught == 2
        assert "secret" not in screen.status.text()
    finally:
        guard.uninstall()
    assert sys.excepthook != guard._uncaught
