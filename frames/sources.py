"""Camera sources: a device, a video file or stream, or a folder of images."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core.errors import ConfigurationError, ImageRejected
from core.faces import BGRImage
from core.settings import ImageLimits
from core.vision.imagefile import IMAGE_SUFFIXES, SUPPORTED_FORMATS, read_image_file

# OpenCV prints its own errors for a missing camera; the kiosk reports that itself.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class CameraLost(Exception):
    """The source stopped giving frames; the capture thread reconnects."""


class FrameSource(Protocol):
    @property
    def frame_interval_s(self) -> float:
        """Seconds between frames the capture thread should keep; 0 when the source paces itself."""
        ...

    def open(self) -> None:
        """Raise CameraLost if the source cannot be opened now."""
        ...

    def read(self) -> BGRImage:
        """The next frame; raise CameraLost when there is none."""
        ...

    def close(self) -> None: ...


class OpenCvSource:
    """A camera index, a video file or a stream URL, through OpenCV."""

    def __init__(self, spec: int | str) -> None:
        self._spec = spec
        self._capture: cv2.VideoCapture | None = None
        self._interval = 0.0

    @property
    def frame_interval_s(self) -> float:
        return self._interval

    def open(self) -> None:
        capture = cv2.VideoCapture(self._spec)
        if not capture.isOpened():
            capture.release()
            raise CameraLost(f"camera {self._spec} cannot be opened")
        self._capture = capture
        # A file is read as fast as asked; play it at its own speed. Cameras pace themselves.
        fps = capture.get(cv2.CAP_PROP_FPS) if isinstance(self._spec, str) else 0.0
        self._interval = 1.0 / fps if fps and fps > 0 else 0.0

    def read(self) -> BGRImage:
        if self._capture is None:
            raise CameraLost("camera is not open")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraLost(f"camera {self._spec} gave no frame")
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(frame[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class ImageFolderSource:
    """The images of a folder in name order, at ``fps``, looping: a camera for
    tests, demonstrations and the benchmark. Images are decoded once, on open."""

    def __init__(self, folder: Path, fps: float, limits: ImageLimits, loop: bool = True) -> None:
        self._folder = folder
        self._interval = 1.0 / fps
        self._limits = limits
        self._loop = loop
        self._frames: list[BGRImage] = []
        self._next = 0

    @property
    def frame_interval_s(self) -> float:
        return self._interval

    def open(self) -> None:
        if not self._folder.is_dir():
            raise CameraLost(f"image folder {self._folder} is missing")
        frames = []
        for path in sorted(p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                frames.append(read_image_file(path, self._limits))
            except ImageRejected:
                continue  # a bad file in the folder is skipped like a dropped frame
        if not frames:
            raise CameraLost(
                f"no readable images ({', '.join(SUPPORTED_FORMATS)}) in {self._folder}"
            )
        self._frames, self._next = frames, 0

    def read(self) -> BGRImage:
        if self._next >= len(self._frames):
            if not self._loop or not self._frames:
                raise CameraLost(f"image folder {self._folder} has no more frames")
            self._next = 0
        frame = self._frames[self._next]
        self._next += 1
        return frame

    def close(self) -> None:
        self._frames = []


def source_from_spec(spec: str, limits: ImageLimits, fps: float) -> FrameSource:
    """``0``/``1``… a device; an existing folder: its images; else a file or URL."""
    if spec.isdigit():
        return OpenCvSource(int(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps, limits)
    if path.is_file() or "://" in spec:
        return OpenCvSource(str(path) if path.is_file() else spec)
    if not path.exists():
        raise ConfigurationError(
            f"camera {spec!r}: {path} does not exist; give an existing video file or "
            "folder of images, a device number such as 0, or a stream URL"
        )
    raise ConfigurationError(
        f"camera {spec!r} is neither a device number, a folder, a video file nor a URL"
    )
