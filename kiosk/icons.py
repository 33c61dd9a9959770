"""The operator screens' icons: line drawings in resources/icons (24x24 SVG, drawn
for this kiosk), in the colour each place needs."""

from __future__ import annotations

import importlib.resources
from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

# The pixel sizes drawn: a navigation icon, a button's, an empty state's.
_SIZES = (16, 20, 24, 32, 48, 64, 96)


@cache
def _drawing(name: str) -> str:
    """The SVG text of ``name``; FileNotFoundError for an icon not in resources/icons."""
    return (importlib.resources.files("resources") / "icons" / f"{name}.svg").read_text("utf-8")


@cache
def icon(name: str, colour: str) -> QIcon:
    """resources/icons/``name``.svg drawn in ``colour`` (a "#rrggbb" the stylesheet
    also uses): the drawings stroke in ``currentColor``, which QtSvg does not know."""
    renderer = QSvgRenderer(QByteArray(_drawing(name).replace("currentColor", colour).encode()))
    if not renderer.isValid():
        raise ValueError(f"resources/icons/{name}.svg is not a valid SVG drawing")
    drawn = QIcon()
    for size in _SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        drawn.addPixmap(pixmap)
    return drawn
