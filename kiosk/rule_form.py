"""What every editing form of the Access rules page shares: a name, New / Delete /
Save, a one-line message, and the doors as tick boxes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.rules.model import Door
from core.rules.rule_edits import RuleEdit
from core.rules.rule_set import RuleSet
from kiosk.confirm_sheet import ConfirmSheet
from kiosk.widgets import MessageLabel, secondary_button, with_icon

Reply = Callable[[str], None]
SubmitEdit = Callable[[str, RuleEdit, Reply, Reply], None]
"""(what, edit, done, failed): send ``edit`` to the store; ``done`` gets a notice,
``failed`` a one-line error, on the GUI thread."""

P = TypeVar("P")
NAME_CHARACTERS = 64


class PartForm(QWidget, Generic[P]):
    """Edits one part (a schedule, group, calendar or area) of the rules, known by its
    name: a chosen part's name is fixed (the name is the key; delete and add to
    rename), New clears the form for a part not stored yet. Delete shows once a
    part is chosen, and asks first. Subclasses give the fields and turn them into
    an edit."""

    def __init__(self, kind: str, submit: SubmitEdit) -> None:
        super().__init__()
        self.kind = kind
        self._submit = submit
        self._current: str | None = None
        """The name of the part shown; None: a new part."""
        self.confirm_sheet = ConfirmSheet()
        self.name = QLineEdit()
        self.name.setMaxLength(NAME_CHARACTERS)
        self.name.setPlaceholderText(f"name of the new {kind}")
        self.new = secondary_button(f"New {kind}")
        self.delete = with_icon(QPushButton("Delete"), "delete")
        self.delete.setObjectName("danger")
        self.save = QPushButton("Save")
        self.message = MessageLabel()
        self.fields = QGridLayout()
        self.fields.addWidget(QLabel("Name"), 0, 0)
        self.fields.addWidget(self.name, 0, 1)
        self.fields.setColumnStretch(1, 1)
        self.buttons = buttons = QHBoxLayout()
        buttons.addWidget(self.new)
        buttons.addWidget(self.delete)
        buttons.addStretch(1)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.fields)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.new.clicked.connect(lambda: self.load(None))
        self.delete.clicked.connect(self._delete)
        self.save.clicked.connect(self._save)

    # --- what subclasses give -----------------------------------------------------------

    def show_part(self, part: P | None) -> None:
        """Fill the fields from ``part``; None: empty fields for a new one."""
        raise NotImplementedError

    def edit(self, name: str, *, new: bool) -> RuleEdit:
        """The edit the fields ask for; ValueError naming the field at fault."""
        raise NotImplementedError

    def remover(self, name: str) -> RuleEdit:
        raise NotImplementedError

    def show_rules(self, rules: RuleSet) -> None:
        """The rules as read, for the form's choices (schedules, doors)."""

    # --- shared -------------------------------------------------------------------------

    def add_row(self, label: str, widget: QWidget) -> None:
        row = self.fields.rowCount()
        # Beside a one-line field, or at the top of a list of doors.
        align = Qt.AlignmentFlag.AlignTop if isinstance(widget, DoorTicks) else Qt.AlignmentFlag(0)
        self.fields.addWidget(QLabel(label), row, 0, align)
        self.fields.addWidget(widget, row, 1)

    def current(self) -> str | None:
        return self._current

    def load(self, part: P | None, name: str | None = None) -> None:
        """Show ``part`` (named ``name``) to edit, or a new, empty one."""
        self._current = name if part is not None else None
        self.name.setText(name or "")
        self.name.setReadOnly(part is not None)
        self.delete.setEnabled(part is not None)
        self.delete.setVisible(part is not None)  # nothing to delete before a choice
        self.message.clear_message()
        self.show_part(part)

    def _save(self) -> None:
        name = self._current or " ".join(self.name.text().split())
        new = self._current is None
        try:
            if not name:
                raise ValueError(f"give the new {self.kind} a name")
            edit = self.edit(name, new=new)
        except ValueError as error:
            self.message.show_error(str(error))
            return
        self._send(f"{self.kind} {name} {'added' if new else 'changed'}", edit, name)

    def _delete(self) -> None:
        name = self._current
        if name is None:
            return
        self.confirm_sheet.ask(
            self,
            f"Delete {self.kind} {name}?",
            f"The {self.kind} goes from the access rules at once, for every door, and the "
            "edit is audited. The rules refuse it while something still uses it.",
            "Delete",
            lambda: self._send(f"{self.kind} {name} deleted", self.remover(name), None),
        )

    def _send(self, what: str, edit: RuleEdit, after: str | None) -> None:
        self.message.clear_message()
        self.save.setEnabled(False)  # until the store answers
        self.delete.setEnabled(False)

        def done(_: str) -> None:
            self.save.setEnabled(True)
            if after is None:
                self.load(None)
            else:
                self._current = after
                self.name.setReadOnly(True)
                self.delete.setEnabled(True)
                self.delete.setVisible(True)
            self.message.show_notice(what)

        def failed(message: str) -> None:
            self.save.setEnabled(True)
            self.delete.setEnabled(self._current is not None)
            self.message.show_error(message)

        self._submit(what, edit, done, failed)


class DoorTicks(QWidget):
    """The site's doors as a column of tick boxes (a whole row is a touch target).
    It does not scroll by itself: the page around it does, one scroll for a finger."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("groupList")  # drawn as a list by the stylesheet
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._column = QVBoxLayout(self)
        self.boxes: dict[str, QCheckBox] = {}

    def show_doors(self, doors: Iterable[Door]) -> None:
        """The doors to offer; ticks already made are kept."""
        self._rebuild({d.kiosk_id: d.display_name for d in doors}, self.ticked())

    def set_ticked(self, kiosk_ids: Iterable[str]) -> None:
        ticked = frozenset(kiosk_ids)
        known = {kiosk: box.text() for kiosk, box in self.boxes.items()}
        self._rebuild(known | {k: k for k in ticked - known.keys()}, ticked)

    def ticked(self) -> frozenset[str]:
        return frozenset(k for k, box in self.boxes.items() if box.isChecked())

    def _rebuild(self, doors: dict[str, str], ticked: frozenset[str]) -> None:
        for box in self.boxes.values():
            self._column.removeWidget(box)
            box.hide()  # at once: deleteLater waits for the event loop
            box.deleteLater()
        self.boxes = {}
        for kiosk in sorted(doors):
            shown = doors[kiosk]
            box = QCheckBox(shown if shown.endswith(f"({kiosk})") else f"{shown} ({kiosk})")
            box.setChecked(kiosk in ticked)
            self._column.addWidget(box)
            self.boxes[kiosk] = box
