"""The live camera picture at the door, with a box around the face being recognized."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

Box = tuple[float, float, float, float]
_BACKGROUND = QColor("#000000")
_BOX_COLOUR = QColor("#38bdf8")


class CameraView(QWidget):
    """Paints the newest frame, scaled to fit, and the tracked face's box.

    Each camera frame is painted once, scaled straight onto the screen: no
    scaled copy of every frame is made on the GUI thread, which shares the
    cores with recognition.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("preview")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted
        self._frame: QImage | None = None
        self._box: Box | None = None

    @property
    def frame(self) -> QImage | None:
        return self._frame

    def show_frame(self, frame: QImage) -> None:
        self._frame = frame
        self.update()

    def show_box(self, box: Box | None) -> None:
        """Drawn with the next frame: one paint per camera frame, not two."""
        self._box = box

    def clear(self) -> None:
        self._frame = None
        self._box = None
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._frame is None or self._frame.isNull():
            painter.fillRect(self.rect(), _BACKGROUND)
            return
        target = fitted(self._frame.size(), self.rect())
        for bar in outside(target, self.rect()):  # a full-screen fill costs as much as the frame
            painter.fillRect(bar, _BACKGROUND)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._frame)
        if self._box is not None:
            scale = target.width() / self._frame.width()
            x1, y1, x2, y2 = self._box
            painter.setPen(QPen(_BOX_COLOUR, max(2, target.width() // 200)))
            painter.drawRect(
                QRectF(
                    target.x() + x1 * scale,
                    target.y() + y1 * scale,
                    (x2 - x1) * scale,
                    (y2 - y1) * scale,
                )
            )


def fitted(image: QSize, area: QRect) -> QRect:
    """The largest rectangle of the image's shape centred in ``area``."""
    size = image.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    left = area.x() + (area.width() - size.width()) // 2
    top = area.y() + (area.height() - size.height()) // 2
    return QRect(left, top, size.width(), size.height())


def outside(inner: QRect, area: QRect) -> list[QRect]:
    """The bars of ``area`` left, right, above and below ``inner``; none empty."""
    bars = [
        QRect(area.left(), area.top(), inner.left() - area.left(), area.height()),
        QRect(inner.right() + 1, area.top(), area.right() - inner.right(), area.height()),
        QRect(inner.left(), area.top(), inner.width(), inner.top() - area.top()),
        QRect(inner.left(), inner.bottom() + 1, inner.width(), area.bottom() - inner.bottom()),
    ]
    return [bar for bar in bars if bar.width() > 0 and bar.height() > 0]
