"""The operator's shell: who is logged in, the pages their role allows, log out."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.records import Operator
from kiosk.widgets import MessageLabel


class AdminScreen(QWidget):
    logout_requested = Signal()

    def __init__(self, operator: Operator, pages: list[tuple[str, QWidget]]) -> None:
        super().__init__()
        self.setObjectName("operatorScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        who = QLabel(f"Logged in as <b>{operator.username}</b> ({operator.role.value})")
        self.status = MessageLabel()
        self.door_state = QLabel("")
        self.door_state.setObjectName("doorState")
        logout = QPushButton("Log out")
        logout.clicked.connect(self.logout_requested)
        header = QHBoxLayout()
        header.addWidget(who)
        header.addStretch(1)
        header.addWidget(self.status)
        header.addWidget(self.door_state)
        header.addWidget(logout)
        self.navigation = QListWidget()
        self.navigation.setMaximumWidth(220)
        self.pages = QStackedWidget()
        for title, page in pages:
            self.navigation.addItem(title)
            self.pages.addWidget(page)
        if not pages:
            self.pages.addWidget(QLabel("Your role has no screens here; use kiosk-admin."))
        self.navigation.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.navigation.setCurrentRow(0)
        self.alerts = QLabel("")
        self.alerts.setObjectName("alerts")
        self.alerts.setWordWrap(True)
        self.alerts.setStyleSheet("color: #b3261e; font-weight: bold;")
        self.alerts.setVisible(False)
        body = QHBoxLayout()
        body.addWidget(self.navigation)
        body.addWidget(self.pages, stretch=1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.alerts)
        layout.addLayout(body, stretch=1)

    def page_titles(self) -> list[str]:
        return [self.navigation.item(i).text() for i in range(self.navigation.count())]

    def show_error(self, text: str) -> None:
        self.status.show_error(text)

    def show_door_state(self, text: str) -> None:
        """The door hardware's state and open alarms; empty without door hardware."""
        self.door_state.setText(text)

    def show_alerts(self, text: str) -> None:
        """The alerts going on (MQTT, webhooks and here: integrations.alerts); empty: none."""
        self.alerts.setText(text)
        self.alerts.setVisible(bool(text))

    def show_notice(self, text: str) -> None:
        self.status.show_notice(text)
