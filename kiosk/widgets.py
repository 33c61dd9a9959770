"""Small widgets every operator screen builds the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QScroller,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.icons import icon
from telemetry.safe_text import for_terminal

T = TypeVar("T", bound=QTableWidget)
INK = "#0f172a"
"""The operator screens' text colour, for icons drawn on their light background."""
MUTED = "#64748b"
ON_BLUE = "#ffffff"
EMPTY_ICON_PX = 56
WIDE_WINDOW_PX = 1200
"""A window this wide has room for two forms side by side."""


def title_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("title")  # the stylesheet's handle
    label.setTextFormat(Qt.TextFormat.PlainText)  # names are shown as typed, never as markup
    return label


def password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


def secondary_button(text: str) -> QPushButton:
    """A way back or out (cancel, retake), drawn quieter than the way forward."""
    button = QPushButton(text)
    button.setObjectName("secondary")
    return button


def with_icon(button: QPushButton, name: str, colour: str = ON_BLUE) -> QPushButton:
    """``button`` with resources/icons/``name`` before its text."""
    button.setIcon(icon(name, colour))
    button.setIconSize(QSize(20, 20))
    return button


def scroll_page(widget: QWidget) -> QScrollArea:
    """``widget`` as a page of the operator screens: at its natural size when the
    screen has room, scrolled (bar or finger) when it has not (800x480), so no
    button is ever out of reach and the window never grows past the screen."""
    scroll = QScrollArea()
    scroll.setObjectName("pageScroll")
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    QScroller.grabGesture(scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    return scroll


def headed_table(columns: Sequence[str], *, stretch: int | None = None) -> QTableWidget:
    """A read-only table of whole-row choices: column headings, no row numbers.
    Column ``stretch`` takes the spare width (None: the last)."""
    return headed(QTableWidget(), columns, stretch=stretch)


def headed(table: T, columns: Sequence[str], *, stretch: int | None = None) -> T:
    """``table`` made as headed_table makes a new one."""
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    QScroller.grabGesture(table.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    """``rows`` of plain text (a name is never markup in a table cell)."""
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, text in enumerate(cells):
            table.setItem(row, column, QTableWidgetItem(text))
    table.resizeColumnsToContents()


class EmptyState(QWidget):
    """What a list shows when it has nothing: an icon, a line saying so, a hint,
    and the way to fill it (``action``, hidden unless given a text)."""

    def __init__(self, icon_name: str, headline: str, hint: str = "") -> None:
        super().__init__()
        self.setObjectName("emptyState")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        picture = QLabel()
        picture.setPixmap(icon(icon_name, MUTED).pixmap(EMPTY_ICON_PX, EMPTY_ICON_PX))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.headline = QLabel(headline)
        self.headline.setObjectName("emptyHeadline")
        self.hint = QLabel(hint)
        self.hint.setObjectName("emptyHint")
        for label in (self.headline, self.hint):
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setVisible(bool(hint))
        self.action = QPushButton("")
        self.action.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(picture)
        layout.addWidget(self.headline)
        layout.addWidget(self.hint)
        layout.addWidget(self.action, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def say(self, headline: str, hint: str = "") -> None:
        self.headline.setText(headline)
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))

    def offer(self, text: str, icon_name: str | None = None) -> None:
        """Show the action button as ``text``; connect ``action.clicked`` to it."""
        self.action.setText(text)
        if icon_name is not None:
            with_icon(self.action, icon_name)
        self.action.setVisible(True)


class TableOrEmpty(QStackedWidget):
    """A table, or its empty state in the same place when it has no rows."""

    def __init__(self, table: QTableWidget, empty: EmptyState) -> None:
        super().__init__()
        self.table = table
        self.empty = empty
        self.addWidget(table)
        self.addWidget(empty)

    def show_rows(self, any_rows: bool) -> None:
        self.setCurrentWidget(self.table if any_rows else self.empty)


class SideBySide(QWidget):
    """Parts side by side in a window at least ``wide_px`` wide, one above the other in
    a narrower one (800x480), where the page scrolls instead of overflowing. The
    window's width decides, not the part's own: that one depends on the choice."""

    def __init__(self, parts: Sequence[QWidget], wide_px: int = WIDE_WINDOW_PX) -> None:
        super().__init__()
        self._wide_px = wide_px
        self._layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        for part in parts:
            self._layout.addWidget(part, stretch=1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # Qt's name for the override
        wide = self.window().width() >= self._wide_px
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._layout.direction() != direction:
            self._layout.setDirection(direction)
        super().resizeEvent(event)


class StepStack(QStackedWidget):
    """Steps shown one at a time, sized by the step shown: a long step does not make
    a short one scroll on a small screen (a QStackedWidget takes its largest page's)."""

    def __init__(self) -> None:
        super().__init__()
        self.currentChanged.connect(lambda _: self.updateGeometry())

    def sizeHint(self) -> QSize:  # Qt's name for the override
        shown = self.currentWidget()
        return shown.sizeHint() if shown is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # Qt's name for the override
        shown = self.currentWidget()
        return shown.minimumSizeHint() if shown is not None else super().minimumSizeHint()


class MessageLabel(QLabel):
    """One line of feedback: red for an error, green for a notice."""

    def __init__(self) -> None:
        super().__init__("")
        self.setObjectName("message")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # a name in a message is never markup

    def show_error(self, text: str) -> None:
        self._show(text, "error")

    def show_notice(self, text: str) -> None:
        self._show(text, "notice")

    def clear_message(self) -> None:
        self._show("", "")

    def _show(self, text: str, kind: str) -> None:
        # Messages repeat what people typed or named (a person, a file): a control or
        # bidirectional character shows as its escape, and cannot reorder the line.
        self.setText(for_terminal(text))
        self.setProperty("kind", kind)
        self.style().unpolish(self)  # the stylesheet matches on the property
        self.style().polish(self)
