"""Asking before something that cannot be undone, in the operator screens' style."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.icons import icon
from kiosk.widgets import secondary_button, with_icon

_CARD_MAX_PX = 560
_MARGIN_PX = 12
_WARNING_COLOUR = "#b91c1c"


class ConfirmSheet(QWidget):
    """A question laid over the whole operator screen: what is about to happen, what
    it means, optionally a text to type first (a person's name before deleting
    them), Cancel and the action. Escape cancels. Drawn inside the window, not as a
    dialog window: a full-screen kiosk may run without a window manager to stack a
    dialog, and a screenshot of the window shows the question too."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("confirmScrim")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._on_confirm: Callable[[], None] | None = None
        self._expected = ""
        card = self._card = QFrame()
        card.setObjectName("confirmCard")
        card.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Maximum)
        warning = QLabel()
        warning.setPixmap(icon("warning", _WARNING_COLOUR).pixmap(32, 32))
        self.title = QLabel("")
        self.title.setObjectName("confirmTitle")
        self.text = QLabel("")
        self.typed = QLineEdit()
        for label in (self.title, self.text):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)  # a name in it is never markup
        self.cancel = secondary_button("Cancel")
        self.confirm = with_icon(QPushButton(""), "delete")
        self.confirm.setObjectName("danger")
        heading = QHBoxLayout()
        heading.addWidget(warning, alignment=Qt.AlignmentFlag.AlignTop)
        heading.addWidget(self.title, stretch=1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        inside = QVBoxLayout(card)
        inside.setContentsMargins(20, 18, 20, 18)
        inside.setSpacing(12)
        inside.addLayout(heading)
        inside.addWidget(self.text)
        inside.addWidget(self.typed)
        inside.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(_MARGIN_PX, _MARGIN_PX, _MARGIN_PX, _MARGIN_PX)
        layout.addStretch(1)
        layout.addWidget(card, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.cancel.clicked.connect(self.dismiss)
        self.confirm.clicked.connect(self._confirmed)
        self.typed.textChanged.connect(self._update_confirm)
        self.typed.returnPressed.connect(self._confirmed)
        self.hide()

    def ask(
        self,
        over: QWidget,
        title: str,
        text: str,
        action: str,
        on_confirm: Callable[[], None],
        *,
        type_to_confirm: str | None = None,
    ) -> None:
        """Lay the question over the operator screen ``over`` is on; ``on_confirm``
        runs once if the operator taps ``action`` (after typing ``type_to_confirm``,
        when given, as people read it: case and composed accents aside)."""
        self.setParent(_operator_screen(over))
        self._on_confirm = on_confirm
        self._expected = _as_read(type_to_confirm or "")
        self.title.setText(title)
        self.text.setText(text)
        self.confirm.setText(action)
        self.typed.clear()
        self.typed.setVisible(type_to_confirm is not None)
        self.typed.setPlaceholderText(
            f"type {type_to_confirm} to confirm" if type_to_confirm is not None else ""
        )
        self._update_confirm()
        self.cover()
        self.show()
        self.raise_()
        (self.typed if type_to_confirm is not None else self.cancel).setFocus()

    def cover(self) -> None:
        """Fit the screen it is laid over (again after that screen is resized)."""
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
            # A fixed size: the card's wrapped text gets the height its width needs.
            width = min(_CARD_MAX_PX, parent.width() - 2 * _MARGIN_PX)
            self._card.setFixedWidth(width)
            inside = self._card.layout()
            if inside is not None and inside.hasHeightForWidth():
                self._card.setFixedHeight(inside.totalHeightForWidth(width))

    def dismiss(self) -> None:
        self._on_confirm = None
        self.typed.clear()
        self.hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt's name for the override
        if event.key() == Qt.Key.Key_Escape:
            self.dismiss()
            return
        super().keyPressEvent(event)

    def _update_confirm(self) -> None:
        self.confirm.setEnabled(not self._expected or _as_read(self.typed.text()) == self._expected)

    def _confirmed(self) -> None:
        if not self.confirm.isEnabled() or self._on_confirm is None:
            return
        on_confirm = self._on_confirm
        self.dismiss()
        on_confirm()


def _as_read(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _operator_screen(widget: QWidget) -> QWidget:
    """The outermost operator screen ``widget`` is on (its style applies there, and
    the question goes when that screen goes, at log-out); else its window."""
    screen = None
    ancestor: QWidget | None = widget
    while ancestor is not None:
        if ancestor.objectName() == "operatorScreen":
            screen = ancestor
        ancestor = ancestor.parentWidget()
    return screen if screen is not None else widget.window()
