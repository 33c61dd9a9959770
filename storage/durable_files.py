"""Files that survive a power cut and that only their owner reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.owned_files import narrow_mode


def private_folder(folder: Path) -> None:
    """``folder`` exists, 0700, and what this account keeps directly in it is 0600 (0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner = os.geteuid()
    for entry in (folder, *folder.iterdir()):
        info = entry.lstat()
        if info.st_uid != owner or stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
            continue
        narrow_mode(entry, 0o700 if stat.S_ISDIR(info.st_mode) else 0o600)


def append_synced(path: Path, data: bytes) -> None:
    """Append ``data`` whole or not at all (a failed write is cut back), fsynced."""
    descriptor = os.open(
        path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
    )
    try:
        size = os.fstat(descriptor).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        except OSError:
            os.ftruncate(descriptor, size)
            raise
    finally:
        os.close(descriptor)
