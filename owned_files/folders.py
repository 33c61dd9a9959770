"""Reaching a folder by its path without being led elsewhere by a symbolic link.

The kernel follows every link on a path, and whoever may write a folder on that
path may put a link there, or swap a folder for one, between a check and the
change it guards. So a folder is reached here from ``/`` one name at a time
(``openat``), each name opened without following a link, and what the caller
changes is the descriptor the walk ends on, never the path again.

A link met on the way is followed only when nobody but root (or this account)
can have made it or can change it: the link and the folder holding it belong to
root or this account, and no one else may write that folder (or it is sticky,
like ``/tmp``, where others cannot rename what is not theirs). Such a link is the
administrator's (``/var/run`` -> ``/run``, a data disk mounted elsewhere). The
folder asked for is never a link itself, whoever owns it: it is the folder the
caller is about to change.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

# The kernel's own limit on the links one lookup may follow (MAXSYMLINKS).
_MAX_LINKS = 40
# Search permission is enough to pass through a folder (O_PATH); the folder asked
# for, and any folder a visitor changes, is opened for reading.
_PASS = getattr(os, "O_PATH", os.O_RDONLY)
_READ = os.O_RDONLY | os.O_NONBLOCK
_FOLDER = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH

FolderVisitor = Callable[[int, Path], None]
"""Called with each folder's descriptor (opened for reading) and the path it was reached by."""


class UnsafeEntry(OSError):
    """A link, a non-folder, a non-regular file or another account's entry stands
    where the kiosk would pass, write, chmod or chown: refused, never followed.
    ``str()`` is one line naming the entry and the fix.

    An OSError (EPERM), so that code which carries on after a failed write (the
    spool) carries on; the front ends' layers turn it into core.errors.UnsafeDataEntry."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EPERM, message)

    def __str__(self) -> str:
        return str(self.strerror)


def refused(path: Path | str, problem: str) -> UnsafeEntry:
    """The refusal of ``path``: ``problem`` and the fix, on one line."""
    return UnsafeEntry(
        f"{path} {problem}; the kiosk will not write through it: remove it (its owner may "
        "have put it there) and start again"
    )


def open_folder(
    path: Path, *, create: bool = False, mode: int = 0o777, visit: FolderVisitor | None = None
) -> int:
    """A descriptor (read-only, O_DIRECTORY) on the folder ``path`` (relative paths
    from the working folder), reached without following any link but a trusted one on
    the way, and never a link itself. The caller closes it.

    ``create`` makes missing folders: the last with ``mode``, the others with 0o777
    (the umask applies to both, as for ``mkdir -p``). ``visit`` is called on every
    folder passed, ``/`` and the last included, in order.

    Raises UnsafeEntry for a link that is not trusted, for ``path`` itself being a
    link, or for a name on the way that is not a folder; FileNotFoundError for a
    missing folder without ``create``; OSError for the rest (permissions)."""
    names = list(Path(path).absolute().parts[1:])
    where = Path("/")
    current = _open_root(visit)
    links = 0
    try:
        while names:
            name = names.pop(0)
            last = not names
            flags = (_READ if last or visit is not None else _PASS) | _FOLDER
            opened = _open_name(current, where / name, flags, create, mode if last else 0o777)
            if opened is None:  # a link
                links += 1
                target = _trusted_target(current, where / name, last, links)
                if os.path.isabs(target):
                    os.close(current)
                    current, where = _open_root(visit), Path("/")
                names[:0] = [part for part in Path(target).parts if part != "/"]
                continue
            os.close(current)
            current = opened
            where = where.parent if name == ".." else where / name
            if visit is not None:
                visit(current, where)
        return current
    except BaseException:
        os.close(current)
        raise


@contextlib.contextmanager
def owned_folder(path: Path, *, create: bool = False, mode: int = 0o777) -> Iterator[int]:
    """``open_folder`` as a context: the descriptor is closed on leaving."""
    descriptor = open_folder(path, create=create, mode=mode)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def make_folders(path: Path, mode: int = 0o777) -> None:
    """``mkdir -p``, passing no link but a trusted one; ``path`` itself gets ``mode``
    when made. Raises as open_folder."""
    os.close(open_folder(path, create=True, mode=mode))


def make_folder(path: Path, mode: int = 0o700) -> None:
    """Make the folder ``path`` (its parent must exist); FileExistsError if anything
    stands there already, a link included. Raises as open_folder for the parent."""
    with owned_folder(path.parent) as parent:
        os.mkdir(path.name, mode, dir_fd=parent)


def _open_root(visit: FolderVisitor | None) -> int:
    root = os.open("/", _READ | os.O_DIRECTORY | os.O_CLOEXEC)
    if visit is not None:
        try:
            visit(root, Path("/"))
        except BaseException:
            os.close(root)
            raise
    return root


def _open_name(folder: int, path: Path, flags: int, create: bool, mode: int) -> int | None:
    """The folder ``path``, an entry of ``folder``, made first if missing and ``create``;
    None for a link. Raises UnsafeEntry for anything else that is not a folder."""
    name = path.name or str(path)  # ".." has a name; "/" never comes here
    try:
        descriptor = os.open(name, flags, dir_fd=folder)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(name, mode, dir_fd=folder)
        return _open_name(folder, path, flags, False, mode)
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
    else:
        # O_PATH with O_NOFOLLOW opens a link itself rather than failing: look at what came.
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            return descriptor
        os.close(descriptor)
    if stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
        return None
    raise UnsafeEntry(f"{path} is not a folder; the kiosk needs one there: move it away")


def _trusted_target(folder: int, link: Path, last: bool, links: int) -> str:
    """Where the link ``link`` (an entry of ``folder``) points, if it may be followed."""
    if last:
        raise refused(link, "is a symbolic link")
    if links > _MAX_LINKS:
        raise UnsafeEntry(
            f"{link}: more than {_MAX_LINKS} symbolic links on the way; give a path with fewer"
        )
    if not _only_trusted_can_change(folder, link.name):
        raise UnsafeEntry(
            f"{link} is a symbolic link another account could change; the kiosk will not "
            "pass through it: give the path it points to instead, or have root own the "
            "link and its folder"
        )
    return os.readlink(link.name, dir_fd=folder)


def _only_trusted_can_change(folder: int, name: str) -> bool:
    trusted = {0, os.geteuid()}
    link = os.stat(name, dir_fd=folder, follow_symlinks=False)
    around = os.fstat(folder)
    closed = not around.st_mode & _OTHERS_WRITE or bool(around.st_mode & stat.S_ISVTX)
    return link.st_uid in trusted and around.st_uid in trusted and closed
