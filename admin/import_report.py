"""The per-row report of ``kiosk-admin import``: a CSV or JSON file, owner-only.

One line (or object) per row of the people file: the row's number, its badge, the
outcome (enrolled, would_enroll, already_enrolled, refused), the refusal's code and
reason, and the person's id. The reasons name people and files, so the file is
owner-only. It is a new file: one already at its path (a link included) is refused
before the import starts, and never written through, unless the operator asks for it
to be replaced (--replace-report), which renames a new file over it through
owned_files, never following a planted link. A CSV report is opened in spreadsheets: a cell that a
spreadsheet would run as a formula (=, +, -, @ first) is written with a leading
apostrophe, so a name in the people file cannot become a formula in the report.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

from core.enrollment.import_rows import RowResult
from core.errors import InvalidValue, UnsafeDataEntry
from owned_files.entries import open_file, replace_file
from owned_files.folders import UnsafeEntry, owned_folder

FIELDS = ("row", "badge", "outcome", "code", "reason", "person_id")
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")


class ReportFile:
    """Where the report goes, checked before the import starts."""

    def __init__(self, path: Path, *, replace: bool = False) -> None:
        """Raises InvalidValue when the report's folder is missing, the path is a
        folder, or something stands there and ``replace`` is not given; UnsafeDataEntry
        when a link that is not trusted stands on the way."""
        self.path = path.expanduser()
        self.as_json = self.path.suffix.lower() == ".json"
        self.replace = replace
        if self.path.is_dir():
            raise InvalidValue(f"--report {path} is a folder; give a file name (.csv or .json)")
        if not replace and os.path.lexists(self.path):
            raise InvalidValue(
                f"--report {path} exists; name a new file, or give --replace-report to replace it"
            )
        try:
            with owned_folder(self.path.parent):
                pass
        except UnsafeEntry as error:
            raise UnsafeDataEntry(str(error)) from error
        except OSError as error:
            raise InvalidValue(
                f"--report {path}: its folder cannot be opened ({error.strerror or error}); "
                "give a file in an existing folder"
            ) from error

    def write(self, results: Sequence[RowResult]) -> None:
        """Write ``results`` to a new file, or over the old one with ``replace``.
        Raises UnsafeDataEntry as __init__; InvalidValue when a file appeared at the
        path while the import ran (it is left alone)."""
        data = (_as_json(results) if self.as_json else _as_csv(results)).encode("utf-8")
        try:
            if self.replace:
                replace_file(self.path, data)
            else:
                _write_new(self.path, data)
        except UnsafeEntry as error:
            raise UnsafeDataEntry(str(error)) from error
        except FileExistsError as error:
            raise InvalidValue(
                f"--report {self.path} appeared while the import ran and was left alone; "
                "the rows stand: import the file again with a new --report for the report "
                "(nothing changes)"
            ) from error


def _write_new(path: Path, data: bytes) -> None:
    """``data`` in a file made at ``path``, never one that is there (FileExistsError)."""
    descriptor = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def row_data(result: RowResult) -> dict[str, object]:
    return {
        "row": result.row,
        "badge": result.badge,
        "outcome": result.outcome.value,
        "code": result.code,
        "reason": result.reason,
        "person_id": str(result.person_id) if result.person_id else None,
    }


def _as_json(results: Sequence[RowResult]) -> str:
    return json.dumps({"rows": [row_data(r) for r in results]}, ensure_ascii=False, indent=1)


def _as_csv(results: Sequence[RowResult]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for result in results:
        data = row_data(result)
        writer.writerow([_cell(data[name]) for name in FIELDS])
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_FIRST) else text
