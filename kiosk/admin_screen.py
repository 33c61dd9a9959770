"""The operator's shell: a navigation bar of the pages their role allows, the page's
title, who is logged in, Log out, the door's state and the alerts.

Every page scrolls inside the shell (kiosk.widgets.scroll_page): on a 800x480 screen
nothing is out of reach and the window never grows past the screen."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.records import Operator
from kiosk.confirm_sheet import ConfirmSheet
from kiosk.navigation import NavigationBar
from kiosk.widgets import INK, MessageLabel, scroll_page, secondary_button, with_icon

PAGE_ICONS = {
    "People": "people",
    "Enroll": "enroll",
    "Operators": "operators",
    "Audit": "audit",
    "Settings": "settings",
    "Door": "door",
    "Access rules": "rules",
}
"""Each page's icon in resources/icons, by its title."""
NO_PAGES_TEXT = "Your role has no screens here; use kiosk-admin."
_ROUNDING_PX = 2
_CHIP_MIN_PX = 200
RAIL_PX = 116
"""The navigation bar's width: "Access rules" under its icon, legibly."""


class AdminScreen(QWidget):
    logout_requested = Signal()

    def __init__(self, operator: Operator, pages: list[tuple[str, QWidget]]) -> None:
        super().__init__()
        self.setObjectName("operatorScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.navigation = NavigationBar()
        self.pages = QStackedWidget()
        self._titles: list[str] = []
        for title, page in pages:
            self.navigation.add(title, PAGE_ICONS.get(title, "settings"))
            self.pages.addWidget(scroll_page(page))
            self._titles.append(title)
        if not pages:
            self.pages.addWidget(QLabel(NO_PAGES_TEXT))
        self.title = QLabel("")
        self.title.setObjectName("pageTitle")
        who = QLabel(f"{operator.username} · {operator.role.value}")
        who.setObjectName("who")
        who.setTextFormat(Qt.TextFormat.PlainText)
        self.logout_button = with_icon(secondary_button("Log out"), "logout", INK)
        self.logout_button.clicked.connect(self.logout_requested)
        self.status = MessageLabel()
        self.door_state = DoorStateChip()
        self.alerts = QLabel("")
        self.alerts.setObjectName("alerts")
        self.alerts.setWordWrap(True)
        self.alerts.setTextFormat(Qt.TextFormat.PlainText)
        heading = QVBoxLayout()
        heading.setSpacing(0)
        heading.addWidget(self.title)
        heading.addWidget(who)
        header = QHBoxLayout()
        header.addLayout(heading)
        header.addStretch(1)
        header.addWidget(self.door_state, alignment=Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self.logout_button)
        content = QVBoxLayout()
        content.setContentsMargins(12, 6, 12, 8)
        content.setSpacing(6)
        content.addLayout(header)
        content.addWidget(self.alerts)
        content.addWidget(self.status)
        content.addWidget(self.pages, stretch=1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(_rail(self.navigation))
        layout.addLayout(content, stretch=1)
        self.navigation.page_chosen.connect(self._show_page)
        self.show_alerts("")
        self.show_door_state("")
        self._update_status()
        if pages:
            self.navigation.select(0)

    def page_titles(self) -> list[str]:
        return list(self._titles)

    def open_page(self, title: str) -> None:
        """Show the page called ``title``, as a tap on its navigation button does."""
        self.navigation.select(self._titles.index(title))

    def current_title(self) -> str:
        index = self.navigation.current()
        return self._titles[index] if index >= 0 else ""

    def show_error(self, text: str) -> None:
        self.status.show_error(text)
        self._update_status()

    def show_notice(self, text: str) -> None:
        self.status.show_notice(text)
        self._update_status()

    def show_door_state(self, text: str) -> None:
        """The door hardware's state, open alarms and the door controller's link
        (OSDP); empty without door hardware or a controller."""
        self.door_state.setText(text)
        self.door_state.setVisible(bool(text))

    def show_alerts(self, text: str) -> None:
        """The alerts going on (MQTT, webhooks and here: integrations.alerts); empty: none."""
        self.alerts.setText(text)
        self.alerts.setVisible(bool(text))

    def resizeEvent(self, event: QResizeEvent) -> None:  # Qt's name for the override
        super().resizeEvent(event)
        for sheet in self.findChildren(ConfirmSheet):
            sheet.cover()

    def _show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self.title.setText(self._titles[index])

    def _update_status(self) -> None:
        self.status.setVisible(bool(self.status.text()))


class DoorStateChip(QLabel):
    """The door's state in the header: on one line where the header has room, wrapped
    where it has not (800x480), never so wide that it widens the window."""

    def __init__(self) -> None:
        super().__init__("")
        self.setObjectName("doorState")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setIndent(0)  # the stylesheet's padding is the only space around the text
        # No wider than one line, as narrow as the header needs (then wrapped).
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # Qt's name for the override
        width = self._one_line()
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # Qt's name for the override
        width = min(self._one_line(), _CHIP_MIN_PX)
        return QSize(width, self.heightForWidth(width))

    def _one_line(self) -> int:
        """The text's width on one line, with the stylesheet's padding and border."""
        around = self.contentsMargins()
        text = self.fontMetrics().boundingRect(self.text()).width()
        return text + around.left() + around.right() + 2 * self.margin() + _ROUNDING_PX


def _rail(navigation: NavigationBar) -> QScrollArea:
    """The navigation bar down the left edge; it scrolls on a screen too short for it."""
    rail = QScrollArea()
    rail.setObjectName("navigationRail")
    rail.setWidget(navigation)
    rail.setWidgetResizable(True)
    rail.setFrameShape(QFrame.Shape.NoFrame)
    rail.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    QScroller.grabGesture(rail.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    rail.setFixedWidth(RAIL_PX)
    return rail
