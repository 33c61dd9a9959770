"""The files a backup or an export of templates is written to, and read back from.

A file is a first line naming its kind and format (``face-kiosk backup 1``), a
second line holding its manifest (one JSON object: when, from where, what it
holds, the hash chains' heads; never a person's data), then the payload: for a
backup the ``pg_dump`` archive, for templates JSON lines. The payload is clear,
or sealed with a key file (storage/sealed_stream.py), the two lines then
authenticated with every sealed chunk.

A file is written under a temporary name in its folder, owner-only, and given
its name only once whole (a hard link, which never replaces anything): a file
standing at that name is never overwritten, and a failed write leaves nothing
under it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import BackupFailed
from owned_files.folders import UnsafeEntry, owned_folder
from storage.sealed_stream import Sealer, unseal

FORMAT = 1
_MAX_MANIFEST_BYTES = 65_536
_COPY_BYTES = 1 << 20


@dataclass(frozen=True)
class SealedHeader:
    kind: str
    """"backup" or "templates"."""
    manifest: dict[str, Any]
    encrypted: bool
    raw: bytes = b""
    """The two lines as read from a file: what its sealed chunks authenticate."""

    def lines(self) -> bytes:
        if self.raw:
            return self.raw
        first = f"face-kiosk {self.kind} {FORMAT}\n".encode()
        manifest = {**self.manifest, "encrypted": self.encrypted}
        return first + json.dumps(manifest, sort_keys=True).encode() + b"\n"


class PayloadWriter:
    """Where the payload goes: straight to the file, or through a Sealer."""

    def __init__(self, file: BinaryIO, sealer: Sealer | None) -> None:
        self._file = file
        self._sealer = sealer
        self.clear_bytes = 0

    def write(self, data: bytes) -> None:
        self.clear_bytes += len(data)
        if self._sealer is None:
            self._file.write(data)
        else:
            self._sealer.write(data)

    def finish(self) -> None:
        if self._sealer is not None:
            self._sealer.close()


def refuse_existing(path: Path) -> None:
    """BackupFailed when anything stands at ``path`` (a link included) or its folder is
    missing: checked before the work starts; the final link checks again."""
    if os.path.lexists(path):
        raise BackupFailed(
            f"{path} exists; a backup never overwrites a file: choose a new name or move "
            "the old one away",
            "exists",
        )
    if not path.parent.is_dir():
        raise BackupFailed(
            f"the folder {path.parent} does not exist; create it or name another", "folder"
        )


@contextlib.contextmanager
def written(path: Path, header: SealedHeader, key: bytes | None) -> Iterator[PayloadWriter]:
    """Write ``header``, then what the block writes to the PayloadWriter, to ``path``
    (0600), sealed when ``key`` is given. On leaving normally the file is fsynced and
    takes its name; on an exception nothing is left. Raises BackupFailed when ``path``
    exists (then or by the end), its folder is missing, a link, or the disk fails."""
    refuse_existing(path)
    temporary = f".{path.name}.{secrets.token_hex(8)}.partial"
    try:
        with owned_folder(path.parent) as folder:
            descriptor = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=folder,
            )
            try:
                with os.fdopen(descriptor, "wb", buffering=_COPY_BYTES) as file:
                    lines = header.lines()
                    file.write(lines)
                    sealer = Sealer(key, file, lines) if key is not None else None
                    payload = PayloadWriter(file, sealer)
                    yield payload
                    payload.finish()
                    file.flush()
                    os.fsync(file.fileno())
                try:
                    os.link(temporary, path.name, src_dir_fd=folder, dst_dir_fd=folder)
                except FileExistsError:
                    raise BackupFailed(
                        f"{path} was made by something else while the backup ran; the backup "
                        "was not kept: run it again under a new name",
                        "exists",
                    ) from None
                os.fsync(folder)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=folder)
    except UnsafeEntry as error:
        raise BackupFailed(str(error), "folder") from error
    except OSError as error:
        raise BackupFailed(
            f"cannot write {path}: {error.strerror or error}; free space or choose another folder",
            "disk",
        ) from error


def read_header(file: BinaryIO, kind: str, what: str) -> SealedHeader:
    """The header at the start of ``file``, which is left at the payload. Raises
    BackupFailed when ``file`` is not a face-kiosk ``kind`` file this version reads."""
    first = file.readline(128)
    expected = f"face-kiosk {kind} ".encode()
    if not first.startswith(expected):
        raise BackupFailed(f"{what} is not a face-kiosk {kind} file", "format")
    version = first[len(expected) :].strip()
    if version != str(FORMAT).encode():
        raise BackupFailed(
            f"{what} is a {kind} file of format {version.decode(errors='replace')!r}; this "
            f"face-kiosk reads format {FORMAT}: use the version that made it",
            "format",
        )
    line = file.readline(_MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(line)
        encrypted = manifest.pop("encrypted")
    except (ValueError, KeyError, AttributeError, TypeError) as error:
        raise BackupFailed(f"{what} is damaged: its manifest cannot be read", "format") from error
    if not isinstance(manifest, dict) or not isinstance(encrypted, bool):
        raise BackupFailed(f"{what} is damaged: its manifest cannot be read", "format")
    return SealedHeader(kind, manifest, encrypted, first + line)


def open_for_reading(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise BackupFailed(f"{path} does not exist; give the backup's path", "missing") from None
    except OSError as error:
        raise BackupFailed(f"cannot read {path}: {error.strerror}", "missing") from error


def copy_payload(
    file: BinaryIO, header: SealedHeader, key: bytes | None, target: BinaryIO, what: str
) -> int:
    """The payload after ``header`` (``file`` at its start), opened with ``key`` when
    sealed, into ``target``; the bytes written. Raises BackupFailed for a sealed file
    without a key, WrongKey for a wrong one."""
    if not header.encrypted:
        total = 0
        while chunk := file.read(_COPY_BYTES):
            target.write(chunk)
            total += len(chunk)
        return total
    if key is None:
        raise BackupFailed(
            f"{what} is encrypted; give the key file it was made with: --key-file FILE", "key"
        )
    return unseal(key, file, target, header.lines(), what)
