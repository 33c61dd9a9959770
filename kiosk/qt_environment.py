"""Keep OpenCV's bundled Qt plugins away from PySide6."""

from __future__ import annotations

import os
from pathlib import Path

_OPENCV_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


def undo_opencv_qt_paths() -> None:
    """Importing cv2 (opencv-python) points Qt at cv2's own plugins, which do not
    match PySide6's Qt and can stop the window from opening. Import cv2 once here,
    so it has done that, then remove exactly what it set."""
    import cv2

    opencv_dir = Path(cv2.__file__).resolve().parent
    for name in _OPENCV_QT_VARIABLES:
        value = os.environ.get(name)
        if value and Path(value).resolve().is_relative_to(opencv_dir):
            del os.environ[name]
