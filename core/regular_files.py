"""Reading a file a person named (a photo, a pairs list) without waiting on it.

Opening a FIFO for reading waits for a writer, forever if none comes, and opening
some devices acts. So the path is looked at first and refused unless it is a
regular file, then opened without waiting or taking a terminal, and checked again
on the descriptor that is read. owned_files.inputs does the same for the layers
that may use it; core may not (pyproject.toml's contracts), hence this copy.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """``str()``: one line naming the path and what stands there."""

    def __init__(self, path: Path, mode: int) -> None:
        kind = next((kind for test, kind in _KINDS if test(mode)), "not a file")
        super().__init__(errno.EINVAL, f"{path} is {kind}, not a regular file")

    def __str__(self) -> str:
        return str(self.strerror)


def open_regular_file(path: Path) -> BinaryIO:
    """The regular file ``path`` (links followed), opened to read in binary. Raises
    NotARegularFile, or FileNotFoundError, PermissionError, OSError as open does."""
    if not stat.S_ISREG(mode := os.stat(path).st_mode):
        raise NotARegularFile(path, mode)
    descriptor = os.open(path, _OPEN)
    if not stat.S_ISREG(mode := os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise NotARegularFile(path, mode)
    return os.fdopen(descriptor, "rb")


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of ``path`` (one over: a file too big shows).
    Raises as open_regular_file."""
    with open_regular_file(path) as stream:
        return stream.read(max_bytes + 1)
