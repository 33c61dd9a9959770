"""The door's PIN keypad on real widgets, offscreen, at the smallest screen a kiosk
has (800x480): big keys that all fit, digits never shown, one PIN per request,
and the PIN handed to the recognition thread as a queued call."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import pytest
from PySide6.QtCore import QMetaObject, QPoint, QRect, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from core.access.frame_outcome import FrameOutcome, FrameTimings, PinPrompt
from core.people.pins import MAX_PIN_DIGITS
from core.records import AccessDecision, AccessOutcome, access_decision
from kiosk.app import stylesheet
from kiosk.kiosk_screen import GRANTED_TEXT, IDLE_TEXT, PIN_CHECKING_TEXT, PIN_TEXT, KioskScreen
from kiosk.latest_frame import LatestFrame
from kiosk.pin_pad import MIN_KEY_PX, PinPad
from kiosk.recognition import RecognitionThread, RecognitionWorker
from tests.test_door_pin import PIN, make_pin_door
from tests.test_door_policy import FRAME, YAO, face

SCREEN_SIZE = (800, 480)


@pytest.fixture
def screen(qtbot: QtBot) -> KioskScreen:
    shown = KioskScreen()
    shown.setStyleSheet(stylesheet())
    qtbot.addWidget(shown)
    shown.resize(*SCREEN_SIZE)
    shown.show()
    qtbot.waitExposed(shown)
    return shown


def asked(request: int, seconds: float = 20.0) -> FrameOutcome:
    return FrameOutcome(
        faces=(), tracked=None, timings=FrameTimings(), pin=PinPrompt(request, seconds)
    )


def granted() -> AccessDecision:
    return access_decision(
        kiosk_id="door-1", outcome=AccessOutcome.GRANTED, latency_ms=900.0, match=YAO
    )


def on_screen(widget: QWidget, screen: KioskScreen) -> QRect:
    return QRect(widget.mapTo(screen, QPoint(0, 0)), widget.size())


def type_digits(qtbot: QtBot, pad: PinPad, digits: str) -> None:
    for digit in digits:
        qtbot.mouseClick(pad.digit_buttons[int(digit)], Qt.MouseButton.LeftButton)


def test_every_key_is_big_and_fits_beside_the_camera_picture_at_800x480(
    qtbot: QtBot, screen: KioskScreen
) -> None:
    pad = screen.pin_pad
    assert pad.isHidden()
    screen.show_outcome(asked(1))
    qtbot.waitUntil(lambda: pad.isVisible() and pad.ok_button.height() > 0)
    whole = screen.rect()
    assert (whole.width(), whole.height()) == SCREEN_SIZE
    keys = [*pad.digit_buttons, pad.clear_button, pad.ok_button]
    places = [on_screen(key, screen) for key in keys]
    for key, place in zip(keys, places, strict=True):
        assert whole.contains(place), f"key {key.text()} at {place} is off the screen"
        assert place.width() >= MIN_KEY_PX, key.text()
        assert place.height() >= MIN_KEY_PX, key.text()
        assert key.isVisible()
    for a, b in itertools.combinations(places, 2):
        assert not a.intersects(b), f"keys at {a} and {b} overlap"
    for shown in (pad.prompt, pad.display, screen.banner, screen.status):
        assert whole.contains(on_screen(shown, screen)), shown.objectName()
    # The camera picture stays beside the keypad, the bigger of the two.
    assert screen.preview.width() > pad.width()
    assert screen.preview.height() > 0
    assert screen.banner.text() == PIN_TEXT


def test_the_pin_typed_goes_out_once_with_its_request_and_is_never_shown(
    qtbot: QtBot, screen: KioskScreen
) -> None:
    pad = screen.pin_pad
    screen.show_outcome(asked(7))
    type_digits(qtbot, pad, "123")
    assert pad.display.text() == "\u25cf" * 3
    assert not pad.ok_button.isEnabled()  # four digits at least
    qtbot.mouseClick(pad.clear_button, Qt.MouseButton.LeftButton)
    assert pad.typed == 0
    assert pad.display.text() == ""
    type_digits(qtbot, pad, "2468")
    assert pad.ok_button.isEnabled()
    with qtbot.waitSignal(
        screen.pin_entered, check_params_cb=lambda request, pin: (request, pin) == (7, "2468")
    ):
        qtbot.mouseClick(pad.ok_button, Qt.MouseButton.LeftButton)
    assert screen.banner.text() == PIN_CHECKING_TEXT
    assert not any(key.isEnabled() for key in pad.digit_buttons)  # no second PIN meanwhile
    assert "2468" not in pad.display.text() + pad.prompt.text() + screen.banner.text()
    screen.show_outcome(asked(7))  # frames go on asking until the door decides
    assert not pad.digit_buttons[1].isEnabled()
    screen.show_decision(granted())
    assert pad.isHidden()
    assert screen.banner.text() == f"Yao Ming\n{GRANTED_TEXT}"


def test_at_most_eight_digits_are_taken(qtbot: QtBot, screen: KioskScreen) -> None:
    screen.show_outcome(asked(1))
    type_digits(qtbot, screen.pin_pad, "1234567890")
    assert screen.pin_pad.typed == MAX_PIN_DIGITS


def test_each_request_starts_empty_and_a_repeated_one_keeps_the_digits(
    qtbot: QtBot, screen: KioskScreen
) -> None:
    pad = screen.pin_pad
    screen.show_outcome(asked(1))
    type_digits(qtbot, pad, "12")
    screen.show_outcome(asked(1, 15.0))
    assert pad.typed == 2
    screen.show_outcome(asked(2))  # another person is asked now
    assert pad.typed == 0


def test_the_keypad_gives_up_when_its_time_is_up(qtbot: QtBot, screen: KioskScreen) -> None:
    pad = screen.pin_pad
    with qtbot.waitSignal(pad.expired, timeout=5000):
        screen.show_outcome(asked(3, 0.5))
        type_digits(qtbot, pad, "12")
    assert pad.isHidden()
    assert pad.typed == 0
    assert screen.banner.text() == IDLE_TEXT
    screen.show_outcome(asked(3, 0.5))  # the door's late frames do not bring it back
    assert pad.isHidden()


def test_a_duress_grant_shows_exactly_what_a_grant_shows(screen: KioskScreen) -> None:
    screen.show_decision(granted())
    shown = (screen.banner.text(), screen.banner.property("state"))
    screen.show_idle()
    screen.show_decision(replace(granted(), duress=True))
    assert (screen.banner.text(), screen.banner.property("state")) == shown


def test_the_pin_is_checked_on_the_recognition_thread_and_the_grant_shown(
    qtbot: QtBot, screen: KioskScreen
) -> None:
    door = make_pin_door([(face(),)] * 3)
    checked_on: list[threading.Thread] = []

    class Where:
        def consume(self, decision: AccessDecision) -> None:
            checked_on.append(threading.current_thread())

    door.recognizer._consumers = (Where(),)
    latest = LatestFrame()
    worker = RecognitionWorker(door.recognizer, latest)
    thread = RecognitionThread(worker)
    worker.outcome_ready.connect(screen.show_outcome)
    worker.pin_ignored.connect(screen.end_pin)
    screen.pin_entered.connect(worker.submit_pin)
    thread.start()
    try:
        for _ in range(3):
            latest.put(FRAME)
            with qtbot.waitSignal(worker.frame_done):
                thread_call(worker)
        qtbot.waitUntil(screen.pin_pad.isVisible)
        type_digits(qtbot, screen.pin_pad, PIN)
        qtbot.mouseClick(screen.pin_pad.ok_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: GRANTED_TEXT in screen.banner.text(), timeout=10_000)
    finally:
        thread.stop()
    assert screen.pin_pad.isHidden()
    assert len(checked_on) == 1
    assert checked_on[0] is not threading.main_thread()
    assert door.identifier.recorded[0].person_id == YAO.person_id


def test_a_pin_the_door_no_longer_waits_for_closes_the_keypad(
    qtbot: QtBot, screen: KioskScreen
) -> None:
    door = make_pin_door([])
    worker = RecognitionWorker(door.recognizer, LatestFrame())
    worker.pin_ignored.connect(screen.end_pin)
    screen.show_outcome(asked(42))
    type_digits(qtbot, screen.pin_pad, "2468")
    screen.pin_entered.connect(worker.submit_pin)  # direct: the worker is on this thread here
    with qtbot.waitSignal(worker.pin_ignored):
        qtbot.mouseClick(screen.pin_pad.ok_button, Qt.MouseButton.LeftButton)
    assert screen.pin_pad.isHidden()
    assert screen.banner.text() == IDLE_TEXT
    assert door.store.reserved == []


def thread_call(worker: RecognitionWorker) -> None:
    """``process_latest`` run on the worker's thread, as the camera's signal runs it."""
    QMetaObject.invokeMethod(worker, "process_latest", Qt.ConnectionType.QueuedConnection)
