"""Files that survive a power cut and that only their owner reads.

Every file is reached through owned_files: the folder without following a link, the
file opened relative to it (O_NOFOLLOW) and checked on its descriptor, so that root
writing a kiosk user's data folder never writes, chmods or removes a file elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from owned_files.entries import narrow_descriptor, narrow_entry, open_file
from owned_files.folders import owned_folder


def private_folder(folder: Path) -> None:
    """``folder`` exists, 0700, and what this account keeps directly in it is 0600 (0700).
    Raises UnsafeEntry for a link on the way or in its place."""
    with owned_folder(folder, create=True, mode=0o700) as descriptor:
        narrow_descriptor(descriptor, 0o700)
        for name in os.listdir(descriptor):
            narrow_entry(descriptor, name, folder_mode=0o700, file_mode=0o600)


def append_synced(path: Path, data: bytes) -> None:
    """Append ``data`` whole or not at all (a failed write is cut back), fsynced.
    Raises UnsafeEntry for a link, a file with other hard links or another account's
    file (owned_files.entries.open_file); OSError for the rest (a full disk)."""
    descriptor = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
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
