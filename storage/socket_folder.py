"""Where the embedded server's Unix socket lives: a folder only its users can enter.

Whoever can reach the socket can try to sign in, and whoever can write the folder
can replace the socket with their own; so the folder belongs to the server's user
and is closed to everyone else (root passes anyway). The data folder itself is
used when the socket's path fits in a socket address (107 bytes); a longer path
gets a private folder of its own in the temporary folder, with a random name.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from core.errors import StoreError
from owned_files.folders import make_folder
from storage.server_account import ServerAccount, give_to

SOCKET_NAME = ".s.PGSQL.5432"
_PREFIX = "kiosk-pg-"
# sun_path holds 108 bytes with the final NUL (Linux; BSDs and macOS have 104).
_MAX_SOCKET_PATH = 103 if os.uname().sysname != "Linux" else 107


def is_private(folder: Path, account: ServerAccount) -> bool:
    """A real folder (no symbolic link), owned by the server's user, closed to others."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == account.uid
        and not stat.S_IMODE(info.st_mode) & 0o077
    )


def fits(folder: Path) -> bool:
    return len(os.fsencode(folder / SOCKET_NAME)) <= _MAX_SOCKET_PATH


def choose_socket_folder(pgdata: Path, account: ServerAccount, previous: Path | None) -> Path:
    """The folder the server about to start will put its socket in.

    ``previous``, the folder this handle used before, is used again while it stays
    private (or made again if it is gone), so the URLs handed out keep working
    after a restart. A folder made here is given to the server's user through its
    descriptor, never by name (storage.server_account.give_to): whoever may write
    the temporary folder cannot swap it for a link meanwhile. Raises StoreError when
    no private folder can be had; UnsafeEntry when the folder made was replaced."""
    if fits(pgdata) and is_private(pgdata, account):
        return pgdata
    if previous is not None and previous != pgdata:
        if is_private(previous, account):
            return previous
        try:
            make_folder(previous, 0o700)
        except OSError:
            pass  # taken meanwhile, by a cleaner or someone else: a new one below
        else:
            give_to(previous, account)
            return previous
    for base in (Path(tempfile.gettempdir()), Path("/tmp")):
        if fits(base / f"{_PREFIX}xxxxxxxx"):
            # mkdtemp makes the folder 0700 under a name nobody could have guessed.
            folder = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=base))
            give_to(folder, account)
            return folder
    raise StoreError(
        f"no short private folder for the database socket: {pgdata} is too long and so "
        "is the temporary folder; set TMPDIR to a short folder"
    )


def remove_own_socket_folder(folder: Path, pgdata: Path, account: ServerAccount) -> None:
    """Remove a socket folder this module made, once its server has stopped."""
    if folder != pgdata and folder.name.startswith(_PREFIX) and is_private(folder, account):
        shutil.rmtree(folder, ignore_errors=True)
