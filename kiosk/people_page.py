"""People: search, detail, and deletion after typing the person's name."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.people.people import PersonView
from core.records import PersonSummary

SEARCH_LIMIT = 200


class PeoplePage(QWidget):
    """Asks the controller for data through callbacks; shows what comes back."""

    def __init__(
        self,
        find: Callable[[str], None],
        show: Callable[[uuid.UUID], None],
        delete: Callable[[uuid.UUID], None] | None,
    ) -> None:
        super().__init__()
        self._find, self._show, self._delete = find, show, delete
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
        left = QVBoxLayout()
        left.addWidget(self.search)
        left.addWidget(self.results)
        right = QVBoxLayout()
        right.addWidget(self.detail, stretch=1)
        right.addWidget(self.confirm_name)
        right.addWidget(self.delete_button)
        layout = QHBoxLayout(self)
        layout.addLayout(left, stretch=1)
        layout.addLayout(right, stretch=1)
        self._selected: PersonView | None = None
        self.search.textChanged.connect(lambda text: self._find(text))
        self.results.currentItemChanged.connect(self._on_selected)
        self.confirm_name.textChanged.connect(self._update_delete_button)
        self.delete_button.clicked.connect(self._delete_selected)

    def refresh(self) -> None:
        self._find(self.search.text())

    def show_people(self, people: list[PersonSummary]) -> None:
        self.results.clear()
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
