"""Small widgets every operator screen builds the same way."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from telemetry.safe_text import for_terminal


def title_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("title")  # the stylesheet's handle
    label.setTextFormat(Qt.TextFormat.PlainText)  # names are shown as typed, never as markup
    return label


def password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


def secondary_button(text: str) -> QPushButton:
    """A way back or out (cancel, retake), drawn quieter than the way forward."""
    button = QPushButton(text)
    button.setObjectName("secondary")
    return button


class MessageLabel(QLabel):
    """One line of feedback: red for an error, green for a notice."""

    def __init__(self) -> None:
        super().__init__("")
        self.setObjectName("message")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # a name in a message is never markup

    def show_error(self, text: str) -> None:
        self._show(text, "error")

    def show_notice(self, text: str) -> None:
        self._show(text, "notice")

    def clear_message(self) -> None:
        self._show("", "")

    def _show(self, text: str, kind: str) -> None:
        # Messages repeat what people typed or named (a person, a file): a control or
        # bidirectional character shows as its escape, and cannot reorder the line.
        self.setText(for_terminal(text))
        self.setProperty("kind", kind)
        self.style().unpolish(self)  # the stylesheet matches on the property
        self.style().polish(self)
