"""Disk space set aside for the spool, given up when the disk fills."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

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
            return self.size == 0 or self.path.stat().st_size >= self.size
        except FileNotFoundError:
            return False

    def ensure(self) -> bool:
        """Allocate the reserve if it is missing; False if the disk has no room for it."""
        if self.held:
            return True
        try:
            descriptor = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
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
            had = self.path.stat().st_size > 0
            self.path.unlink()
        except FileNotFoundError:
            return False
        return had

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
