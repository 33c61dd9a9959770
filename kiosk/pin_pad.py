"""The door's on-screen keypad for a PIN: ten digits, clear and OK, big enough to
touch, and usable on a 800x480 screen beside the camera picture."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.people.pins import MAX_PIN_DIGITS, MIN_PIN_DIGITS

# A key no smaller than this many pixels a side: about 12 mm on a 7-inch 800x480
# panel, above the 9 mm touch targets guidelines ask for, for a gloved finger.
MIN_KEY_PX = 64
PROMPT_TEXT = "Enter your PIN"
CHECKING_TEXT = "Checking..."
_COUNTDOWN_MS = 250
_DOT = "\u25cf"


class PinPad(QWidget):
    """Collects a PIN's digits on the GUI thread and hands the whole PIN over once,
    on OK: the recognition thread never waits on a person typing. Shows a dot per
    digit, never the digits. Gives up by itself when its time is up (the door
    refuses on its own clock; this only stops taking digits)."""

    submitted = Signal(str)
    """The PIN typed, once OK is pressed with enough digits."""
    expired = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("pinPad")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.prompt = _label(PROMPT_TEXT, "pinPrompt")
        self.display = _label("", "pinDisplay")
        self.digit_buttons = [_key(str(digit), "pinDigit") for digit in range(10)]
        self.clear_button = _key("Clear", "pinClear")
        self.ok_button = _key("OK", "pinOk")
        self._digits = QButtonGroup(self)
        keys = QGridLayout()
        keys.setSpacing(8)
        for digit, button in enumerate(self.digit_buttons):
            self._digits.addButton(button, digit)
            # The phone layout: 1 2 3 on top, 0 in the middle of the bottom row.
            row, column = ((digit - 1) // 3, (digit - 1) % 3) if digit else (3, 1)
            keys.addWidget(button, row, column)
        keys.addWidget(self.clear_button, 3, 0)
        keys.addWidget(self.ok_button, 3, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.prompt)
        layout.addWidget(self.display)
        layout.addLayout(keys, stretch=1)
        self._digits.idClicked.connect(self._press)
        self.clear_button.clicked.connect(self._clear)
        self.ok_button.clicked.connect(self._ok)
        self._typed: list[str] = []
        self._deadline = 0.0
        self._countdown = QTimer(self)
        self._countdown.setInterval(_COUNTDOWN_MS)
        self._countdown.timeout.connect(self._tick)
        self.hide()

    @property
    def typed(self) -> int:
        """How many digits are typed so far (the digits themselves stay inside)."""
        return len(self._typed)

    def start(self, seconds: float) -> None:
        """Show the keypad, empty, taking digits for ``seconds``."""
        self._typed.clear()
        self._deadline = time.monotonic() + seconds
        self._set_enabled(True)
        self._countdown.start()
        self._tick()
        self._redraw()
        self.show()

    def stop(self) -> None:
        """Hide the keypad and forget what was typed."""
        self._countdown.stop()
        self._typed.clear()
        self._redraw()
        self.hide()

    @Slot(int)
    def _press(self, digit: int) -> None:
        if len(self._typed) < MAX_PIN_DIGITS:
            self._typed.append(str(digit))
            self._redraw()

    @Slot()
    def _clear(self) -> None:
        self._typed.clear()
        self._redraw()

    @Slot()
    def _ok(self) -> None:
        if len(self._typed) < MIN_PIN_DIGITS:
            return
        pin = "".join(self._typed)
        self._typed.clear()
        self._countdown.stop()
        self._set_enabled(False)  # one PIN per request: no second press while it is checked
        self.prompt.setText(CHECKING_TEXT)
        self.submitted.emit(pin)

    @Slot()
    def _tick(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.stop()
            self.expired.emit()
            return
        self.prompt.setText(f"{PROMPT_TEXT} ({math.ceil(left)} s)")

    def _redraw(self) -> None:
        self.display.setText(_DOT * len(self._typed))
        self.ok_button.setEnabled(len(self._typed) >= MIN_PIN_DIGITS)

    def _set_enabled(self, enabled: bool) -> None:
        for button in self._keys():
            button.setEnabled(enabled)
        if enabled:
            self._redraw()

    def _keys(self) -> list[QAbstractButton]:
        return [*self.digit_buttons, self.clear_button, self.ok_button]


def _key(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)  # the stylesheet's handle
    button.setMinimumSize(MIN_KEY_PX, MIN_KEY_PX)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    # A touch screen has no keyboard focus to show; a focus frame would only distract.
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label
