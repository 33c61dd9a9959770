"""People: search, a person's record, access groups and validity, PINs, and
deletion after a question that asks for the person's name."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidValue
from core.people.people import PersonView
from core.records import PersonSummary
from core.rules.model import AccessGroup, Validity
from kiosk.access_editor import AccessEditor, describe_validity
from kiosk.confirm_sheet import ConfirmSheet
from kiosk.icons import icon
from kiosk.person_record import PersonRecord
from kiosk.pin_editor import ChangePin, PinEditor
from kiosk.widgets import MUTED, EmptyState, MessageLabel, TableOrEmpty, fill_table, headed

SetAccess = Callable[[uuid.UUID, tuple[str, ...], Validity], None]

SEARCH_LIMIT = 200
_COLUMNS = ("Name", "Badge")
NOBODY_ENROLLED = "No people enrolled yet"
NOBODY_CHOSEN = "Choose a person"


class PeopleTable(QTableWidget):
    """The people found, a row each under headings; ``count`` and ``setCurrentRow``
    as a list has them, for the page and its tests."""

    def count(self) -> int:
        return self.rowCount()

    def setCurrentRow(self, row: int) -> None:  # the list's name for it
        self.setCurrentCell(row, 0)


class PeoplePage(QWidget):
    """Asks the controller for data through callbacks; shows what comes back.

    ``set_access`` None: the role may not change access, and the Access tab only
    shows it. The store decides whose access an enroller may change; its refusal
    comes back through ``show_access_error``. With ``change_pin`` (the role may set
    PINs) a PIN tab sets and clears the chosen person's PIN and duress PIN. Nothing
    about a person (and no Delete) shows until one is chosen."""

    def __init__(
        self,
        find: Callable[[str], None],
        show: Callable[[uuid.UUID], None],
        delete: Callable[[uuid.UUID], None] | None,
        set_access: SetAccess | None = None,
        change_pin: ChangePin | None = None,
    ) -> None:
        super().__init__()
        self._find, self._show, self._delete = find, show, delete
        self._set_access = set_access
        self.may_delete = delete is not None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or badge")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search", MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.results = headed(PeopleTable(), _COLUMNS, stretch=0)
        self.nobody = EmptyState("people", NOBODY_ENROLLED)
        self.list = TableOrEmpty(self.results, self.nobody)
        self.record = PersonRecord(may_delete=self.may_delete)
        self.detail = self.record.detail
        self.access_summary = self.record.access_summary
        self.delete_button = self.record.delete_button
        self.confirm_sheet = ConfirmSheet()
        self.access = AccessEditor(side_by_side=False)
        self.save_access = QPushButton("Save access")
        self.save_access.setVisible(set_access is not None)
        self.access_message = MessageLabel()
        access = QWidget()
        access_layout = QVBoxLayout(access)
        access_layout.addWidget(self.access, stretch=1)
        access_layout.addWidget(self.access_message)
        access_layout.addWidget(self.save_access, alignment=Qt.AlignmentFlag.AlignRight)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.record, "Record")
        self.tabs.addTab(access, "Access")
        self.pins = PinEditor(change_pin) if change_pin is not None else None
        if self.pins is not None:
            self.tabs.addTab(self.pins, "PIN")
        self.nobody_chosen = EmptyState(
            "people", NOBODY_CHOSEN, "Their record, access and PIN show here."
        )
        self.person = QStackedWidget()
        self.person.addWidget(self.nobody_chosen)
        self.person.addWidget(self.tabs)
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.list, stretch=1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left, stretch=2)
        layout.addWidget(self.person, stretch=3)
        self._shown: list[PersonSummary] = []
        self._selected: PersonView | None = None
        self._access_of: uuid.UUID | None = None
        """Whose access the Access tab shows; None until it arrives."""
        self._show_access_state()
        self.search.textChanged.connect(lambda text: self._find(text))
        self.results.currentCellChanged.connect(self._on_row)
        self.delete_button.clicked.connect(self._ask_delete)
        self.save_access.clicked.connect(self._save_access)

    def refresh(self) -> None:
        self._find(self.search.text())

    @property
    def chosen_person(self) -> uuid.UUID | None:
        """The person whose record is shown; None when nobody is chosen."""
        return self._selected.detail.summary.id if self._selected is not None else None

    def offer_enrollment(self, open_enrollment: Callable[[], None]) -> None:
        """The empty list's "Enroll someone" opens the enrollment (the role may enroll)."""
        self.nobody.offer("Enroll someone", "enroll")
        self.nobody.action.clicked.connect(open_enrollment)

    def show_people(self, people: list[PersonSummary]) -> None:
        chosen = self._selected.detail.summary.id if self._selected is not None else None
        self._shown = list(people)
        ids = [p.id for p in people]
        # A new list is no choice of the operator's: the person shown stays if listed.
        self.results.blockSignals(True)
        try:
            fill_table(
                self.results,
                [(p.display_name, p.external_ref or "") for p in people],
            )
            if chosen in ids:
                self.results.setCurrentRow(ids.index(chosen))
            else:
                self.results.setCurrentCell(-1, -1)
        finally:
            self.results.blockSignals(False)
        if chosen not in ids:
            self._choose_nobody()
        self.list.show_rows(bool(people))
        if not people:
            typed = self.search.text().strip()
            if typed:
                self.nobody.say(f"Nobody matches “{typed}”", "Search by part of a name or badge.")
            else:
                self.nobody.say(
                    NOBODY_ENROLLED, "People enrolled here or with kiosk-admin show here."
                )

    def show_person(self, view: PersonView) -> None:
        self._selected = view
        p = view.detail.summary
        self.record.show_person(view)
        self.delete_button.setEnabled(True)
        self.person.setCurrentWidget(self.tabs)
        if self.pins is not None:
            self.pins.show_person(p.id)
        if self._access_of != p.id:
            self._access_of = None  # until the person's access arrives
            self.access_summary.setText("Access: loading…")
            self.access_message.clear_message()
            self._show_access_state()

    def show_groups(self, groups: Iterable[AccessGroup]) -> None:
        """The site's access groups, for the Access tab's list."""
        self.access.show_groups(groups)

    def show_access(self, person_id: uuid.UUID, groups: frozenset[str], validity: Validity) -> None:
        """A person's stored groups and validity; ignored if another person is chosen now."""
        if self._selected is None or self._selected.detail.summary.id != person_id:
            return
        self._access_of = person_id
        self.access.set_access(groups, validity)
        names = ", ".join(sorted(groups)) or "none: refused at every door"
        self.access_summary.setText(
            f"Access groups: {html.escape(names)}<br>{describe_validity(validity).capitalize()}"
        )
        self._show_access_state()

    def show_access_saved(self, person_id: uuid.UUID) -> None:
        if self._access_of == person_id:
            self.access_message.show_notice("access saved")
            self.save_access.setEnabled(True)
            self._show(person_id)  # read back what the store now holds

    def show_access_error(self, message: str) -> None:
        self.access_message.show_error(message)
        self._show_access_state()

    def _save_access(self) -> None:
        person = self._access_of
        if person is None or self._set_access is None:
            return
        try:
            validity = self.access.validity()
        except InvalidValue as error:
            self.access_message.show_error(str(error))
            return
        self.access_message.clear_message()
        self.save_access.setEnabled(False)  # until the store answers
        self._set_access(person, tuple(sorted(self.access.ticked())), validity)

    def _show_access_state(self) -> None:
        editable = self._access_of is not None and self._set_access is not None
        self.access.setEnabled(editable)
        self.save_access.setEnabled(editable)

    def _on_row(self, row: int, _column: int, previous: int, _previous_column: int) -> None:
        if row != previous and 0 <= row < len(self._shown):
            self._show(self._shown[row].id)

    def _choose_nobody(self) -> None:
        self._selected = None
        self._access_of = None
        self.record.clear()
        self.person.setCurrentWidget(self.nobody_chosen)
        self._show_access_state()
        if self.pins is not None:
            self.pins.show_person(None)

    def _ask_delete(self) -> None:
        view, delete = self._selected, self._delete
        if view is None or delete is None:
            return
        person = view.detail.summary
        self.confirm_sheet.ask(
            self,
            f"Delete {person.display_name}?",
            "Every template is removed, consent is marked withdrawn, and the name and "
            "badge are erased; only the id and dates stay, for the audit trail. "
            "This cannot be undone.",
            "Delete",
            lambda: self._deleting(person.id, delete),
            type_to_confirm=person.display_name,
        )

    def _deleting(self, person_id: uuid.UUID, delete: Callable[[uuid.UUID], None]) -> None:
        self.delete_button.setEnabled(False)  # until the store answers and the list is read
        delete(person_id)
