"""An unattended login screen goes back to the door, and the door recognises again:
the real kiosk window, offscreen, with its store and models."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from core.settings import SecuritySettings, Settings
from tests.operator_window import ADMIN_PASSWORD, STARTUP_MS

IDLE_S = 5.0  # the setting's least


def quick_to_leave() -> Settings:
    return Settings(security=SecuritySettings(login_screen_idle_s=IDLE_S))


def door_frames(window) -> int:  # type: ignore[no-untyped-def]
    recognition = window.controller.recognition
    assert recognition is not None
    return recognition.worker.frames_processed


@pytest.mark.usefixtures("staff")
def test_a_login_screen_left_open_goes_back_to_the_door_and_the_door_recognises_again(
    qtbot: QtBot, open_window
) -> None:
    window = open_window(quick_to_leave())
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=STARTUP_MS)
    qtbot.waitUntil(lambda: door_frames(window) > 0, timeout=STARTUP_MS)
    window.controller.request_login()
    assert window.stack.currentWidget() is mode.login
    qtbot.keyClicks(mode.login.username, "ali")  # then walked away
    qtbot.wait(1000)  # a frame under way when the screen opened has ended
    paused_at = door_frames(window)
    qtbot.wait(2000)
    assert door_frames(window) == paused_at  # the door waits while the screen is up
    assert window.stack.currentWidget() is mode.login
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=4 * IDLE_S * 1000)
    qtbot.waitUntil(lambda: door_frames(window) > paused_at, timeout=10_000)
    assert mode.login.username.text() == ""  # nothing typed waits for the next person


@pytest.mark.usefixtures("staff")
def test_typing_keeps_the_login_screen_and_a_refusal_counts_again(
    qtbot: QtBot, open_window
) -> None:
    window = open_window(quick_to_leave())
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=STARTUP_MS)
    window.controller.request_login()
    for letter in "alice-typing-slowly":  # a key each 0.5 s: longer than IDLE_S in all
        qtbot.keyClicks(mode.login.username, letter)
        qtbot.wait(500)
        assert window.stack.currentWidget() is mode.login
    mode.login.username.setText("alice")
    qtbot.keyClicks(mode.login.password, "wrong-password-here")
    mode.login.log_in.click()
    qtbot.waitUntil(lambda: mode.login.error.text() != "", timeout=10_000)
    assert window.stack.currentWidget() is mode.login
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=4 * IDLE_S * 1000)


@pytest.mark.usefixtures("staff")
def test_a_signed_in_operator_is_not_sent_back_by_the_login_timer(
    qtbot: QtBot, open_window
) -> None:
    window = open_window(quick_to_leave())
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=STARTUP_MS)
    window.controller.request_login()
    mode.login.username.setText("alice")
    mode.login.password.setText(ADMIN_PASSWORD)
    mode.login.log_in.click()
    qtbot.waitUntil(lambda: mode.admin is not None, timeout=10_000)
    qtbot.wait(int(IDLE_S * 1000) + 1000)  # past the login screen's limit, within the session's
    assert window.stack.currentWidget() is mode.admin


def test_the_first_run_screen_left_open_goes_back_to_the_door_and_comes_back_on_request(
    qtbot: QtBot, open_window
) -> None:
    window = open_window(quick_to_leave())
    mode = window.controller.operator_mode
    qtbot.waitUntil(lambda: window.stack.currentWidget() is mode.first_run, timeout=STARTUP_MS)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=4 * IDLE_S * 1000)
    window.controller.request_login()
    assert window.stack.currentWidget() is mode.first_run  # still no operator to log in
