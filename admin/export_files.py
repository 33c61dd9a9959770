"""The files of ``kiosk-admin export``: each table as CSV and JSON, owner-only.

The export folder is made 0700 (or an empty one is taken and narrowed to that),
and every file in it is created 0600, never over an existing one, through the
folder's descriptor (no link is followed). Templates are written only sealed with
the key file (storage/sealed_stream.py): ``templates.sealed``, one JSON object per
template inside.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula,
and a name typed at enrollment could be one: such a text cell gets a leading
apostrophe in the CSV (OWASP's advice); the JSON holds every value as it is.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from core.errors import BackupFailed
from owned_files.folders import UnsafeEntry, make_folders, owned_folder
from storage.backup_file import SealedHeader, written
from storage.site_export import ExportPart, Row

TEMPLATES_FILE = "templates.sealed"
TEMPLATES_KIND = "templates"
MANIFEST_FILE = "manifest.json"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFolder:
    """A TableSink writing into one new, owner-only folder. ``key`` seals the templates;
    without it they are refused."""

    def __init__(self, folder: Path, key: bytes | None) -> None:
        self.folder = folder
        self._key = key
        self.files: list[str] = []
        self._made = _claim(folder)

    def table(self, part: ExportPart, columns: Sequence[str], rows: Iterable[Row]) -> int:
        if part is ExportPart.TEMPLATES:
            return self._templates(rows)
        count = 0
        with (
            self._file(f"{part.value}.csv") as csv_file,
            self._file(f"{part.value}.json") as json_file,
        ):
            table = csv.writer(csv_file)
            table.writerow(columns)
            json_file.write("[")
            for row in rows:
                table.writerow([_cell(row[name]) for name in columns])
                values = {name: _plain(row[name]) for name in columns}
                json_file.write(("\n " if count == 0 else ",\n ") + _json(values))
                count += 1
            json_file.write("\n]\n" if count else "]\n")
        return count

    def document(self, part: ExportPart, data: dict[str, Any]) -> None:
        with self._file(f"{part.value}.json") as file:
            file.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def manifest(self, data: dict[str, Any]) -> None:
        self.document_named(MANIFEST_FILE, data)

    def document_named(self, name: str, data: dict[str, Any]) -> None:
        with self._file(name) as file:
            file.write(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")

    def _templates(self, rows: Iterable[Row]) -> int:
        if self._key is None:
            raise BackupFailed(
                "templates leave only encrypted: give --key-file FILE with --with-templates",
                "key",
            )
        header = SealedHeader(TEMPLATES_KIND, {"format": "json-lines"}, encrypted=True)
        count = 0
        self.files.append(TEMPLATES_FILE)
        with written(self.folder / TEMPLATES_FILE, header, self._key) as payload:
            for row in rows:
                payload.write((_json({k: _plain(v) for k, v in row.items()}) + "\n").encode())
                count += 1
        return count

    @contextlib.contextmanager
    def _file(self, name: str) -> Iterator[IO[str]]:
        try:
            with owned_folder(self.folder) as folder:
                descriptor = os.open(
                    name,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=folder,
                )
        except (UnsafeEntry, FileExistsError) as error:
            raise BackupFailed(f"cannot write {self.folder / name}: {error}", "folder") from error
        self.files.append(name)
        with open(descriptor, "w", encoding="utf-8", newline="") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())

    def discard(self) -> None:
        """Remove what this export wrote (a failed export leaves no part of itself), and
        the folder if it made it."""
        with contextlib.suppress(OSError), owned_folder(self.folder) as folder:
            for name in self.files:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=folder)
        if self._made:
            with contextlib.suppress(OSError), owned_folder(self.folder.parent) as parent:
                os.rmdir(self.folder.name, dir_fd=parent)


def _claim(folder: Path) -> bool:
    """Make ``folder`` 0700, or take an empty folder of this account and make it 0700;
    whether it was made. Raises BackupFailed for one that holds files, a link or another
    account's."""
    made = False
    try:
        make_folders(folder.parent)
        with contextlib.suppress(FileExistsError), owned_folder(folder.parent) as parent:
            os.mkdir(folder.name, 0o700, dir_fd=parent)
            made = True
        with owned_folder(folder) as descriptor:
            info = os.fstat(descriptor)
            if info.st_uid != os.geteuid():
                raise BackupFailed(f"{folder} belongs to another account; name a new folder")
            if os.listdir(descriptor):
                raise BackupFailed(
                    f"{folder} holds files; an export goes into a new or empty folder: name "
                    "another with --out",
                    "exists",
                )
            if stat.S_IMODE(info.st_mode) & 0o077:
                os.fchmod(descriptor, 0o700)
    except (UnsafeEntry, OSError) as error:
        raise BackupFailed(f"cannot make the export folder {folder}: {error}", "folder") from error
    return made


def _plain(value: Any) -> Any:
    """A database value as a JSON value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    """A database value as a CSV cell: lists joined by ";", objects as JSON."""
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, list):
        text = ";".join(str(v) for v in plain)
    elif isinstance(plain, dict):
        text = _json(plain)
    elif isinstance(plain, bool):
        return "true" if plain else "false"
    elif isinstance(plain, int | float):
        return str(plain)
    else:
        text = str(plain)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _json(value: Any) -> str:
    buffer = io.StringIO()
    json.dump(value, buffer, ensure_ascii=False, separators=(",", ":"))
    return buffer.getvalue()
