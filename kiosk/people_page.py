"""People: search, detail, access groups and validity, PINs, and deletion after
typing the person's name."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidValue
from core.people.people import PersonView
from core.records import PersonSummary
from core.rules.model import AccessGroup, Validity
from kiosk.access_editor import AccessEditor, describe_validity
from kiosk.pin_editor import ChangePin, PinEditor
from kiosk.widgets import MessageLabel

SetAccess = Callable[[uuid.UUID, tuple[str, ...], Validity], None]

SEARCH_LIMIT = 200


class PeoplePage(QWidget):
    """Asks the controller for data through callbacks; shows what comes back.

    ``set_access`` None: the role may not change access, and the Access tab only
    shows it. The store decides whose access an enroller may change; its refusal
    comes back through ``show_access_error``. With ``change_pin`` (the role may set
    PINs) a PIN tab sets and clears the chosen person's PIN and duress PIN."""

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
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or badge")
        self.results = QListWidget()
        self.detail = QLabel("Choose a person to see their record.")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.confirm_name = QLineEdit()
        self.confirm_name.setPlaceholderText("Type the person's name to delete them")
        self.delete_button = QPushButton("Delete this person")
        self.delete_button.setObjectName("danger")
        self.delete_button.setEnabled(False)
        for widget in (self.confirm_name, self.delete_button):
            widget.setVisible(delete is not None)  # a role that may not, does not see it
        self.access_summary = QLabel("")
        self.access_summary.setWordWrap(True)
        self.access = AccessEditor(side_by_side=False)
        self.save_access = QPushButton("Save access")
        self.save_access.setVisible(set_access is not None)
        self.access_message = MessageLabel()
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.results)
        record = QWidget()
        right = QVBoxLayout(record)
        right.addWidget(self.detail, stretch=1)
        right.addWidget(self.access_summary)
        right.addWidget(self.confirm_name)
        right.addWidget(self.delete_button)
        access = QWidget()
        access_layout = QVBoxLayout(access)
        access_layout.addWidget(self.access, stretch=1)
        access_layout.addWidget(self.access_message)
        access_layout.addWidget(self.save_access)
        self.tabs = QTabWidget()
        self.tabs.addTab(record, "Record")
        self.tabs.addTab(access, "Access")
        self.pins = PinEditor(change_pin) if change_pin is not None else None
        if self.pins is not None:
            self.tabs.addTab(self.pins, "PIN")
        layout = QHBoxLayout(self)
        layout.addLayout(left, stretch=1)
        layout.addWidget(self.tabs, stretch=1)
        self._selected: PersonView | None = None
        self._access_of: uuid.UUID | None = None
        """Whose access the Access tab shows; None until it arrives."""
        self._show_access_state()
        self.search.textChanged.connect(lambda text: self._find(text))
        self.results.currentItemChanged.connect(self._on_selected)
        self.confirm_name.textChanged.connect(self._update_delete_button)
        self.delete_button.clicked.connect(self._delete_selected)
        self.save_access.clicked.connect(self._save_access)

    def refresh(self) -> None:
        self._find(self.search.text())

    def show_people(self, people: list[PersonSummary]) -> None:
        self.results.clear()
        self._access_of = None  # nobody is chosen in the new list: nothing to save
        self._show_access_state()
        if self.pins is not None:
            self.pins.show_person(None)
        for person in people:
            item = QListWidgetItem(
                f"{person.display_name}  ·  {person.external_ref or 'no badge'}  ·  "
                f"{person.template_count} template(s)"
            )
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            self.results.addItem(item)
        if not people:
            self.detail.setText("Nobody matches." if self.search.text() else "Nobody is enrolled.")
            self._selected = None
            self.access_summary.clear()
            self._update_delete_button()

    def show_person(self, view: PersonView) -> None:
        self._selected = view
        p, detail = view.detail.summary, view.detail
        lines = [
            f"<b>{html.escape(p.display_name)}</b>",
            f"Badge: {html.escape(p.external_ref or '-')}",
            f"Enrolled: {p.created_at:%Y-%m-%d %H:%M}",
            f"Templates: {p.template_count}",
        ]
        if view.retention_deadline is not None:
            lines.append(f"Kept until: {view.retention_deadline:%Y-%m-%d} unless recognised again")
        for consent in detail.consents:
            state = (
                f"withdrawn {consent.withdrawn_at:%Y-%m-%d}" if consent.withdrawn_at else "in force"
            )
            lines.append(
                f"Consent {consent.version}: given {consent.given_at:%Y-%m-%d}, witnessed by "
                f"{html.escape(consent.witnessed_by)}, {state}"
            )
        self.detail.setText("<br>".join(lines))
        self.confirm_name.clear()
        self._update_delete_button()
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

    def _on_selected(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self._show(item.data(Qt.ItemDataRole.UserRole))

    def _update_delete_button(self) -> None:
        view = self._selected
        typed = " ".join(self.confirm_name.text().split())
        self.delete_button.setEnabled(
            self._delete is not None
            and view is not None
            and typed == view.detail.summary.display_name
        )

    def _delete_selected(self) -> None:
        if self._selected is not None and self._delete is not None:
            self.delete_button.setEnabled(False)
            self._delete(self._selected.detail.summary.id)
