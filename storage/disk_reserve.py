"""Disk space set aside for the spool, given up when the disk fills."""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from owned_files.entries import open_file, remove_file

log = logging.getLogger(__name__)

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskReserve:
    """Exists so that a disk filled by something else (logs, a core dump, another
    program) still leaves the spool room for the events of an outage.

    ``ensure()`` allocates ``size`` bytes to a file of its own (``posix_fallocate``:
    real blocks, not a sparse file); ``give_up()`` deletes it, which frees the
    space for the next write. Not thread-safe: the spool's owner holds a lock.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    @property
    def held(self) -> bool:
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return self.size == 0
        return self.size == 0 or (stat.S_ISREG(info.st_mode) and info.st_size >= self.size)

    def ensure(self) -> bool:
        """Allocate the reserve if it is missing; False if the disk has no room for it."""
        if self.held:
            return True
        try:
            descriptor = open_file(self.path, os.O_WRONLY | os.O_CREAT)  # never through a link
        except OSError as error:
            log.error("cannot make the spool's disk reserve %s: %s", self.path, error.strerror)
            return False
        try:
            os.posix_fallocate(descriptor, 0, self.size)
            os.fsync(descriptor)
        except OSError as error:
            os.ftruncate(descriptor, 0)  # a part of a reserve would only hide the shortage
            if error.errno not in DISK_FULL:
                log.error("cannot reserve disk space in %s: %s", self.path, error.strerror)
            return False
        finally:
            os.close(descriptor)
        return True

    def give_up(self) -> bool:
        """Free the reserved space; False if there was none to free."""
        if self.size == 0:
            return False
        try:
            had = self.path.lstat().st_size > 0
            remove_file(self.path)
        except FileNotFoundError:
            return False
        return had

    def remove(self) -> None:
        remove_file(self.path, missing_ok=True)
