"""The keys access tokens are signed with (HS256): DATA_DIR/api/signing-keys.json.

The file is owner-only (0600, its folder 0700) and opened only through owned_files:
never through a link, refused when another account owns it, narrowed to 0600 when
found wider. Every server on the data folder reads the same file, so a token one
issued is accepted by the others.

Rotation (``kiosk-server rotate-signing-key``) adds a new key that signs from then
on and retires the old one: tokens it signed are still accepted until the longest
a token lives (api.access_token_minutes) has passed, then the key is dropped at the
next rotation. A change of the file is seen by a running server at its next
request (the file's identity, time, mode and owner are checked each time, the file
read only when they changed). A file found open to other accounts or owned by another
is refused at that request: no token is issued or accepted (503) until it is fixed
and the key rotated, since its keys may be known. Creation and rotation hold an exclusive lock on
``signing-keys.lock``, so two servers starting at once make one key.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.errors import ConfigurationError, UnsafeDataEntry
from owned_files.entries import folder_owner, open_file, replace_file, secure_folder
from owned_files.folders import UnsafeEntry

FOLDER = "api"
KEYS_FILE = "signing-keys.json"
_LOCK_FILE = "signing-keys.lock"
_KEY_BYTES = 32
# The file holds a few keys; anything larger is not ours.
_MAX_FILE_BYTES = 64 * 1024
# Any permission for the group or others.
_OTHERS_MAY_USE = 0o077


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes
    created_at: datetime
    retired_at: datetime | None = None


class SigningKeys:
    """The signing keys of one data folder, as the file holds them now. Thread-safe:
    the cache of the parsed file is swapped under a lock."""

    def __init__(self, data_dir: Path, token_lifetime: timedelta) -> None:
        self._folder = data_dir / FOLDER
        self._path = self._folder / KEYS_FILE
        self._lifetime = token_lifetime
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int, int] | None = None
        self._keys: tuple[SigningKey, ...] = ()

    @property
    def path(self) -> Path:
        return self._path

    def ensure(self) -> None:
        """Make the folder and the first key when there is none. Raises
        ConfigurationError (UnsafeDataEntry) when the file cannot be made or used."""
        with _guarded(self._path), self._exclusive():
            if not self._exists():
                self._write((_new_key(),))
        self._current_keys()

    def signing_key(self) -> SigningKey:
        """The key new tokens are signed with."""
        return next(key for key in self._current_keys() if key.retired_at is None)

    def verifying_key(self, kid: str, now: datetime | None = None) -> SigningKey | None:
        """The key ``kid`` if tokens it signed may still be accepted: the current one,
        or one retired less than a token's lifetime ago."""
        now = now or datetime.now(UTC)
        for key in self._current_keys():
            if key.kid == kid and (key.retired_at is None or now < key.retired_at + self._lifetime):
                return key
        return None

    def rotate(self, now: datetime | None = None) -> SigningKey:
        """A new signing key; the old one retired now, keys retired longer ago than a
        token lives dropped. Returns the new key."""
        now = now or datetime.now(UTC)
        with _guarded(self._path), self._exclusive():
            kept = [
                key
                if key.retired_at is not None
                else SigningKey(key.kid, key.secret, key.created_at, now)
                for key in self._read()
                if key.retired_at is None or now < key.retired_at + self._lifetime
            ]
            new = _new_key(now)
            self._write((new, *kept))
        return new

    def _current_keys(self) -> tuple[SigningKey, ...]:
        with _guarded(self._path):
            info = os.stat(self._path, follow_symlinks=False)
            self._refuse_unsafe(info)
            seen = (info.st_ino, info.st_mtime_ns, info.st_size, info.st_mode, info.st_uid)
            with self._lock:
                if seen != self._seen:
                    self._keys = self._read()
                    self._seen = seen
                keys = self._keys
        if not any(key.retired_at is None for key in keys):
            raise ConfigurationError(
                f"{self._path} has no current signing key; run kiosk-server rotate-signing-key"
            )
        return keys

    def _refuse_unsafe(self, info: os.stat_result) -> None:
        """Checked at every use, not only when the file is read: a key another account
        could read (or that another account owns, and so could have written) may be
        known to someone else, and tokens signed with it prove nothing. Raises
        UnsafeDataEntry; nothing is signed or accepted until the file is fixed."""
        mode = stat.S_IMODE(info.st_mode)
        # As owned_files makes it: this account's, or (as root) the data folder owner's.
        owner = folder_owner(os.stat(self._folder, follow_symlinks=False))[0]
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid not in {os.geteuid(), owner}
            or mode & _OTHERS_MAY_USE
        ):
            raise UnsafeDataEntry(
                f"the signing keys file {self._path} is not safe (mode {mode:04o}, owner "
                f"uid {info.st_uid}; must be a file of uid {owner} with mode 0600): its "
                "keys may be known to others, so no token is issued or accepted; fix it "
                f"(chown {owner}, chmod 600) and run kiosk-server rotate-signing-key, or "
                "remove it and restart kiosk-server"
            )

    def _exists(self) -> bool:
        try:
            os.stat(self._path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def _read(self) -> tuple[SigningKey, ...]:
        descriptor = open_file(self._path, os.O_RDONLY)
        with os.fdopen(descriptor, "rb") as file:
            data = file.read(_MAX_FILE_BYTES + 1)
        try:
            if len(data) > _MAX_FILE_BYTES:
                raise ValueError("too large")
            document = json.loads(data)
            return tuple(
                SigningKey(
                    kid=str(entry["kid"]),
                    secret=bytes.fromhex(entry["secret"]),
                    created_at=datetime.fromisoformat(entry["created_at"]),
                    retired_at=(
                        datetime.fromisoformat(entry["retired_at"])
                        if entry.get("retired_at")
                        else None
                    ),
                )
                for entry in document["keys"]
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(
                f"{self._path} is not a signing keys file ({error}); remove it and restart "
                "kiosk-server to make a new key (every token issued so far is then refused)"
            ) from error

    def _write(self, keys: tuple[SigningKey, ...]) -> None:
        document = {
            "keys": [
                {
                    "kid": key.kid,
                    "secret": key.secret.hex(),
                    "created_at": key.created_at.isoformat(),
                    "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                }
                for key in keys
            ]
        }
        replace_file(self._path, json.dumps(document, indent=1).encode(), durable=True)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        secure_folder(self._folder)
        descriptor = open_file(self._folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def _new_key(now: datetime | None = None) -> SigningKey:
    return SigningKey(
        kid=secrets.token_hex(8),
        secret=secrets.token_bytes(_KEY_BYTES),
        created_at=now or datetime.now(UTC),
    )


@contextmanager
def _guarded(path: Path) -> Iterator[None]:
    """OSError and owned_files' refusals as the one-line errors of core.errors."""
    try:
        yield
    except UnsafeEntry as error:
        raise UnsafeDataEntry(str(error)) from error
    except OSError as error:
        raise ConfigurationError(
            f"the signing keys file {path} cannot be used ({error.strerror or error}); "
            "check the data folder's owner and permissions"
        ) from error
