"""Owner-only folders and files: what the kiosk keeps names people."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.owned_files import narrow_mode

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# PostgreSQL keeps its data folder owner-only itself, and refuses to start otherwise.
_POSTGRES_MARKER = "PG_VERSION"


def owner_only(folder: Path) -> None:
    """Tighten ``folder`` and everything under it that this account owns: folders to
    0700, files to 0600 (only ever narrower). Links are not followed; what another
    account owns is left alone, and so is a PostgreSQL data folder's content."""
    owner = os.geteuid()
    for current, folders, files in os.walk(folder, followlinks=False):
        _narrow(Path(current), owner, FOLDER_MODE)
        for name in files:
            _narrow(Path(current, name), owner, FILE_MODE)
        # os.walk lists a link to a folder among the folders; neither it nor PostgreSQL's.
        folders[:] = [
            name
            for name in folders
            if not Path(current, name).is_symlink() and not _is_postgres(Path(current, name))
        ]


def _narrow(path: Path, owner: int, mode: int) -> None:
    info = path.lstat()
    if info.st_uid != owner or stat.S_ISLNK(info.st_mode):
        return
    if stat.S_IMODE(info.st_mode) & ~mode:
        narrow_mode(path, mode)  # through a descriptor: a link swapped in is not followed


def _is_postgres(path: Path) -> bool:
    return (path / _POSTGRES_MARKER).exists()


def widen_to_group_search(folder: Path) -> None:
    """``folder`` 0710, changed through a descriptor on the folder itself."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fchmod(descriptor, FOLDER_MODE | stat.S_IXGRP)
    finally:
        os.close(descriptor)
