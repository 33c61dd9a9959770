"""The people file of a bulk import: a CSV file, read strictly, then each row's cells.

The file as a whole is refused, with one line naming the problem, when it cannot be
read as intended: too large, not UTF-8, a NUL byte, a bad or missing header, a cell
or a row count past the limits of ``[bulk_import]``, or a row with more or fewer
cells than the header (usually a comma in a name without quotes around it, which
shifts every cell after it). Nothing is enrolled from a refused file.

A row whose cells are readable but wrong (a bad date, no photo) is refused alone,
when ``person_row`` reads it: rows are independent.

Columns, in any order, named in the header (case and spaces around names ignored):
name, badge, photos, consent_reference, consent_version (required); groups,
valid_from, valid_until (optional). ``photos`` and ``groups`` hold one or more
values separated by LIST_SEPARATOR; dates are YYYY-MM-DD.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from core.errors import InvalidValue, cut
from core.import_settings import ImportSettings
from core.rules.model import Validity

REQUIRED_COLUMNS = ("name", "badge", "photos", "consent_reference", "consent_version")
OPTIONAL_COLUMNS = ("groups", "valid_from", "valid_until")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
LIST_SEPARATOR = ";"
"""Between photo file names and between group names in one cell; neither may hold it."""

_BOM = "\ufeff"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The csv module's own cap on a cell, met before the setting when a cell is huge.
_CSV_FIELD_LIMIT = "field larger than field limit"


@dataclass(frozen=True)
class RawRow:
    row: int
    """The row's number as a spreadsheet shows it: the header is row 1."""
    cells: Mapping[str, str]
    """Every column of the header, by name; missing optional columns read as ""."""


@dataclass(frozen=True)
class PersonRow:
    """One row's cells read, but not yet checked as an enrollment's details."""

    row: int
    name: str
    badge: str
    photos: tuple[str, ...]
    groups: tuple[str, ...] | None
    """None: the cell is empty, the person joins the site's default group."""
    validity: Validity
    consent_reference: str
    consent_version: str


def parse_people_file(data: bytes, label: str, limits: ImportSettings) -> tuple[RawRow, ...]:
    """Every non-empty row of the CSV file ``data`` (at most
    ``limits.max_file_bytes``: admin.import_command reads it); ``label`` names it in
    errors. Raises InvalidValue, one line naming the file, the row where it applies
    and the fix, if the file is refused."""
    text = _decoded(data, label)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _header(next(reader, None), label, limits)
        rows: list[RawRow] = []
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue  # a blank line, or a row of empty cells
            if len(rows) == limits.max_rows:
                raise InvalidValue(
                    f"{label} has more than {limits.max_rows:,} people "
                    "(bulk_import.max_rows); split it into smaller files"
                )
            rows.append(RawRow(number, _cells(record, header, number, label, limits)))
    except csv.Error as error:
        if _CSV_FIELD_LIMIT in str(error):
            raise InvalidValue(_long_cell(label, reader.line_num, limits)) from error
        raise InvalidValue(
            f"{label}, line {reader.line_num}: not valid CSV ({error}); quote a cell that "
            'holds a comma, a quote or a line break ("like, this")'
        ) from error
    if not rows:
        raise InvalidValue(f"{label} has a header but no people")
    return tuple(rows)


def person_row(raw: RawRow) -> PersonRow:
    """The row's cells as values; raises InvalidValue naming the cell and the fix."""
    cells = raw.cells
    badge = cells["badge"].strip()
    if not badge:
        raise InvalidValue(
            "no badge: every row needs the person's badge number, which tells a person "
            "already enrolled from a new one when the file is imported again"
        )
    photos = _list(cells["photos"])
    if not photos:
        raise InvalidValue(
            f"no photos: give one or more file names in the photo folder, separated by "
            f'"{LIST_SEPARATOR}"'
        )
    groups = _list(cells["groups"])
    try:
        validity = Validity(_day(cells, "valid_from"), _day(cells, "valid_until"))
    except ValueError as error:
        raise InvalidValue(str(error)) from error
    return PersonRow(
        row=raw.row,
        name=cells["name"],
        badge=badge,
        photos=photos,
        groups=groups or None,
        validity=validity,
        consent_reference=cells["consent_reference"],
        consent_version=cells["consent_version"].strip(),
    )


def _decoded(data: bytes, label: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidValue(
            f"{label} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f'{error.start:,}); save it as "CSV UTF-8"'
        ) from error
    if "\x00" in text:
        raise InvalidValue(f"{label} holds a NUL character: it is not a text file; save it as CSV")
    return text.removeprefix(_BOM)  # spreadsheets write one before UTF-8 CSV


def _header(record: list[str] | None, label: str, limits: ImportSettings) -> tuple[str, ...]:
    if record is None or not any(cell.strip() for cell in record):
        raise InvalidValue(
            f"{label} is empty or starts with a blank line; its first line must name the "
            f"columns: {', '.join(REQUIRED_COLUMNS)}"
        )
    if any(len(cell) > limits.max_cell_chars for cell in record):
        raise InvalidValue(_long_cell(label, 1, limits))
    names = tuple(cell.strip().lower() for cell in record)
    if len(names) == 1 and ";" in names[0]:
        raise InvalidValue(
            f"{label}: the header is one cell; separate the columns with commas, not "
            "semicolons (save as CSV UTF-8, comma delimited)"
        )
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidValue(
            f"{label}: unknown column {cut(repr(unknown[0]))}; the columns are {', '.join(COLUMNS)}"
        )
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        raise InvalidValue(f"{label}: the column {repeated} is named twice in the header")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise InvalidValue(f"{label}: the header has no column {', '.join(missing)}")
    return names


def _cells(
    record: list[str], header: tuple[str, ...], number: int, label: str, limits: ImportSettings
) -> dict[str, str]:
    if len(record) != len(header):
        raise InvalidValue(
            f"{label}, row {number}: {len(record)} cells where the header has {len(header)}; "
            'put a cell that holds a comma in double quotes ("Lee, Ann")'
        )
    if any(len(cell) > limits.max_cell_chars for cell in record):
        raise InvalidValue(_long_cell(label, number, limits))
    cells = dict.fromkeys(OPTIONAL_COLUMNS, "")
    cells.update(zip(header, record, strict=True))
    return cells


def _long_cell(label: str, where: int, limits: ImportSettings) -> str:
    return (
        f"{label}, near line {where}: a cell is longer than {limits.max_cell_chars:,} "
        "characters (bulk_import.max_cell_chars); this is not a people file, or a quote "
        "is missing its closing quote"
    )


def _list(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip())


def _day(cells: Mapping[str, str], column: str) -> date | None:
    text = cells[column].strip()
    if not text:
        return None
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as error:
        raise InvalidValue(
            f"{column} {cut(repr(text))} is not a date; write it as YYYY-MM-DD (2027-03-31)"
        ) from error
