"""Files and folders the kiosk writes in a data folder that another account may own.

Root may run the kiosk on a data folder a kiosk user owns, and that user can put a
symbolic link (or a hard link) where the kiosk is about to write. So nothing here
goes through a path twice: an entry is opened once, never through a link
(O_NOFOLLOW), checked on the open descriptor (a regular file or a real folder, one
link, owned by this account or the folder's owner), and changed through that
descriptor (fchown, fchmod). Anything else is refused with UnsafeDataEntry.

Only the last part of a path is guarded: the folders above it are the
administrator's choice (a data folder may be a link itself).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from core.errors import UnsafeDataEntry

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Opened for a look only: no terminal taken over, no wait on a FIFO.
_INSPECT = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY
_NO_LINKS = os.O_NOFOLLOW | os.O_CLOEXEC

Owner = tuple[int, int]
"""(uid, gid)"""


def open_file(path: Path, flags: int, owner: Owner | None = None, *, mode: int = FILE_MODE) -> int:
    """A descriptor on the regular file ``path`` (made when ``flags`` has O_CREAT),
    owned by ``owner`` (default: as root, the folder's owner; else this account) and
    no more open than ``mode``. The caller closes it.
    Raises UnsafeDataEntry for a link, a non-regular file, a file with other hard
    links or one another account owns; OSError for the rest (disk, permissions)."""
    folder = _open_folder_of(path)
    try:
        descriptor = _open(path, path.name, flags | _NO_LINKS, mode, folder)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise _unsafe(path, "is not a plain file of its own")
            _make_owned(descriptor, info, path, owner or folder_owner(os.fstat(folder)), mode)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor
    finally:
        os.close(folder)


def secure_folder(path: Path, owner: Owner | None = None, *, mode: int = FOLDER_MODE) -> None:
    """Make the folder ``path`` if it is missing (its parent must exist) and leave it a
    real folder owned by ``owner`` (default as for open_file) and no more open than
    ``mode``. Raises UnsafeDataEntry for a link, a non-folder or another account's
    folder."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, FOLDER_MODE)
    parent = _open_folder_of(path)
    try:
        descriptor = _open(path, path.name, _INSPECT | os.O_DIRECTORY | _NO_LINKS, 0, parent)
        try:
            info = os.fstat(descriptor)
            _make_owned(descriptor, info, path, owner or folder_owner(os.fstat(parent)), mode)
        finally:
            os.close(descriptor)
    finally:
        os.close(parent)


def narrow_mode(path: Path, mode: int) -> None:
    """Take from ``path`` every permission bit outside ``mode``, if this account owns
    it and it is a plain file or a folder; links and anything else are left alone."""
    try:
        seen = path.lstat()
    except FileNotFoundError:
        return
    if seen.st_uid != os.geteuid() or not (
        stat.S_ISREG(seen.st_mode) or stat.S_ISDIR(seen.st_mode)
    ):
        return
    if not stat.S_IMODE(seen.st_mode) & ~mode:
        return
    try:
        descriptor = os.open(path, _INSPECT | _NO_LINKS)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
            return  # swapped for a link or a socket since the look: not ours to change
        raise
    try:
        info = os.fstat(descriptor)
        if (info.st_dev, info.st_ino, info.st_uid) == (seen.st_dev, seen.st_ino, seen.st_uid):
            os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & mode)
    finally:
        os.close(descriptor)


def folder_owner(info: os.stat_result) -> Owner:
    """Whom the kiosk's files in a folder belong to: as root, the folder's owner (so
    a kiosk user can still read what root left in that user's folder); else us."""
    if os.geteuid() == 0 and info.st_uid != 0:
        return info.st_uid, info.st_gid
    return os.geteuid(), os.getegid()


def _make_owned(descriptor: int, info: os.stat_result, path: Path, owner: Owner, mode: int) -> None:
    if info.st_uid not in {os.geteuid(), owner[0]}:
        raise _unsafe(path, "belongs to another account")
    if os.geteuid() == 0 and (info.st_uid, info.st_gid) != owner:
        os.fchown(descriptor, *owner)
    if stat.S_IMODE(info.st_mode) & ~mode:
        os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & mode)


def _open_folder_of(path: Path) -> int:
    # The parent may itself be a link (a data folder moved elsewhere): the administrator's choice.
    return os.open(path.parent, _INSPECT | os.O_DIRECTORY | os.O_CLOEXEC)


def _open(path: Path, name: str, flags: int, mode: int, folder: int) -> int:
    try:
        return os.open(name, flags, mode, dir_fd=folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _unsafe(path, "is a symbolic link") from error
        if error.errno == errno.ENOTDIR:
            raise _unsafe(path, "is not a folder") from error
        raise


def _unsafe(path: Path, problem: str) -> UnsafeDataEntry:
    return UnsafeDataEntry(
        f"{path} {problem}; the kiosk will not write through it: remove it (its owner may "
        "have put it there) and start again"
    )
