"""The People page's Record tab: the chosen person's details, their access in a
line, and what may be done to them."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.people.people import PersonView
from kiosk.widgets import with_icon

_LABEL_STYLE = "color:#64748b; padding-right:14px;"
_NAME_STYLE = "font-size:24px; font-weight:700;"


class PersonRecord(QWidget):
    """A card of the person's details, and a row of actions under it.

    ``action_row`` is that row: Delete person… at its right end (shown when the role
    may delete), and any other action on the chosen person (such as adding photos)
    goes before it, ``action_row.insertWidget(0, button)``."""

    def __init__(self, *, may_delete: bool) -> None:
        super().__init__()
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.detail.setTextFormat(Qt.TextFormat.RichText)  # built from escaped values
        self.access_summary = QLabel("")
        self.access_summary.setWordWrap(True)
        self.delete_button = with_icon(QPushButton("Delete person…"), "delete")
        self.delete_button.setObjectName("danger")
        self.delete_button.setVisible(may_delete)  # a role that may not, does not see it
        card = QFrame()
        card.setObjectName("card")
        inside = QVBoxLayout(card)
        inside.setContentsMargins(14, 12, 14, 12)
        inside.addWidget(self.detail)
        inside.addWidget(self.access_summary)
        inside.addStretch(1)
        self.action_row = QHBoxLayout()
        self.action_row.addStretch(1)
        self.action_row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(card, stretch=1)
        layout.addLayout(self.action_row)

    def show_person(self, view: PersonView) -> None:
        p, detail = view.detail.summary, view.detail
        rows = [
            ("Badge", html.escape(p.external_ref or "none")),
            ("Enrolled", f"{p.created_at:%Y-%m-%d %H:%M}"),
            ("Templates", str(p.template_count)),
        ]
        if view.retention_deadline is not None:
            rows.append(
                ("Kept until", f"{view.retention_deadline:%Y-%m-%d} unless recognised again")
            )
        for consent in detail.consents:
            state = (
                f"withdrawn {consent.withdrawn_at:%Y-%m-%d}" if consent.withdrawn_at else "in force"
            )
            rows.append(
                (
                    f"Consent {html.escape(consent.version)}",
                    f"given {consent.given_at:%Y-%m-%d}, witnessed by "
                    f"{html.escape(consent.witnessed_by)}, {state}",
                )
            )
        cells = "".join(
            f'<tr><td style="{_LABEL_STYLE}">{label}</td><td>{value}</td></tr>'
            for label, value in rows
        )
        self.detail.setText(
            f'<div style="{_NAME_STYLE}">{html.escape(p.display_name)}</div>'
            f'<table cellspacing="0" cellpadding="3">{cells}</table>'
        )

    def clear(self) -> None:
        self.detail.clear()
        self.access_summary.clear()
