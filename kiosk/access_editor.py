"""A person's access groups and validity window, as the enrollment wizard and the
People page edit them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidValue
from core.rules.model import AccessGroup, Validity

DATE_FORMAT = "yyyy-MM-dd"


class AccessEditor(QWidget):
    """Groups as a column of tick boxes (a whole row is a touch target), and two
    optional dates. With ``visitor_days``, a "Visitor" tick fills in the last day:
    today and the ``visitor_days - 1`` days after it, unless a last day is given.

    Until ``show_groups`` has run the groups are unknown: ``chosen_groups()`` is
    None, which the enrollment reads as "the site's default group"."""

    def __init__(
        self,
        *,
        visitor_days: int | None = None,
        today: Callable[[], date] = date.today,
        side_by_side: bool = True,
    ) -> None:
        """``side_by_side``: the dates beside the groups (on a wide page), else below."""
        super().__init__()
        self._visitor_days = visitor_days
        self._today = today
        self._known: tuple[AccessGroup, ...] | None = None
        self._auto_until: date | None = None
        """The last day the visitor tick filled in; unticking takes back only that."""
        self.group_boxes: dict[str, QCheckBox] = {}
        self._group_column = QVBoxLayout()
        self._group_column.addStretch(1)
        holder = QWidget()
        holder.setObjectName("groupList")  # drawn as a list by the stylesheet
        holder.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        holder.setLayout(self._group_column)
        self.groups_area = QScrollArea()
        self.groups_area.setWidget(holder)
        self.groups_area.setWidgetResizable(True)
        self.groups_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.no_groups = QLabel("loading the access groups…")
        self.valid_from_on = QCheckBox("Valid from")
        self.valid_from = _date_edit()
        self.valid_until_on = QCheckBox("Valid until")
        self.valid_until = _date_edit()
        self.visitor = QCheckBox(f"Visitor ({_days(visitor_days or 1)})")
        self.visitor.setVisible(visitor_days is not None)
        dates = QGridLayout()
        dates.addWidget(self.valid_from_on, 0, 0)
        dates.addWidget(self.valid_from, 0, 1)
        dates.addWidget(self.valid_until_on, 1, 0)
        dates.addWidget(self.valid_until, 1, 1)
        dates.addWidget(self.visitor, 2, 0, 1, 2)
        dates.setRowStretch(3, 1)
        groups = QVBoxLayout()
        groups.addWidget(QLabel("Access groups"))
        groups.addWidget(self.no_groups)
        groups.addWidget(self.groups_area, stretch=1)
        layout = QHBoxLayout(self) if side_by_side else QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(groups, stretch=1)
        layout.addLayout(dates)
        for on, edit in (
            (self.valid_from_on, self.valid_from),
            (self.valid_until_on, self.valid_until),
        ):
            on.toggled.connect(edit.setEnabled)
        self.visitor.toggled.connect(self._visitor_toggled)
        self.reset()

    # --- what is shown ------------------------------------------------------------------

    def show_groups(self, groups: Iterable[AccessGroup]) -> None:
        """The site's groups, by name. Ticks already made are kept; the first time,
        the default group is ticked."""
        first = self._known is None
        ticked = self.ticked()
        self._known = tuple(sorted(groups, key=lambda g: g.name))
        default = {g.name for g in self._known if g.default}
        self._rebuild(ticked | default if first else ticked)

    def set_access(self, groups: frozenset[str], validity: Validity) -> None:
        """Show a person's access as stored; a group the list lacks is added to it."""
        self._rebuild(groups)
        self._set_date(self.valid_from_on, self.valid_from, validity.valid_from)
        self._set_date(self.valid_until_on, self.valid_until, validity.valid_until)
        self._auto_until = None

    def reset(self) -> None:
        """No dates, not a visitor, and only the default group ticked."""
        self.visitor.setChecked(False)
        self._set_date(self.valid_from_on, self.valid_from, None)
        self._set_date(self.valid_until_on, self.valid_until, None)
        self._auto_until = None
        if self._known is not None:
            self._rebuild({g.name for g in self._known if g.default})

    # --- what was chosen ----------------------------------------------------------------

    def ticked(self) -> frozenset[str]:
        return frozenset(name for name, box in self.group_boxes.items() if box.isChecked())

    def chosen_groups(self) -> tuple[str, ...] | None:
        """The ticked groups by name; None while the groups are not loaded yet."""
        return None if self._known is None else tuple(sorted(self.ticked()))

    def groups_to_enroll(self) -> tuple[str, ...] | None:
        """``chosen_groups()`` for a new person, but None (the site's default group,
        as when no group is named) while only the default group is ticked: an enroller
        may always enroll into the default, yet may name only groups open to enrollers."""
        default = {g.name for g in self._known or () if g.default}
        if default and self.ticked() == default:
            return None
        return self.chosen_groups()

    def validity(self) -> Validity:
        """The window as given; a visitor without a last day gets the default one.
        Raises InvalidValue when the first day is after the last."""
        until = _date_of(self.valid_until_on, self.valid_until)
        if until is None and self.visitor.isChecked():
            until = self._visitor_until()
        try:
            return Validity(_date_of(self.valid_from_on, self.valid_from), until)
        except ValueError as error:
            raise InvalidValue(str(error)) from error

    def describe(self) -> str:
        """The choice in a few words, for a summary line."""
        groups = self.chosen_groups()
        if groups is None:
            who = "the default group"
        elif groups:
            who = "groups " + ", ".join(groups)
        else:
            who = "no group: refused at every door"
        try:
            return f"{who}; {describe_validity(self.validity())}"
        except InvalidValue as error:
            return f"{who}; {error}"

    # --- inside -------------------------------------------------------------------------

    def _rebuild(self, ticked: Iterable[str]) -> None:
        chosen = set(ticked)
        names = sorted({g.name for g in self._known or ()} | chosen)
        default = {g.name for g in self._known or () if g.default}
        for box in self.group_boxes.values():
            self._group_column.removeWidget(box)
            box.hide()  # at once: deleteLater waits for the event loop
            box.deleteLater()
        self.group_boxes = {}
        for i, name in enumerate(names):
            box = QCheckBox(f"{name} (default)" if name in default else name)
            box.setChecked(name in chosen)
            self._group_column.insertWidget(i, box)
            self.group_boxes[name] = box
        self.no_groups.setVisible(not names)
        if self._known is not None and not names:
            self.no_groups.setText("no access groups: define them in the rules file")

    def _visitor_until(self) -> date:
        return self._today() + timedelta(days=(self._visitor_days or 1) - 1)

    def _visitor_toggled(self, on: bool) -> None:
        if on and not self.valid_until_on.isChecked():
            self._auto_until = self._visitor_until()
            self._set_date(self.valid_until_on, self.valid_until, self._auto_until)
        elif not on and self._auto_until is not None:
            if _date_of(self.valid_until_on, self.valid_until) == self._auto_until:
                self._set_date(self.valid_until_on, self.valid_until, None)
            self._auto_until = None

    def _set_date(self, on: QCheckBox, edit: QDateEdit, day: date | None) -> None:
        on.setChecked(day is not None)
        edit.setEnabled(day is not None)
        shown = day if day is not None else self._today()
        edit.setDate(QDate(shown.year, shown.month, shown.day))


def describe_validity(validity: Validity) -> str:
    """ "valid 2026-03-01 to 2026-03-03", "valid until 2026-03-03", "no validity limit"."""
    first, last = validity.valid_from, validity.valid_until
    if first is not None and last is not None:
        return f"valid {first} to {last}"
    if first is not None:
        return f"valid from {first}"
    if last is not None:
        return f"valid until {last}"
    return "no validity limit"


def _date_edit() -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)  # a month to tap on, rather than spin arrows
    edit.setDisplayFormat(DATE_FORMAT)
    return edit


def _date_of(on: QCheckBox, edit: QDateEdit) -> date | None:
    if not on.isChecked():
        return None
    shown = edit.date()
    return date(shown.year(), shown.month(), shown.day())


def _days(count: int) -> str:
    return "today only" if count == 1 else f"today and {count - 1} more day(s)"
