"""Owner-only folders and files: what the kiosk keeps names people."""

from __future__ import annotations

import os
import stat
from pathlib import Path

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
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def _is_postgres(path: Path) -> bool:
    return (path / _POSTGRES_MARKER).exists()
