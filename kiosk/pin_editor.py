"""The People page's PIN tab: set or clear a person's PIN or duress PIN, as
``kiosk-admin people pin`` does. The PIN is typed twice, masked, and never shown,
logged or kept in the form once sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidValue
from core.people.pins import MAX_PIN_DIGITS, MIN_PIN_DIGITS, PinKind, check_pin
from kiosk.confirm_sheet import ConfirmSheet
from kiosk.widgets import MessageLabel, with_icon

ChangePin = Callable[[uuid.UUID, PinKind, str | None], None]
"""(person, kind, PIN or None to clear): the store's answer comes back through
``show_done`` / ``show_error``."""

KIND_WORDS = {PinKind.PIN: "PIN", PinKind.DURESS: "duress PIN"}


class PinEditor(QWidget):
    """Which PIN, the new one twice (digits only, masked), Set and Clear. Clear asks
    first: clearing the PIN clears the duress PIN with it."""

    def __init__(self, change: ChangePin) -> None:
        super().__init__()
        self._change = change
        self._person: uuid.UUID | None = None
        self.confirm_sheet = ConfirmSheet()
        self.kind = QComboBox()
        for kind, words in KIND_WORDS.items():
            self.kind.addItem(words, kind.value)
        self.first = _pin_field("new PIN")
        self.again = _pin_field("the same again")
        self.set_button = QPushButton("Set PIN")
        self.clear_button = with_icon(QPushButton("Clear"), "delete")
        self.clear_button.setObjectName("danger")
        self.message = MessageLabel()
        hint = QLabel(
            f"{MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits, typed at a face-and-PIN door after "
            "the face. The duress PIN opens the door too and raises a silent alarm; it needs "
            "a PIN first and must differ from it."
        )
        hint.setWordWrap(True)
        fields = QGridLayout()
        fields.addWidget(QLabel("Which"), 0, 0)
        fields.addWidget(self.kind, 0, 1)
        fields.addWidget(QLabel("New"), 1, 0)
        fields.addWidget(self.first, 1, 1)
        fields.addWidget(QLabel("Again"), 2, 0)
        fields.addWidget(self.again, 2, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.set_button)
        layout = QVBoxLayout(self)
        layout.addLayout(fields)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.kind.currentIndexChanged.connect(lambda _: self._kind_changed())
        self.set_button.clicked.connect(self._set)
        self.clear_button.clicked.connect(self._clear)
        self.show_person(None)

    def show_person(self, person_id: uuid.UUID | None) -> None:
        """Whose PINs the tab changes; None: nobody chosen, nothing to do."""
        if person_id != self._person:
            self.message.clear_message()
        self._person = person_id
        self._wipe()
        self.confirm_sheet.dismiss()  # a question about someone else's PIN
        self._name_clear()
        for widget in (self.kind, self.first, self.again, self.set_button, self.clear_button):
            widget.setEnabled(person_id is not None)

    def show_done(self, person_id: uuid.UUID, text: str) -> None:
        if person_id == self._person:
            self.message.show_notice(text)
            self.set_button.setEnabled(True)
            self.clear_button.setEnabled(True)

    def show_error(self, person_id: uuid.UUID, text: str) -> None:
        if person_id == self._person:
            self.message.show_error(text)
            self.set_button.setEnabled(True)
            self.clear_button.setEnabled(True)

    def chosen_kind(self) -> PinKind:
        return PinKind(self.kind.currentData())

    def _set(self) -> None:
        person = self._person
        if person is None:
            return
        typed, again = self.first.text(), self.again.text()
        self._wipe()  # nothing typed stays in the form, whatever happens next
        try:
            check_pin(typed)
            if typed != again:
                raise InvalidValue("the two PINs differ; type the new PIN twice again")
        except InvalidValue as error:
            self.message.show_error(str(error))
            return
        self._send(person, typed)

    def _clear(self) -> None:
        person = self._person
        if person is None:
            return
        kind = self.chosen_kind()
        words = KIND_WORDS[kind]
        if kind is PinKind.PIN:
            title = "Clear the PIN and the duress PIN?"
            meaning = (
                "The duress PIN goes with the PIN. At a face-and-PIN door they are refused "
                "until they have a PIN again."
            )
        else:
            title = f"Clear the {words}?"
            meaning = "The PIN stays; only the duress PIN, and its silent alarm, go."
        self.confirm_sheet.ask(self, title, meaning, "Clear", lambda: self._send(person, None))

    def _send(self, person: uuid.UUID, pin: str | None) -> None:
        self.message.clear_message()
        self.set_button.setEnabled(False)  # until the store answers
        self.clear_button.setEnabled(False)
        self._change(person, self.chosen_kind(), pin)

    def _kind_changed(self) -> None:
        self.set_button.setText(f"Set {KIND_WORDS[self.chosen_kind()]}")
        self._name_clear()

    def _name_clear(self) -> None:
        self.clear_button.setText(f"Clear {KIND_WORDS[self.chosen_kind()]}")

    def _wipe(self) -> None:
        self.first.clear()
        self.again.clear()


def _pin_field(placeholder: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setMaxLength(MAX_PIN_DIGITS)
    field.setPlaceholderText(placeholder)
    field.setValidator(QRegularExpressionValidator(QRegularExpression("[0-9]*"), field))
    # An on-screen keyboard offers digits, and learns nothing of what is typed.
    field.setInputMethodHints(
        Qt.InputMethodHint.ImhDigitsOnly
        | Qt.InputMethodHint.ImhSensitiveData
        | Qt.InputMethodHint.ImhNoPredictiveText
        | Qt.InputMethodHint.ImhNoAutoUppercase
    )
    return field
