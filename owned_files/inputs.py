"""Files the kiosk is given to read: regular files only, and never a wait to find out.

Opening a FIFO for reading waits for a writer, forever if none comes; opening a
terminal may make it the process's controlling terminal; opening some devices acts
(a watchdog starts counting down). So a path given to read is looked at first and
refused unless it is a regular file, then opened without waiting (O_NONBLOCK) or
taking a terminal (O_NOCTTY), and checked again on the descriptor, which is what is
read: a file swapped for a FIFO between the look and the open is still refused.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_OPEN = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class NotARegularFile(OSError):
    """A FIFO, device, socket or folder where a file to read was expected; ``str()``
    is one line naming the path and what stands there."""

    def __init__(self, path: Path | str, mode: int) -> None:
        self.kind = file_kind(mode)
        super().__init__(errno.EINVAL, f"{path} is {self.kind}, not a regular file")

    def __str__(self) -> str:
        return str(self.strerror)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a FIFO", "a folder"...)."""
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def open_regular(path: Path, *, follow_links: bool = True, dir_fd: int | None = None) -> int:
    """A read-only descriptor on the regular file ``path`` (relative to ``dir_fd`` if
    given); the caller closes it. ``follow_links=False`` refuses a symbolic link in
    its last part (ELOOP). Raises NotARegularFile naming what stands there, and
    FileNotFoundError, PermissionError or OSError as os.open does."""
    info = os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_links)
    if not stat.S_ISREG(info.st_mode) and not (not follow_links and stat.S_ISLNK(info.st_mode)):
        raise NotARegularFile(path, info.st_mode)
    flags = _OPEN | (0 if follow_links else os.O_NOFOLLOW)
    descriptor = os.open(path, flags, dir_fd=dir_fd)
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode):
        os.close(descriptor)
        raise NotARegularFile(path, opened.st_mode)
    return descriptor


def read_regular(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of the regular file ``path``: one over the
    limit, so the caller tells a file that is too big (or grew while read). Raises
    as open_regular."""
    descriptor = open_regular(path)
    with os.fdopen(descriptor, "rb") as stream:
        return stream.read(max_bytes + 1)
