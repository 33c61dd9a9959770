"""Camera sources: a device, a video file or stream, or a folder of images."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from pydantic import ValidationError

from core.camera_settings import CameraSettings, camera_source_problem
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


def source_from_spec(camera: CameraSettings, limits: ImageLimits) -> FrameSource:
    """The source ``camera.source`` names, once it is what it claims to be: a camera
    device, an allowed stream, or (``camera.allow_files``) a regular video file or a
    folder of images (core.camera_settings says why). Raises ConfigurationError."""
    spec = camera.source
    problem = camera_source_problem(
        spec, allow_files=camera.allow_files, allowed_streams=camera.allowed_streams
    )
    if problem is not None:  # settings built without their checks
        raise ConfigurationError(f"camera {spec!r}: {problem}")
    if spec.isdigit():
        return OpenCvSource(int(spec))
    if "://" in spec:
        return OpenCvSource(spec)
    path = Path(spec).expanduser()
    try:
        found = path.stat()
    except OSError:
        found = None
    if spec.startswith("/dev/"):
        if found is None or not stat.S_ISCHR(found.st_mode):
            raise ConfigurationError(f"camera {spec!r} is not a video device here")
        return OpenCvSource(spec)
    if found is not None and stat.S_ISDIR(found.st_mode):
        return ImageFolderSource(path, camera.folder_fps, limits)
    if found is not None and stat.S_ISREG(found.st_mode):
        return OpenCvSource(str(path))
    raise ConfigurationError(
        f"camera {spec!r}: {path} does not exist; give an existing video file or "
        "folder of images, a device number such as 0, or a stream URL"
        if found is None
        else f"camera {spec!r} is not a regular video file or a folder of images"
    )


def command_line_camera(camera: CameraSettings, spec: str) -> CameraSettings:
    """``camera`` with ``spec``, given on a command line, as its source: the person
    running the program may name a video file or a folder (camera.allow_files).
    Raises ConfigurationError naming what the spec may be."""
    try:
        return CameraSettings.model_validate(
            camera.model_dump() | {"source": spec, "allow_files": True}
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigurationError(
            f"camera {spec[:60]!r}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
