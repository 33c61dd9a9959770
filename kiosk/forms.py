"""The operator's forms: first-run admin creation and login."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kiosk.icons import icon
from kiosk.widgets import (
    INK,
    MessageLabel,
    password_field,
    scroll_page,
    secondary_button,
    title_label,
)

_CARD_MIN_PX = 460
_CARD_MAX_PX = 620
_ICON_PX = 40


class _Form(QWidget):
    """A card in the middle of the screen; it scrolls on a screen too small for it."""

    def __init__(self, title: str, explanation: str) -> None:
        super().__init__()
        self.setObjectName("operatorScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.error = MessageLabel()
        self.fields = QFormLayout()
        self.fields.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        explained = QLabel(explanation)
        explained.setWordWrap(True)
        explained.setObjectName("muted")
        picture = QLabel()
        picture.setPixmap(icon("operators", INK).pixmap(_ICON_PX, _ICON_PX))
        heading = QHBoxLayout()
        heading.addWidget(picture)
        heading.addWidget(title_label(title), stretch=1)
        card = QFrame()
        card.setObjectName("card")
        card.setMinimumWidth(_CARD_MIN_PX)
        card.setMaximumWidth(_CARD_MAX_PX)
        box = QVBoxLayout(card)
        box.setContentsMargins(24, 16, 24, 20)
        box.addLayout(heading)
        box.addWidget(explained)
        box.addLayout(self.fields)
        box.addWidget(self.error)
        box.addLayout(self.buttons)
        middle = QWidget()
        centred = QVBoxLayout(middle)
        # Centred by alignment, not stretches: so the card is as tall as its wrapped
        # text needs at the width it gets (an error message of three lines).
        centred.addWidget(card, alignment=Qt.AlignmentFlag.AlignCenter)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll_page(middle))

    def show_error(self, message: str) -> None:
        self.error.show_error(message)
        self.setEnabled(True)


class FirstRunScreen(_Form):
    """Shown while no operator exists: creates the first admin."""

    create_requested = Signal(str, str)

    def __init__(self) -> None:
        super().__init__(
            "Set up this kiosk",
            "No operator exists yet. Create the first administrator: a password of at "
            "least 12 characters that is not a common one.",
        )
        self.username = QLineEdit()
        self.password = password_field()
        self.confirm = password_field()
        self.fields.addRow("Username", self.username)
        self.fields.addRow("Password", self.password)
        self.fields.addRow("Password again", self.confirm)
        self.create_button = QPushButton("Create administrator")
        self.create_button.setDefault(True)
        self.buttons.addWidget(self.create_button)
        self.create_button.clicked.connect(self._submit)
        self.confirm.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        if self.password.text() != self.confirm.text():
            self.show_error("the two passwords differ; type them again")
            return
        self.error.clear_message()
        self.setEnabled(False)  # until the store answers
        self.create_requested.emit(self.username.text(), self.password.text())


class LoginScreen(_Form):
    login_requested = Signal(str, str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__("Operator login", "Log in to enroll people or administer the kiosk.")
        self.username = QLineEdit()
        self.password = password_field()
        self.fields.addRow("Username", self.username)
        self.fields.addRow("Password", self.password)
        self.log_in = QPushButton("Log in")
        self.log_in.setDefault(True)
        self.cancel = secondary_button("Back to the door")
        self.buttons.addWidget(self.cancel)
        self.buttons.addWidget(self.log_in)
        self.log_in.clicked.connect(self._submit)
        self.password.returnPressed.connect(self._submit)
        self.cancel.clicked.connect(self.cancelled)

    def reset(self) -> None:
        self.username.clear()
        self.password.clear()
        self.error.clear_message()
        self.setEnabled(True)
        self.username.setFocus()

    def _submit(self) -> None:
        self.error.clear_message()
        self.setEnabled(False)  # until the store answers
        password = self.password.text()
        self.password.clear()  # the typed password does not stay in the widget
        self.login_requested.emit(self.username.text(), password)
