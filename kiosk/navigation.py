"""The operator screens' navigation bar: one button per page, an icon over its name."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from kiosk.icons import icon

NAVIGATION_COLOUR = "#e2e8f0"
"""Icons and names on the bar's dark background (and on the chosen page's blue)."""
_ICON_PX = 24


class NavigationBar(QWidget):
    """A column of page buttons, exactly one chosen; ``page_chosen`` gives its index.
    Each button is a whole touch target; the bar scrolls (in the admin screen) when
    a screen is too short for all of them."""

    page_chosen = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("navigationBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self.page_chosen)
        self._buttons: list[QToolButton] = []
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(6, 6, 6, 6)
        self._column.setSpacing(2)
        self._column.addStretch(1)

    def add(self, title: str, icon_name: str) -> QToolButton:
        """A button for the next page: ``title`` under resources/icons/``icon_name``."""
        button = QToolButton()
        button.setObjectName("navigationButton")
        button.setText(title)
        button.setIcon(icon(icon_name, NAVIGATION_COLOUR))
        button.setIconSize(QSize(_ICON_PX, _ICON_PX))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setCheckable(True)
        # As wide as the bar, whatever its name: the bar never widens past its rail.
        button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._group.addButton(button, len(self._buttons))
        self._column.insertWidget(len(self._buttons), button)
        self._buttons.append(button)
        return button

    def select(self, index: int) -> None:
        """Choose page ``index`` as a tap on its button does."""
        self._buttons[index].setChecked(True)
        self.page_chosen.emit(index)

    def current(self) -> int:
        """The chosen page's index; -1 before any."""
        return self._group.checkedId()

    def titles(self) -> list[str]:
        return [button.text() for button in self._buttons]

    def buttons(self) -> list[QToolButton]:
        return list(self._buttons)
