"""The live camera picture at the door, with a box around the face being recognized."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

Box = tuple[float, float, float, float]
_BACKGROUND = QColor("#000000")
_BOX_COLOUR = QColor("#38bdf8")
# A stuck or paused recognition must not freeze the preview: it is painted at
# least this often (10 frames per second) whatever recognition does.
LONGEST_UNPAINTED_MS = 100


class CameraView(QWidget):
    """Paints the newest frame, scaled to fit, and the tracked face's box.

    Each camera frame is painted once, scaled straight onto the screen: no
    scaled copy of every frame is made on the GUI thread, which shares the
    cores with recognition.

    A new frame waits for ``present()``, which the door calls when recognition
    has finished a frame, or after ``LONGEST_UNPAINTED_MS`` at the latest.
    Scaling a frame to a full-HD screen keeps both cores busy for a few
    milliseconds (Qt's painter uses threads). Painted as the frame arrived, it
    slowed that very frame's detection and embedding; painted once recognition
    is done with it, it falls in the pause before the next frame, and the box
    is drawn on the frame it was found in.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("preview")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted
        self._frame: QImage | None = None
        self._waiting: QImage | None = None
        self._box: Box | None = None
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(LONGEST_UNPAINTED_MS)
        self._deadline.timeout.connect(self.present)

    @property
    def frame(self) -> QImage | None:
        """The frame painted, not one waiting for ``present()``."""
        return self._frame

    def show_frame(self, frame: QImage) -> None:
        """Painted at ``present()``, or ``LONGEST_UNPAINTED_MS`` from now at the latest."""
        self._waiting = frame
        if not self._deadline.isActive():
            self._deadline.start()

    def show_box(self, box: Box | None) -> None:
        """Drawn with the next frame presented: one paint per camera frame, not two."""
        self._box = box

    def present(self) -> None:
        """Paint the newest frame now, if one is waiting."""
        self._deadline.stop()
        if self._waiting is None:
            return
        self._frame, self._waiting = self._waiting, None
        self.update()

    def clear(self) -> None:
        self._deadline.stop()
        self._frame = None
        self._waiting = None
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
