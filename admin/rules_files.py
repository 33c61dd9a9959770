"""Reading and writing the rules file of ``kiosk-admin rules import`` and ``export``.

Both run as root, often in a folder another account may write, so neither trusts
what stands at the path: the import reads only a regular file (a FIFO or a device
would hang it or feed it for ever), and the export writes only a new file or over a
regular one, through a new file in the same folder renamed over it (owned_files),
owner-only. A device node, FIFO, socket, folder or symbolic link at ``--out`` is
refused, never replaced or followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import InvalidValue
from core.rules.rules_file import RulesFile, read_rules_file
from owned_files.entries import replace_in
from owned_files.folders import UnsafeEntry, owned_folder
from owned_files.inputs import NotARegularFile, file_kind, read_regular

_OWNER_ONLY = 0o600


def read_rules_path(path: Path, max_bytes: int) -> RulesFile:
    """The rules file at ``path`` (a regular file of at most ``max_bytes``, UTF-8 with
    or without a byte order mark), read whole and checked. Raises InvalidValue naming
    the file and the fix, RulesFileInvalid naming its line."""
    try:
        data = read_regular(path, max_bytes)  # a FIFO or a device is refused, not waited on
    except NotARegularFile as error:
        raise InvalidValue(f"{error}; give the rules file itself") from error
    except OSError as error:
        raise InvalidValue(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise InvalidValue(
            f"{path} is larger than {max_bytes // 1024} KiB (rules.file_max_kb); "
            "is it the rules file?"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidValue(f"{path} is not UTF-8 text: save it as UTF-8") from error
    return read_rules_file(text, str(path))


def refuse_odd_target(path: Path) -> None:
    """InvalidValue unless ``path`` is missing or a regular file (not a link to one):
    what ``write_private`` may replace."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise InvalidValue(f"cannot write {path}: {error.strerror or error}") from error
    _refuse(path, info.st_mode)


def write_private(path: Path, text: str) -> None:
    """``text`` as ``path``, owner-only (0600) and owned by this account, whole or not
    at all: written to a new file in the same folder and renamed over ``path``. The
    folder is reached without following a link another account could have planted;
    what stands at ``path`` must be a regular file or nothing (checked again just
    before the rename). Raises InvalidValue naming the problem and the fix."""
    try:
        with owned_folder(path.parent) as folder:
            try:
                info = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                _refuse(path, info.st_mode)
            replace_in(
                folder,
                path.name,
                text.encode("utf-8"),
                (os.geteuid(), os.getegid()),
                mode=_OWNER_ONLY,
            )
            os.fsync(folder)
    except UnsafeEntry as error:
        raise InvalidValue(f"{error}; or give another --out") from error
    except OSError as error:
        raise InvalidValue(
            f"cannot write {path}: {error.strerror or error}; give an --out in a folder "
            "you can write"
        ) from error


def _refuse(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else file_kind(mode)
        raise InvalidValue(
            f"{path} is {kind}, not a regular file; the export replaces only a regular "
            "file: give --out a new file name"
        )
