"""The ``[camera]`` section: which camera the door reads, and what else may stand for
one. Apart from core.settings to keep that module short; it is one of its sections.

A camera source is opened by root, with OpenCV and FFmpeg behind it, and shown on
the door's screen. Left open, it could name any folder of pictures or any video
root may read, or any URL FFmpeg can fetch (``file://``, ``http://`` to a service
on the kiosk's network): whoever sets it (an admin on the Settings screen, the
owner of kiosk.toml) would read or reach through the kiosk what they otherwise
cannot. So a source is a camera (a device number, ``/dev/videoN``, a udev name under
``/dev/v4l/``), or a stream ``camera.allowed_streams`` lists; a video file or a
folder of images only where ``camera.allow_files`` is on (demonstrations, tests;
``--camera`` on the command line turns it on for that run).
"""

from __future__ import annotations

import re
import urllib.parse

from pydantic import Field, ValidationInfo, field_validator

from core.settings_base import Section as _Section

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
MAX_DEVICE_NUMBER = 63
_DEVICE_NUMBER = re.compile(r"^[0-9]{1,2}$")
_DEVICE_PATH = re.compile(r"^/dev/(video[0-9]{1,2}|v4l/by-(id|path)/[A-Za-z0-9._:+-]{1,200})$")


def camera_source_problem(
    source: str, *, allow_files: bool, allowed_streams: tuple[str, ...]
) -> str | None:
    """Why ``source`` may not be used as the door's camera, with the fix; None if it may.

    Judged by its text alone: frames.sources then opens it, and checks that a device
    is one and a file is a regular file."""
    if _DEVICE_NUMBER.match(source) and int(source) <= MAX_DEVICE_NUMBER:
        return None
    if _DEVICE_PATH.match(source):
        return None
    if "://" in source or source.split(":", 1)[0].lower() in _FFMPEG_PROTOCOLS:
        return _stream_problem(source, allowed_streams)
    if allow_files:
        return None
    return (
        f"not a camera (a device number 0-{MAX_DEVICE_NUMBER}, /dev/videoN or /dev/v4l/...) "
        "nor an allowed stream; a video file or a folder of images is for demonstrations "
        "and tests: set camera.allow_files = true in kiosk.toml, or give it with --camera"
    )


# Protocols FFmpeg takes without "://" ("concat:", "subfile:"...): never a camera here.
_FFMPEG_PROTOCOLS = frozenset(
    {"concat", "subfile", "file", "pipe", "fd", "data", "crypto", "cache", "async", "tee"}
)


def _stream_problem(source: str, allowed_streams: tuple[str, ...]) -> str | None:
    parts = urllib.parse.urlsplit(source)
    if parts.scheme.lower() not in STREAM_SCHEMES:
        return (
            f"a {parts.scheme or 'bare'} address, not a stream; a stream is "
            f"{', '.join(s + '://' for s in STREAM_SCHEMES)} only"
        )
    if not any(_within(parts, allowed) for allowed in allowed_streams):
        return (
            "a stream camera.allowed_streams does not list; add its address there "
            "(e.g. rtsp://10.0.0.5:554/) in kiosk.toml"
        )
    return None


def _within(parts: urllib.parse.SplitResult, allowed: str) -> bool:
    """Same scheme, host and port as ``allowed``, and a path under its path."""
    wanted = urllib.parse.urlsplit(allowed)
    try:
        same_port = parts.port == wanted.port
    except ValueError:  # a port that is not a number
        return False
    return (
        parts.scheme.lower() == wanted.scheme.lower()
        and (parts.hostname or "") == (wanted.hostname or "")
        and same_port
        and parts.path.startswith(wanted.path)
    )


class CameraSettings(_Section):
    # Before ``source``: its check reads them.
    allow_files: bool = Field(
        False,
        description="Let camera.source name a video file or a folder of images, for "
        "demonstrations and tests; off, only a camera or an allowed stream. Set in "
        "kiosk.toml or by --camera, never from the database.",
    )
    allowed_streams: tuple[str, ...] = Field(
        (),
        max_length=16,
        description="Streams camera.source may name: rtsp://, rtsps://, http:// or https:// "
        "addresses; a source must have one's scheme, host and port, and a path under its path.",
    )
    source: str = Field(
        "0",
        min_length=1,
        max_length=1000,
        description="A camera (device number, /dev/videoN or /dev/v4l/...), a stream "
        "camera.allowed_streams lists, or, with camera.allow_files, a video file or a "
        "folder of images.",
    )
    folder_fps: float = Field(
        15.0, gt=0, le=120, description="Frames per second when the source is a folder."
    )

    @field_validator("allowed_streams")
    @classmethod
    def _streams(cls, streams: tuple[str, ...]) -> tuple[str, ...]:
        for stream in streams:
            parts = urllib.parse.urlsplit(stream)
            if parts.scheme.lower() not in STREAM_SCHEMES or not parts.hostname:
                raise ValueError(
                    f"{stream[:60]!r} is not a stream address; give e.g. rtsp://10.0.0.5:554/"
                )
        return streams

    @field_validator("source")
    @classmethod
    def _usable(cls, source: str, info: ValidationInfo) -> str:
        problem = camera_source_problem(
            source,
            allow_files=bool(info.data.get("allow_files", False)),
            allowed_streams=tuple(info.data.get("allowed_streams", ())),
        )
        if problem is not None:
            raise ValueError(problem)
        return source
