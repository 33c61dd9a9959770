"""Secret files a setting names (a broker's password, a signing secret, a reader key),
read only once they are verified as the kiosk's own.

A setting that names a file is written by whoever writes kiosk.toml or the service's
environment, and the kiosk, run as root, could open any file at all: /etc/shadow, or
a root-owned single-line key, whose content would then go to a broker the same file
names. So a secret file must be the kiosk account's own secret, checked on the opened
file before a byte is read: a regular file (not a link, FIFO or device: opened
without following a link and without waiting), owned by the kiosk's account, mode
0600 or 0400 exactly, at most a bounded size, and one line of text. Anything else is
refused with one line naming the fix, never read.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from pathlib import Path

from owned_files.entries import folder_owner
from owned_files.folders import owned_folder
from owned_files.inputs import NotARegularFile, open_regular

SECRET_MODES = (0o600, 0o400)


class SecretFileRefused(OSError):
    """A secret file that is not verifiably the kiosk's own secret; ``str()`` is one
    line naming the file, the problem and the fix (never the content)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EPERM, message)

    def __str__(self) -> str:
        return str(self.strerror)


def kiosk_account(data_dir: Path) -> int:
    """The uid whose secrets the kiosk may read: the data folder's owner when run as
    root on another account's folder (that account writes its kiosk.toml), else this
    process's, also when the folder is yet to be made (it will be this process's).
    Raises UnsafeEntry for a link on the way to the folder, OSError else."""
    try:
        with owned_folder(data_dir) as folder:
            return folder_owner(os.fstat(folder))[0]
    except FileNotFoundError:
        return os.geteuid()


def read_secret_file(path: Path, account: int, max_bytes: int) -> str:
    """The one line of text in ``path``, without its line end.

    ``account``: the uid that must own it (kiosk_account). Raises SecretFileRefused
    for a missing file, a link, anything but a regular file, another account's file,
    a mode other than 0600 or 0400, more than ``max_bytes``, no text or more than one
    line, or text that is not UTF-8."""
    try:
        descriptor = open_regular(path, follow_links=False)
    except NotARegularFile as error:
        raise _refused(path, f"is {error.kind}, not a regular file; name a plain file") from None
    except FileNotFoundError:
        raise _refused(
            path, f"does not exist; create it: one line, chmod 600, owned by {_name(account)}"
        ) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refused(path, "is a symbolic link; name the file itself") from None
        raise _refused(
            path, f"cannot be opened ({error.strerror}); make it a plain file of {_name(account)}"
        ) from None
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(descriptor)
        _check(path, info, account, max_bytes)
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _refused(path, f"grew past {max_bytes} bytes while read; it holds one line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(path, "is not UTF-8 text; write the secret as one line of text") from None
    line = text.removesuffix("\n").removesuffix("\r")
    if not line.strip():
        raise _refused(path, "is empty; write the secret on its first line")
    if "\n" in line or "\r" in line:
        raise _refused(path, "holds more than one line; keep only the secret, on one line")
    return line


def _check(path: Path, info: os.stat_result, account: int, max_bytes: int) -> None:
    if info.st_uid != account:
        raise _refused(
            path,
            f"belongs to {_name(info.st_uid)}, not to the kiosk's account {_name(account)}; "
            f"chown it to the account the kiosk runs as: chown {_user(account)} {path}",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode not in SECRET_MODES:
        raise _refused(path, f"has mode {mode:04o}; only its owner may read it: chmod 600 {path}")
    if info.st_size > max_bytes:
        raise _refused(
            path, f"is {info.st_size} bytes; a secret file holds one line of at most {max_bytes}"
        )


def _refused(path: Path, problem: str) -> SecretFileRefused:
    return SecretFileRefused(f"{path} {problem}")


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _name(uid: int) -> str:
    return f"uid {uid} ({_user(uid)})"
