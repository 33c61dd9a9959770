"""The Access rules page's editing forms: a schedule's weekly ranges, a group's
schedule and doors, a holiday calendar, an anti-passback area. Each checks what
was typed as the rules will (one-line ValueError) before anything is sent."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

from core.rules import rule_edits
from core.rules.model import (
    AccessGroup,
    AntiPassbackArea,
    HolidayCalendar,
    PassbackMode,
    Schedule,
    Weekday,
)
from core.rules.rule_edits import RuleEdit
from core.rules.rule_set import RuleSet
from kiosk.rule_form import DoorTicks, PartForm, SubmitEdit

CLOSED = "closed"
"""The holiday-schedule choice "no holiday schedule": closed on holidays."""
PASSBACK_WORDS = {
    PassbackMode.HARD: "hard: refuse a second entry",
    PassbackMode.SOFT: "soft: grant and flag it",
}
_DAY_WORDS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS_CHARACTERS = 2000


class ScheduleForm(PartForm[Schedule]):
    """A line per weekday: "08:00-18:00", or several ranges "08:00-12:00, 13:00-17:00";
    an empty line is a closed day."""

    def __init__(self, submit: SubmitEdit) -> None:
        super().__init__("schedule", submit)
        self.days: dict[Weekday, QLineEdit] = {}
        for day, words in zip(Weekday, _DAY_WORDS, strict=True):
            line = QLineEdit()
            line.setPlaceholderText(CLOSED)
            line.setMaxLength(200)
            self.days[day] = line
            self.add_row(words, line)

    def show_part(self, part: Schedule | None) -> None:
        for day, line in self.days.items():
            ranges = part.week.get(day, ()) if part is not None else ()
            line.setText(", ".join(str(r) for r in ranges))

    def edit(self, name: str, *, new: bool) -> RuleEdit:
        week = {}
        for day, words in zip(Weekday, _DAY_WORDS, strict=True):
            try:
                ranges = rule_edits.parse_day(self.days[day].text())
            except ValueError as error:
                raise ValueError(f"{words}: {error}") from None
            if ranges:
                week[day] = ranges
        return rule_edits.put_schedule(Schedule(name, week), new=new)

    def remover(self, name: str) -> RuleEdit:
        return rule_edits.remove_schedule(name)


class GroupForm(PartForm[AccessGroup]):
    """Its schedule, its schedule on holidays (or closed), every door or the ticked
    ones, whether people enrolled without a group join it, and whether enrollers
    may put people in it."""

    def __init__(self, submit: SubmitEdit) -> None:
        super().__init__("group", submit)
        self.schedule = QComboBox()
        self.holiday_schedule = QComboBox()
        self.all_doors = QCheckBox("Every door, now and later")
        self.doors = DoorTicks()
        self.default = QCheckBox("Default: people enrolled without a group join it")
        self.enrollers = QCheckBox("Enrollers may put people in it")
        self.add_row("Schedule", self.schedule)
        self.add_row("On holidays", self.holiday_schedule)
        self.add_row("Doors", self.all_doors)
        self.add_row("", self.doors)
        self.add_row("", self.default)
        self.add_row("", self.enrollers)
        self.all_doors.toggled.connect(lambda on: self.doors.setEnabled(not on))

    def show_rules(self, rules: RuleSet) -> None:
        names = [s.name for s in rules.schedules]
        _offer(self.schedule, names)
        _offer(self.holiday_schedule, [CLOSED, *names])
        self.doors.show_doors(rules.doors)

    def show_part(self, part: AccessGroup | None) -> None:
        group = part or AccessGroup("new", self.schedule.itemText(0) or "always")
        self.schedule.setCurrentText(group.schedule)
        self.holiday_schedule.setCurrentText(group.holiday_schedule or CLOSED)
        self.all_doors.setChecked(group.all_doors)
        self.doors.set_ticked(group.doors)
        self.doors.setEnabled(not group.all_doors)
        self.default.setChecked(group.default)
        self.enrollers.setChecked(group.enrollers_may_assign)

    def edit(self, name: str, *, new: bool) -> RuleEdit:
        schedule = self.schedule.currentText()
        if not schedule:
            raise ValueError("the group needs a schedule; add one on the Schedules tab first")
        holiday = self.holiday_schedule.currentText()
        all_doors = self.all_doors.isChecked()
        group = AccessGroup(
            name,
            schedule,
            frozenset() if all_doors else self.doors.ticked(),
            all_doors,
            None if holiday in ("", CLOSED) else holiday,
            self.default.isChecked(),
            self.enrollers.isChecked(),
        )
        return rule_edits.put_group(group, new=new)

    def remover(self, name: str) -> RuleEdit:
        return rule_edits.remove_group(name)


class CalendarForm(PartForm[HolidayCalendar]):
    """A country's public holidays (and a subdivision's), and the site's closure days."""

    def __init__(self, submit: SubmitEdit) -> None:
        super().__init__("holiday calendar", submit)
        self.country = QLineEdit()
        self.country.setPlaceholderText('none, or a country code such as "DE"')
        self.country.setMaxLength(3)
        self.subdivision = QLineEdit()
        self.subdivision.setPlaceholderText('none, or such as "BY" for Bavaria')
        self.subdivision.setMaxLength(10)
        self.closures = QLineEdit()
        self.closures.setPlaceholderText("2026-12-24, 2026-12-31")
        self.closures.setMaxLength(_DAYS_CHARACTERS)
        self.add_row("Country", self.country)
        self.add_row("Subdivision", self.subdivision)
        self.add_row("Closure days", self.closures)

    def show_part(self, part: HolidayCalendar | None) -> None:
        self.country.setText(part.country or "" if part is not None else "")
        self.subdivision.setText(part.subdivision or "" if part is not None else "")
        days = sorted(part.closures) if part is not None else []
        self.closures.setText(", ".join(str(d) for d in days))

    def edit(self, name: str, *, new: bool) -> RuleEdit:
        country = self.country.text().strip().upper() or None
        subdivision = self.subdivision.text().strip().upper() or None
        calendar = HolidayCalendar(
            name, country, subdivision, rule_edits.parse_days(self.closures.text())
        )
        return rule_edits.put_calendar(calendar, new=new)

    def remover(self, name: str) -> RuleEdit:
        return rule_edits.remove_calendar(name)


class AreaForm(PartForm[AntiPassbackArea]):
    """The doors into the area, the doors out of it, and hard or soft."""

    def __init__(self, submit: SubmitEdit) -> None:
        super().__init__("area", submit)
        self.entry = DoorTicks()
        self.exit = DoorTicks()
        self.mode = QComboBox()
        for mode, words in PASSBACK_WORDS.items():
            self.mode.addItem(words, mode.value)
        self.add_row("Entry doors", self.entry)
        self.add_row("Exit doors", self.exit)
        self.add_row("Mode", self.mode)

    def show_rules(self, rules: RuleSet) -> None:
        self.entry.show_doors(rules.doors)
        self.exit.show_doors(rules.doors)

    def show_part(self, part: AntiPassbackArea | None) -> None:
        self.entry.set_ticked(part.entry if part is not None else ())
        self.exit.set_ticked(part.exit if part is not None else ())
        mode = part.mode if part is not None else PassbackMode.HARD
        self.mode.setCurrentIndex(self.mode.findData(mode.value))

    def edit(self, name: str, *, new: bool) -> RuleEdit:
        area = AntiPassbackArea(
            name, self.entry.ticked(), self.exit.ticked(), PassbackMode(self.mode.currentData())
        )
        return rule_edits.put_area(area, new=new)

    def remover(self, name: str) -> RuleEdit:
        return rule_edits.remove_area(name)


def _offer(combo: QComboBox, names: list[str]) -> None:
    """``names`` as the choices, the current choice kept where it still exists."""
    chosen = combo.currentText()
    combo.clear()
    combo.addItems(names)
    if chosen in names:
        combo.setCurrentText(chosen)
