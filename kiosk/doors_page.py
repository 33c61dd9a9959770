"""Doors (admins change, auditors read): each kiosk as a door of the access rules,
with its name, time zone, holiday calendar and mode."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidValue
from core.records import Operator
from core.rules.model import Door, DoorMode, check_time_zone
from core.rules.rules_store import RulesStore
from kiosk.operator_actions import OperatorActions
from kiosk.widgets import MessageLabel, secondary_button

_COLUMNS = ("Kiosk", "Name", "Time zone", "Holidays", "Mode")
MODE_WORDS = {DoorMode.FACE: "face only", DoorMode.FACE_AND_PIN: "face and PIN"}
_ZONE_CHARACTERS = 14
_FIELD_WORDS = {
    "display_name": "name",
    "time_zone": "time zone",
    "calendar": "holiday calendar",
    "mode": "mode",
}
NO_CALENDAR = "none"


class DoorsPage(QWidget):
    """The doors as stored; with ``may_edit``, a form below the table renames the
    chosen door and sets its time zone, holiday calendar and mode, audited as
    ``door.changed``. The calendars to offer come through ``show_calendars``."""

    def __init__(
        self,
        actions: OperatorActions,
        rules: RulesStore,
        zones: list[str],
        *,
        may_edit: bool,
    ) -> None:
        """``zones``: the IANA time zone names to offer, sorted."""
        super().__init__()
        self._actions = actions
        self._rules = rules
        self._zones = frozenset(zones)
        self._doors: list[Door] = []
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.refresh_button = secondary_button("Refresh")
        self.name = QLineEdit()
        self.name.setMaxLength(128)
        self.time_zone = _zone_picker(zones)
        self.mode = QComboBox()
        for mode, words in MODE_WORDS.items():
            self.mode.addItem(words, mode.value)
        self.calendar = QComboBox()
        self.calendar.addItem(NO_CALENDAR)
        self.save = QPushButton("Save door")
        self.message = MessageLabel()
        # Three rows, so that a 800x480 screen still shows a few doors above them.
        self.form = QWidget()
        form = QGridLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(QLabel("Name"), 0, 0)
        form.addWidget(self.name, 0, 1)
        form.addWidget(QLabel("Holidays"), 0, 2)
        form.addWidget(self.calendar, 0, 3)
        form.addWidget(QLabel("Time zone"), 1, 0)
        form.addWidget(self.time_zone, 1, 1)
        form.addWidget(QLabel("Mode"), 1, 2)
        form.addWidget(self.mode, 1, 3)
        form.addWidget(self.refresh_button, 2, 0)
        form.addWidget(self.save, 2, 1, 1, 3)
        form.setColumnStretch(1, 2)
        form.setColumnStretch(3, 1)
        self.form.setVisible(may_edit)
        self.form.setEnabled(False)  # until a door is chosen
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, stretch=1)
        if not may_edit:
            layout.addWidget(self.refresh_button)
        layout.addWidget(self.form)
        layout.addWidget(self.message)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.currentCellChanged.connect(lambda row, *_: self._choose(row))
        self.save.clicked.connect(self._save)

    def refresh(self) -> None:
        self._actions.run(
            lambda operator: self._rules.doors(actor=operator), self.show_doors, self._failed
        )

    def show_doors(self, doors: list[Door]) -> None:
        chosen = self.chosen()
        self._doors = list(doors)
        self.table.setRowCount(len(doors))
        for row, door in enumerate(doors):
            cells = (
                door.kiosk_id,
                door.display_name,
                door.time_zone,
                door.calendar or "none",
                MODE_WORDS.get(door.mode, door.mode.value),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if not doors:
            self.message.show_notice("No doors yet: a kiosk makes its door when it first starts.")
        kiosks = [d.kiosk_id for d in doors]
        again = kiosks.index(chosen.kiosk_id) if chosen and chosen.kiosk_id in kiosks else -1
        if again >= 0:
            self.table.selectRow(again)
            self._choose(again)

    def show_calendars(self, names: list[str]) -> None:
        """The holiday calendars a door may use, by name; the choice shown is kept."""
        chosen = self.calendar.currentText()
        self.calendar.clear()
        self.calendar.addItems([NO_CALENDAR, *sorted(names)])
        self.calendar.setCurrentText(chosen if chosen in names else NO_CALENDAR)
        door = self.chosen()
        if door is not None:
            self._show_calendar(door.calendar)

    def select(self, kiosk_id: str) -> None:
        """Choose the door of ``kiosk_id`` in the table, as a tap on its row does."""
        row = [d.kiosk_id for d in self._doors].index(kiosk_id)
        self.table.selectRow(row)
        self._choose(row)

    def chosen(self) -> Door | None:
        row = self.table.currentRow()
        return self._doors[row] if 0 <= row < len(self._doors) else None

    def _choose(self, row: int) -> None:
        door = self._doors[row] if 0 <= row < len(self._doors) else None
        self.form.setEnabled(door is not None)
        if door is None:
            return
        self.name.setText(door.display_name)
        self.time_zone.setCurrentText(door.time_zone)
        self.mode.setCurrentIndex(self.mode.findData(door.mode.value))
        self._show_calendar(door.calendar)

    def _show_calendar(self, name: str | None) -> None:
        shown = name or NO_CALENDAR
        if self.calendar.findText(shown) < 0:
            self.calendar.addItem(shown)  # stored, though the list has not come yet
        self.calendar.setCurrentText(shown)

    def _save(self) -> None:
        door = self.chosen()
        if door is None:
            return
        try:
            changes = self._changes(door)
        except InvalidValue as error:
            self.message.show_error(str(error))
            return
        if not changes:
            self.message.show_notice(f"{door.kiosk_id}: nothing to change")
            return
        self.message.clear_message()
        self.save.setEnabled(False)  # until the store answers

        def saved(after: Door) -> None:
            self.save.setEnabled(True)
            what = ", ".join(_FIELD_WORDS[key] for key in changes)
            self.message.show_notice(f"door {after.kiosk_id}: {what} saved")
            self.refresh()

        def failed(message: str) -> None:
            self.save.setEnabled(True)
            self._failed(message)

        self._actions.run(_update(self._rules, door.kiosk_id, changes), saved, failed)

    def _changes(self, door: Door) -> dict[str, str]:
        """What the form changes, checked as the store will check it (InvalidValue)."""
        name = " ".join(self.name.text().split())
        zone = self.time_zone.currentText().strip()
        mode = DoorMode(self.mode.currentData())
        if zone not in self._zones:
            raise InvalidValue(
                f"time zone {zone[:80]!r} is not in the list; pick one such as Europe/Berlin"
            )
        try:
            check_time_zone(zone)
            Door(door.kiosk_id, name, zone, door.calendar, mode)
        except ValueError as error:
            raise InvalidValue(str(error)) from error
        calendar = self.calendar.currentText()
        wanted = {"display_name": name, "time_zone": zone, "mode": mode.value}
        wanted["calendar"] = "" if calendar == NO_CALENDAR else calendar
        stored = {"display_name": door.display_name, "time_zone": door.time_zone}
        stored["mode"] = door.mode.value
        stored["calendar"] = door.calendar or ""
        return {key: value for key, value in wanted.items() if stored[key] != value}

    def _failed(self, message: str) -> None:
        self.message.show_error(message)


def _update(
    rules: RulesStore, kiosk_id: str, changes: dict[str, str]
) -> Callable[[Operator], Door]:
    def update(operator: Operator) -> Door:
        mode = changes.get("mode")
        calendar = changes.get("calendar")
        try:
            return rules.update_door(
                kiosk_id,
                actor=operator,
                display_name=changes.get("display_name"),
                time_zone=changes.get("time_zone"),
                calendar=calendar or None,
                clear_calendar=calendar == "",
                mode=DoorMode(mode) if mode is not None else None,
            )
        except ValueError as error:  # the store's own check of the whole door
            raise InvalidValue(str(error)) from error

    return update


def _zone_picker(zones: list[str]) -> QComboBox:
    """Every IANA zone; typing any part of a name ("berl") narrows the list."""
    picker = QComboBox()
    picker.setEditable(True)
    picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    picker.addItems(zones)
    picker.setMaxVisibleItems(8)
    # Not as wide as the longest zone name: a 800x480 screen has no room for it.
    picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    picker.setMinimumContentsLength(_ZONE_CHARACTERS)
    completer = QCompleter(zones, picker)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    picker.setCompleter(completer)
    return picker
