"""Files and folders the kiosk writes in a folder that another account may own.

Root may run the kiosk on a data folder a kiosk user owns, and that user can put a
symbolic link (or a hard link) where the kiosk is about to write. So nothing here
goes through a path twice: the folder is reached without following a link
(owned_files.folders), an entry in it is opened once relative to that folder and
never through a link (O_NOFOLLOW), checked on the open descriptor (a regular file
or a real folder, one link, owned by this account or the folder's owner), and
changed through that descriptor (fchown, fchmod). Anything else is refused with
UnsafeEntry.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from owned_files.folders import owned_folder, refused
from owned_files.inputs import file_kind

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Opened for a look only: no terminal taken over, no wait on a FIFO.
_INSPECT = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY
_NO_LINKS = os.O_NOFOLLOW | os.O_CLOEXEC
_TEMPORARY_NAME_BYTES = 8

Owner = tuple[int, int]
"""(uid, gid)"""


def open_file(path: Path, flags: int, owner: Owner | None = None, *, mode: int = FILE_MODE) -> int:
    """A descriptor on the regular file ``path`` (made when ``flags`` has O_CREAT),
    owned by ``owner`` (default: as root, the folder's owner; else this account) and
    no more open than ``mode``. The caller closes it.
    Raises UnsafeEntry for a link (the file's or on the way), a non-regular file, a
    file with other hard links or one another account owns; OSError for the rest."""
    with owned_folder(path.parent) as folder:
        _refuse_special(folder, path)
        # Never a wait on a FIFO swapped in since the look, nor a terminal taken.
        descriptor = _open(path, flags | _NO_LINKS | os.O_NONBLOCK | os.O_NOCTTY, mode, folder)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise refused(path, "is not a plain file of its own")
            _make_owned(descriptor, info, path, owner or folder_owner(os.fstat(folder)), mode)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor


def secure_folder(path: Path, owner: Owner | None = None, *, mode: int = FOLDER_MODE) -> None:
    """Make the folder ``path`` if it is missing (its parent must exist) and leave it a
    real folder owned by ``owner`` (default as for open_file) and no more open than
    ``mode``. Raises UnsafeEntry for a link, a non-folder or another account's folder."""
    with owned_folder(path.parent) as parent:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path.name, FOLDER_MODE, dir_fd=parent)
        descriptor = _open(path, _INSPECT | os.O_DIRECTORY | _NO_LINKS, 0, parent)
        try:
            info = os.fstat(descriptor)
            _make_owned(descriptor, info, path, owner or folder_owner(os.fstat(parent)), mode)
        finally:
            os.close(descriptor)


def replace_file(
    path: Path,
    data: bytes,
    owner: Owner | None = None,
    *,
    mode: int = FILE_MODE,
    durable: bool = False,
) -> None:
    """Replace ``path`` whole with ``data``: a new file, ``mode``, given to ``owner``
    (default as for open_file) through its descriptor, fsynced, then renamed over the
    old one (a link standing there is replaced, never followed). ``durable`` also
    fsyncs the folder, so the rename survives a power cut. Raises UnsafeEntry for a
    link on the way to the folder; OSError for the rest."""
    with owned_folder(path.parent) as folder:
        replace_in(folder, path.name, data, owner or folder_owner(os.fstat(folder)), mode=mode)
        if durable:
            os.fsync(folder)


def replace_in(folder: int, name: str, data: bytes, owner: Owner, *, mode: int = FILE_MODE) -> None:
    """``replace_file`` in a folder already open: ``name`` in ``folder``."""
    temporary = f".{name}.{secrets.token_hex(_TEMPORARY_NAME_BYTES)}"
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_LINKS, mode, dir_fd=folder
    )
    try:
        try:
            info = os.fstat(descriptor)
            if os.geteuid() == 0 and (info.st_uid, info.st_gid) != owner:
                os.fchown(descriptor, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=folder)
        raise


def remove_file(path: Path, *, missing_ok: bool = False) -> None:
    """Remove the entry ``path`` (a link is removed, never followed), its folder
    reached without following a link. Raises FileNotFoundError unless ``missing_ok``."""
    try:
        with owned_folder(path.parent) as folder:
            os.unlink(path.name, dir_fd=folder)
    except FileNotFoundError:
        if not missing_ok:
            raise


def rename_file(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` in their one folder, replacing ``target``."""
    if source.parent != target.parent:
        raise ValueError(f"{source} and {target} are not in one folder")
    with owned_folder(source.parent) as folder:
        os.replace(source.name, target.name, src_dir_fd=folder, dst_dir_fd=folder)


def narrow_entry(folder: int, name: str, *, folder_mode: int, file_mode: int) -> int | None:
    """Take from the entry ``name`` of ``folder`` every permission bit outside
    ``folder_mode`` (a folder) or ``file_mode`` (a plain file), if this account owns
    it; links and anything else are left alone. Returns the mode it had when it was
    narrowed, None when it was left as it was."""
    try:
        seen = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    mode = folder_mode if stat.S_ISDIR(seen.st_mode) else file_mode
    if (
        seen.st_uid != os.geteuid()
        or not (stat.S_ISREG(seen.st_mode) or stat.S_ISDIR(seen.st_mode))
        or not stat.S_IMODE(seen.st_mode) & ~mode
    ):
        return None
    try:
        descriptor = os.open(name, _INSPECT | _NO_LINKS, dir_fd=folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
            return None  # swapped for a link or a socket since the look: not ours to change
        raise
    try:
        info = os.fstat(descriptor)
        if (info.st_dev, info.st_ino, info.st_uid) != (seen.st_dev, seen.st_ino, seen.st_uid):
            return None
        os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & mode)
        return stat.S_IMODE(info.st_mode)
    finally:
        os.close(descriptor)


def narrow_descriptor(descriptor: int, mode: int) -> None:
    """Take from the open file or folder every permission bit outside ``mode``, if this
    account owns it."""
    info = os.fstat(descriptor)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & ~mode:
        os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & mode)


def folder_owner(info: os.stat_result) -> Owner:
    """Whom the kiosk's files in a folder belong to: as root, the folder's owner (so
    a kiosk user can still read what root left in that user's folder); else us."""
    if os.geteuid() == 0 and info.st_uid != 0:
        return info.st_uid, info.st_gid
    return os.geteuid(), os.getegid()


def _make_owned(descriptor: int, info: os.stat_result, path: Path, owner: Owner, mode: int) -> None:
    if info.st_uid not in {os.geteuid(), owner[0]}:
        raise refused(path, "belongs to another account")
    if os.geteuid() == 0 and (info.st_uid, info.st_gid) != owner:
        os.fchown(descriptor, *owner)
    if stat.S_IMODE(info.st_mode) & ~mode:
        os.fchmod(descriptor, stat.S_IMODE(info.st_mode) & mode)


def _refuse_special(folder: int, path: Path) -> None:
    """A FIFO, device or socket at ``path`` is refused before it is opened: opening one
    may wait forever (a FIFO) or act (some devices)."""
    try:
        seen = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(seen.st_mode) or stat.S_ISLNK(seen.st_mode) or stat.S_ISDIR(seen.st_mode)):
        raise refused(path, f"is {file_kind(seen.st_mode)}, not a plain file")


def _open(path: Path, flags: int, mode: int, folder: int) -> int:
    try:
        return os.open(path.name, flags, mode, dir_fd=folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise refused(path, "is a symbolic link") from error
        if error.errno == errno.ENOTDIR:
            raise refused(path, "is not a folder") from error
        raise
