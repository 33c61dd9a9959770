"""Access rules: the doors (kiosk/doors_page.py), and the groups, schedules, holiday
calendars and anti-passback areas: edited here by those who may change the rules
(kiosk/rule_forms.py), read-only for the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtWidgets import (
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.rules.model import AntiPassbackArea, HolidayCalendar, Schedule, Weekday
from core.rules.rule_set import RuleSet
from kiosk.doors_page import DoorsPage
from kiosk.rule_form import PartForm, SubmitEdit
from kiosk.rule_forms import PASSBACK_WORDS, AreaForm, CalendarForm, GroupForm, ScheduleForm
from kiosk.widgets import MessageLabel, headed_table, secondary_button

EDIT_HINT = (
    "Groups, schedules and holiday calendars are read-only here: edit them with "
    "kiosk-admin rules export, then kiosk-admin rules import."
)
_GROUP_COLUMNS = ("Group", "Doors", "Schedule", "On holidays", "Members")
_SCHEDULE_COLUMNS = ("Schedule", "Open")
_CALENDAR_COLUMNS = ("Calendar", "Public holidays", "Closure days")
_AREA_COLUMNS = ("Area", "Entry", "Exit", "Mode")
# The table keeps this much height above a form: three or four rows at 800x480.
_TABLE_MIN_PX = 160


class AccessRulesPage(QWidget):
    """Tabs: Doors (``doors``, for those who may see them), then Groups, Schedules,
    Holidays and Areas (``load_rules`` None: the role may not read the rules).
    ``load_rules`` asks for the rule set; it comes back through ``show_rules``.

    With ``submit`` (the role may change the rules) each of those tabs has a form
    under its table: tapping a row edits that part, New adds one. The form scrolls
    on a small screen."""

    def __init__(
        self,
        doors: DoorsPage | None,
        load_rules: Callable[[], None] | None,
        submit: SubmitEdit | None = None,
    ) -> None:
        super().__init__()
        self.doors = doors
        self._load_rules = load_rules
        self.tabs = QTabWidget()
        if doors is not None:
            self.tabs.addTab(doors, "Doors")
        self.groups = _table(_GROUP_COLUMNS)
        self.schedules = _table(_SCHEDULE_COLUMNS)
        self.calendars = _table(_CALENDAR_COLUMNS)
        self.areas = _table(_AREA_COLUMNS)
        self.message = MessageLabel()
        self.forms: dict[str, PartForm[Any]] = {}
        """By tab title; empty when the role may not change the rules."""
        self._shown: dict[str, list[tuple[str, object]]] = {}
        """By tab title: each table row's (name, part)."""
        tables = {
            "Groups": self.groups,
            "Schedules": self.schedules,
            "Holidays": self.calendars,
            "Areas": self.areas,
        }
        if submit is not None:
            self.forms = {
                "Groups": GroupForm(submit),
                "Schedules": ScheduleForm(submit),
                "Holidays": CalendarForm(submit),
                "Areas": AreaForm(submit),
            }
        if load_rules is not None:
            for title, table in tables.items():
                form = self.forms.get(title)
                if form is None:
                    self.tabs.addTab(_read_only_tab(table, self.refresh), title)
                else:
                    self.tabs.addTab(self._editing_tab(title, table, form), title)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, stretch=1)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        if self.doors is not None:
            self.doors.refresh()
        if self._load_rules is not None:
            self._load_rules()

    def show_rules(self, rules: RuleSet) -> None:
        groups = sorted(rules.groups, key=lambda g: g.name)
        self._fill(
            "Groups",
            [
                (
                    g.name,
                    g,
                    (
                        f"{g.name} (default)" if g.default else g.name,
                        "every door" if g.all_doors else (", ".join(sorted(g.doors)) or "none"),
                        g.schedule,
                        g.holiday_schedule or "closed",
                        str(len(rules.members.get(g.name, ()))),
                    ),
                )
                for g in groups
            ],
        )
        self._fill(
            "Schedules",
            [(s.name, s, (s.name, week_text(s))) for s in sorted(rules.schedules, key=_name)],
        )
        self._fill(
            "Holidays",
            [
                (c.name, c, (c.name, _public_holidays(c), _closures(c)))
                for c in sorted(rules.calendars, key=_name)
            ],
        )
        self._fill(
            "Areas",
            [(a.name, a, _area_cells(a)) for a in sorted(rules.areas, key=_name)],
        )
        for form in self.forms.values():
            form.show_rules(rules)
        if self.doors is not None:
            self.doors.show_calendars([c.name for c in rules.calendars])

    def show_error(self, message: str) -> None:
        self.message.show_error(message)

    def _editing_tab(self, title: str, table: QTableWidget, form: PartForm[Any]) -> QWidget:
        table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        table.setMinimumHeight(_TABLE_MIN_PX)
        table.currentCellChanged.connect(lambda row, *_: self._choose(title, row))
        refresh = secondary_button("Refresh")
        refresh.clicked.connect(self.refresh)
        form.buttons.insertWidget(0, refresh)
        form.load(None)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        # The form at its full height: on a small screen the page scrolls, one scroll
        # for a finger, and the table keeps a few rows above it.
        layout.addWidget(table, stretch=1)
        layout.addWidget(form)
        return tab

    def _choose(self, title: str, row: int) -> None:
        shown = self._shown.get(title, [])
        if 0 <= row < len(shown):
            name, part = shown[row]
            self.forms[title].load(part, name)

    def _fill(self, title: str, rows: Sequence[tuple[str, object, Sequence[str]]]) -> None:
        table = {
            "Groups": self.groups,
            "Schedules": self.schedules,
            "Holidays": self.calendars,
            "Areas": self.areas,
        }[title]
        self._shown[title] = [(name, part) for name, part, _ in rows]
        # A new list is no choice of the operator's: the form keeps what they typed.
        table.blockSignals(True)
        try:
            _fill(table, [cells for _, _, cells in rows])
            form = self.forms.get(title)
            names = [name for name, _, _ in rows]
            current = form.current() if form is not None else None
            if current in names:
                table.selectRow(names.index(current))
            else:
                table.clearSelection()
                table.setCurrentCell(-1, -1)
        finally:
            table.blockSignals(False)


def week_text(schedule: Schedule) -> str:
    """ "Mon-Fri 08:00-18:00; Sat 09:00-12:00": days with the same ranges run together."""
    parts: list[str] = []
    days = list(Weekday)
    start = 0
    while start < len(days):
        ranges = schedule.week.get(days[start], ())
        end = start
        while end + 1 < len(days) and schedule.week.get(days[end + 1], ()) == ranges:
            end += 1
        if ranges:
            span = _day(days[start]) if start == end else f"{_day(days[start])}-{_day(days[end])}"
            parts.append(f"{span} {', '.join(str(r) for r in ranges)}")
        start = end + 1
    return "; ".join(parts) or "closed"


def _day(day: Weekday) -> str:
    return day.key.capitalize()


def _public_holidays(calendar: HolidayCalendar) -> str:
    if calendar.country is None:
        return "none"
    return calendar.country + (f"-{calendar.subdivision}" if calendar.subdivision else "")


def _closures(calendar: HolidayCalendar) -> str:
    days = sorted(calendar.closures)
    shown = ", ".join(str(d) for d in days[:3])
    return shown + (f" and {len(days) - 3} more" if len(days) > 3 else "") if days else "none"


def _table(columns: Sequence[str]) -> QTableWidget:
    table = headed_table(columns)
    table.setWordWrap(True)
    return table


def _area_cells(area: AntiPassbackArea) -> tuple[str, str, str, str]:
    return (
        area.name,
        ", ".join(sorted(area.entry)),
        ", ".join(sorted(area.exit)),
        PASSBACK_WORDS[area.mode],
    )


def _name(part: Schedule | HolidayCalendar | AntiPassbackArea) -> str:
    return part.name


def _read_only_tab(table: QTableWidget, refresh: Callable[[], None]) -> QWidget:
    tab = QWidget()
    hint = QLabel(EDIT_HINT)
    hint.setWordWrap(True)
    button = secondary_button("Refresh")
    button.clicked.connect(refresh)
    layout = QVBoxLayout(tab)
    layout.addWidget(table, stretch=1)
    layout.addWidget(hint)
    layout.addWidget(button)
    return tab


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, text in enumerate(cells):
            table.setItem(row, column, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.resizeRowsToContents()
