"""Access rules: the doors (kiosk/doors_page.py), and a read-only view of the groups,
schedules and holiday calendars, which are edited through the rules file."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.rules.model import HolidayCalendar, Schedule, Weekday
from core.rules.rule_set import RuleSet
from kiosk.doors_page import DoorsPage
from kiosk.widgets import MessageLabel, secondary_button

EDIT_HINT = (
    "Groups, schedules and holiday calendars are read-only here: edit them with "
    "kiosk-admin rules export, then kiosk-admin rules import."
)
_GROUP_COLUMNS = ("Group", "Doors", "Schedule", "On holidays", "Members")
_SCHEDULE_COLUMNS = ("Schedule", "Open")
_CALENDAR_COLUMNS = ("Calendar", "Public holidays", "Closure days")


class AccessRulesPage(QWidget):
    """Tabs: Doors (``doors``, for those who may see them), then Groups, Schedules
    and Holidays (``load_rules`` None: the role may not read the rules).
    ``load_rules`` asks for the rule set; it comes back through ``show_rules``."""

    def __init__(self, doors: DoorsPage | None, load_rules: Callable[[], None] | None) -> None:
        super().__init__()
        self.doors = doors
        self._load_rules = load_rules
        self.tabs = QTabWidget()
        if doors is not None:
            self.tabs.addTab(doors, "Doors")
        self.groups = _table(_GROUP_COLUMNS)
        self.schedules = _table(_SCHEDULE_COLUMNS)
        self.calendars = _table(_CALENDAR_COLUMNS)
        self.message = MessageLabel()
        if load_rules is not None:
            for title, table in (
                ("Groups", self.groups),
                ("Schedules", self.schedules),
                ("Holidays", self.calendars),
            ):
                self.tabs.addTab(_read_only_tab(table, self.refresh), title)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, stretch=1)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        if self.doors is not None:
            self.doors.refresh()
        if self._load_rules is not None:
            self._load_rules()

    def show_rules(self, rules: RuleSet) -> None:
        _fill(
            self.groups,
            [
                (
                    f"{g.name} (default)" if g.default else g.name,
                    "every door" if g.all_doors else (", ".join(sorted(g.doors)) or "none"),
                    g.schedule,
                    g.holiday_schedule or "closed",
                    str(len(rules.members.get(g.name, ()))),
                )
                for g in sorted(rules.groups, key=lambda g: g.name)
            ],
        )
        _fill(
            self.schedules,
            [(s.name, week_text(s)) for s in sorted(rules.schedules, key=lambda s: s.name)],
        )
        _fill(
            self.calendars,
            [
                (c.name, _public_holidays(c), _closures(c))
                for c in sorted(rules.calendars, key=lambda c: c.name)
            ],
        )

    def show_error(self, message: str) -> None:
        self.message.show_error(message)


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
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(True)
    return table


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
