"""Sealing a stream of any length with a key file: AES-256-GCM in chunks.

A backup or an export of templates may be gigabytes, more than one AEAD message
should carry, so the stream is cut into chunks, each sealed on its own with
``cryptography``'s AESGCM, in the STREAM construction (Hoang, Reyhanitabar,
Rogaway, Vizár 2015; what age and Tink's streaming AEAD use): a key of the
file's own, derived from the key file and a random salt (HKDF-SHA256), and each
chunk's nonce its number with a last-chunk flag. So a chunk changed, dropped,
repeated or moved, a file cut short after a chunk, or a header changed (it is
authenticated with every chunk) fails to open, and never yields a wrong byte.

Sealed stream: salt (16 bytes), then chunks, each a 4-byte big-endian length and
that many bytes of AES-GCM output (the chunk and its 16-byte tag).

A key file holds one line: 32 random bytes in URL-safe base64 (as a Fernet key).
It is made owner-only and refused when anyone else may read it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import BackupFailed
from owned_files.folders import UnsafeEntry, owned_folder

KEY_BYTES = 32
CHUNK_BYTES = 1 << 20
"""Clear bytes per sealed chunk: part of the format, not a setting."""
_SALT_BYTES = 16
_TAG_BYTES = 16
_LENGTH = struct.Struct(">I")
_COUNTER_BYTES = 11
_MAX_CHUNKS = 1 << (8 * _COUNTER_BYTES)
_INFO = b"face-kiosk sealed stream 1"
# A key line and its line end; a bigger file is not a key file.
_MAX_KEY_FILE_BYTES = 128


class WrongKey(BackupFailed):
    """The key file is not the one the stream was sealed with, or the stream was changed."""


def new_key_file(path: Path) -> None:
    """Write a new random key to ``path``, mode 0600; never over an existing file.
    Raises BackupFailed naming the fix."""
    line = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n"
    try:
        with owned_folder(path.parent) as folder:
            descriptor = os.open(
                path.name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=folder,
            )
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    except FileExistsError:
        raise BackupFailed(
            f"{path} exists; a key file is never overwritten (backups sealed with it would be "
            "lost): choose a new name",
            "exists",
        ) from None
    except FileNotFoundError:
        raise BackupFailed(
            f"the folder {path.parent} does not exist; create it first", "folder"
        ) from None
    except (UnsafeEntry, OSError) as error:
        raise BackupFailed(f"cannot write the key file {path}: {error}", "key") from error


def read_key_file(path: Path) -> bytes:
    """The key in ``path``. Raises BackupFailed when it is missing, a link, another
    account's, readable by others, or not a key file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BackupFailed(
            f"the key file {path} does not exist; give the one the backup was made with, "
            "or make one with kiosk-admin backup-key --out FILE",
            "key",
        ) from None
    except OSError as error:
        raise BackupFailed(
            f"cannot open the key file {path} ({error.strerror}); it must be a plain file, "
            "not a link",
            "key",
        ) from error
    with os.fdopen(descriptor, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BackupFailed(f"the key file {path} is not a regular file", "key")
        if info.st_uid != os.geteuid():
            raise BackupFailed(
                f"the key file {path} belongs to another account; this account must own it",
                "key",
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise BackupFailed(
                f"the key file {path} is readable by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); chmod 600 {path}",
                "key",
            )
        data = stream.read(_MAX_KEY_FILE_BYTES + 1)
    try:
        key = base64.urlsafe_b64decode(data.strip()) if len(data) <= _MAX_KEY_FILE_BYTES else b""
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise BackupFailed(
            f"{path} is not a key file (one line of {KEY_BYTES} bytes in base64); make one "
            "with kiosk-admin backup-key --out FILE",
            "key",
        )
    return key


class Sealer:
    """Writes a sealed stream to ``target``: ``write`` the clear bytes, then ``close``
    (which seals the last chunk; without it the stream does not open).
    ``associated`` is authenticated with every chunk and not written (the caller's
    header, already written in clear)."""

    def __init__(self, key: bytes, target: BinaryIO, associated: bytes) -> None:
        salt = secrets.token_bytes(_SALT_BYTES)
        self._aead = AESGCM(_file_key(key, salt))
        self._associated = associated + salt
        self._target = target
        self._pending = bytearray()
        self._chunks = 0
        self._closed = False
        target.write(salt)

    def write(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) > CHUNK_BYTES:
            self._seal(bytes(self._pending[:CHUNK_BYTES]), last=False)
            del self._pending[:CHUNK_BYTES]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._seal(bytes(self._pending), last=True)
            self._pending.clear()

    def _seal(self, chunk: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._chunks, last), chunk, self._associated)
        self._chunks += 1
        self._target.write(_LENGTH.pack(len(sealed)) + sealed)


def unseal(key: bytes, source: BinaryIO, target: BinaryIO, associated: bytes, what: str) -> int:
    """Open the sealed stream at ``source``'s position into ``target``; the clear bytes
    written. ``what`` names the file in messages. Raises WrongKey for a wrong key or a
    changed stream, BackupFailed for one cut short."""
    salt = source.read(_SALT_BYTES)
    if len(salt) != _SALT_BYTES:
        raise BackupFailed(f"{what} is cut short: it holds no sealed data", "truncated")
    aead = AESGCM(_file_key(key, salt))
    associated += salt
    number = written = 0
    while True:
        header = source.read(_LENGTH.size)
        if not header:
            raise BackupFailed(
                f"{what} is cut short after {written:,} bytes: copy it again from where it "
                "was kept",
                "truncated",
            )
        (length,) = _LENGTH.unpack(header) if len(header) == _LENGTH.size else (-1,)
        if not _TAG_BYTES <= length <= CHUNK_BYTES + _TAG_BYTES:
            raise WrongKey(f"{what} is damaged: a sealed chunk has an impossible length", "key")
        sealed = source.read(length)
        chunk = None
        for last in (False, True):
            try:
                chunk = aead.decrypt(_nonce(number, last), sealed, associated)
            except InvalidTag:
                continue
            break
        if chunk is None:
            raise WrongKey(
                f"{what} cannot be opened with this key file: it is not the key it was sealed "
                "with, or the file was changed",
                "key",
            )
        number += 1
        target.write(chunk)
        written += len(chunk)
        if last:
            if source.read(1):
                raise WrongKey(f"{what} has data after its last sealed chunk", "key")
            return written


def _file_key(key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_INFO).derive(key)


def _nonce(number: int, last: bool) -> bytes:
    if number >= _MAX_CHUNKS:
        raise BackupFailed("the stream is too long to seal", "failed")
    return number.to_bytes(_COUNTER_BYTES, "big") + (b"\x01" if last else b"\x00")
