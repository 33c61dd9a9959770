"""The people file of kiosk-admin import is read strictly: a file that cannot be read as
meant is refused whole with one line (exit 2, before any password); a row that is
readable but wrong is refused alone. Photo names stay inside the photo folder, and
the per-row report is owner-only and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from admin.import_command import read_people_file
from admin.import_report import ReportFile
from core.enrollment.consent import (
    MAX_CONSENT_REFERENCE_LENGTH,
    clean_consent_reference,
    consent_text,
    current_consent,
    known_versions,
)
from core.enrollment.import_faces import pool_size
from core.enrollment.import_rows import RowOutcome, RowResult
from core.enrollment.people_file import (
    COLUMNS,
    RawRow,
    parse_people_file,
    person_row,
)
from core.enrollment.photo_folder import PhotoFolder
from core.errors import InvalidValue
from core.import_settings import MAX_ROWS_CEILING, ImportSettings
from tests.cli_fixtures import run

HEADER = "name,badge,groups,valid_from,valid_until,photos,consent_reference,consent_version"
LIMITS = ImportSettings()


def parse(text: str, limits: ImportSettings = LIMITS) -> tuple[RawRow, ...]:
    return parse_people_file(text.encode("utf-8"), "people.csv", limits)


def refusal(data: bytes, limits: ImportSettings = LIMITS) -> str:
    with pytest.raises(InvalidValue) as refused:
        parse_people_file(data, "people.csv", limits)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("people.csv")
    return message


def test_a_spreadsheet_export_is_read_row_by_row_with_its_spreadsheet_row_numbers() -> None:
    text = (
        "\ufeff Badge , NAME,photos,consent_version,consent_reference\r\n"
        'B-1,"Lee, Ann",ann.jpg ; ann2.jpg,v1,HR-1\r\n'
        "\r\n"
        ",,,,\r\n"
        'B-2,"Bo\nChen",bo.jpg,v1,HR-2\r\n'
    )
    rows = parse(text)
    assert [r.row for r in rows] == [2, 5]
    assert rows[0].cells["name"] == "Lee, Ann"
    assert rows[0].cells["groups"] == ""  # an optional column not in the file
    first = person_row(rows[0])
    assert first.photos == ("ann.jpg", "ann2.jpg")
    assert first.groups is None
    assert first.badge == "B-1"
    assert (first.consent_reference, first.consent_version) == ("HR-1", "v1")
    assert set(rows[1].cells) == set(COLUMNS)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("Zoë,B-1\n".encode("latin-1"), "is not UTF-8 text (byte 0xeb"),
        (f"{HEADER}\nAnn,B-1,,,,a.jpg,HR\x00,v1\n".encode(), "NUL character"),
        (b"", "is empty"),
        (f"\n{HEADER}\n".encode(), "starts with a blank line"),
        (f"{HEADER},email\n".encode(), "unknown column 'email'"),
        (f"{HEADER},name\n".encode(), "the column name is named twice"),
        (b"name,badge,photos\n", "no column consent_reference, consent_version"),
        (HEADER.replace(",", ";").encode() + b"\n", "not semicolons"),
        (f"{HEADER}\nLee, Ann,B-1,,,,a.jpg,HR,v1\n".encode(), "row 2: 9 cells where the header"),
        (f'{HEADER}\n"Ann,B-1,,,,a.jpg,HR,v1\n'.encode(), "not valid CSV"),
        (f"{HEADER}\n".encode(), "has a header but no people"),
    ],
)
def test_a_file_that_cannot_be_read_as_meant_is_refused_whole(data: bytes, problem: str) -> None:
    assert problem in refusal(data)


def test_a_huge_cell_or_too_many_rows_are_refused_with_one_line() -> None:
    huge_cell = f"{HEADER}\nAnn,B-1,,,,{'x' * 10_000_000},HR,v1\n".encode()
    assert "a cell is longer than 1,000 characters" in refusal(huge_cell)
    # Under the csv module's own limit, the setting decides.
    long_cell = f"{HEADER}\nAnn,B-1,,,,{'x' * 1001},HR,v1\n".encode()
    assert "bulk_import.max_cell_chars" in refusal(long_cell)
    million = b"name,badge,photos,consent_reference,consent_version\n" + b"a,1,p.jpg,r,v1\n" * (
        1_000_000
    )
    assert "more than 100,000 people (bulk_import.max_rows)" in refusal(million)
    three = (HEADER + "\n" + "Ann,B-1,,,,a.jpg,HR,v1\n" * 3).encode()
    assert "more than 2 people" in refusal(three, ImportSettings(max_rows=2))
    with pytest.raises(ValueError, match="less than or equal"):
        ImportSettings(max_rows=MAX_ROWS_CEILING + 1)


def test_a_file_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "\n" + "Ann,B-1,,,,a.jpg,HR,v1\n" * 100)
    with pytest.raises(InvalidValue, match=r"larger than 1,024 bytes \(bulk_import"):
        read_people_file(path, ImportSettings(max_file_bytes=1024))
    with pytest.raises(InvalidValue, match="is a folder, not a regular file"):
        read_people_file(tmp_path, LIMITS)
    with pytest.raises(InvalidValue, match="cannot be read"):
        read_people_file(tmp_path / "missing.csv", LIMITS)
    assert len(read_people_file(path, LIMITS)) == 100


def test_a_fifo_or_a_device_as_the_people_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "people.csv"
    os.mkfifo(fifo)  # nobody writes it: reading it would wait for ever
    with pytest.raises(InvalidValue, match=r"is a FIFO, not a regular file; give the people file"):
        read_people_file(fifo, LIMITS)
    with pytest.raises(InvalidValue, match=r"is a character device, not a regular file"):
        read_people_file(Path("/dev/zero"), LIMITS)


def cells(**given: str) -> RawRow:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        name="Ann", badge="B-1", photos="a.jpg", consent_reference="HR", consent_version="v1"
    )
    row.update(given)
    return RawRow(2, row)


def test_a_row_reads_its_lists_and_dates() -> None:
    row = person_row(
        cells(groups="Staff; Lab ;", valid_from="2026-01-01", valid_until="2026-12-31")
    )
    assert row.groups == ("Staff", "Lab")
    assert (row.validity.valid_from, row.validity.valid_until) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"badge": "  "}, "no badge"),
        ({"photos": " ; "}, "no photos"),
        ({"valid_from": "01/02/2026"}, "valid_from '01/02/2026' is not a date"),
        ({"valid_until": "20261231"}, "is not a date; write it as YYYY-MM-DD"),
        ({"valid_until": "2026-02-30"}, "is not a date"),
        ({"valid_from": "2026-12-31", "valid_until": "2026-01-01"}, "is after valid until"),
    ],
)
def test_a_wrong_cell_refuses_its_row_alone(given: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidValue, match=problem):
        person_row(cells(**given))


def test_consent_is_given_under_a_known_version_with_a_reference() -> None:
    assert current_consent().version in known_versions()
    assert consent_text("v1") == current_consent()
    for unknown in ("v9", "../CURRENT", "CURRENT", "", "v1.txt"):
        with pytest.raises(InvalidValue, match="is unknown; the known versions are v1"):
            consent_text(unknown)
    assert clean_consent_reference("  HR-2024/17 ") == "HR-2024/17"
    assert clean_consent_reference(" ") is None
    for bad in ("HR\x1b[2K", "x" * (MAX_CONSENT_REFERENCE_LENGTH + 1)):
        with pytest.raises(InvalidValue, match="consent reference must be printable"):
            clean_consent_reference(bad)


def test_photo_names_stay_inside_the_photo_folder(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "ann.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.jpg").write_bytes(b"not for the import")
    (folder / "inside.jpg").symlink_to(folder / "2024" / "ann.jpg")
    (folder / "outside.jpg").symlink_to(tmp_path / "secret.jpg")
    (folder / "up").symlink_to(tmp_path)
    photos = PhotoFolder(folder)
    assert photos.path("2024/ann.jpg") == folder / "2024" / "ann.jpg"
    assert photos.path("inside.jpg") == folder / "2024" / "ann.jpg"  # read where checked
    assert photos.path("missing.jpg") == folder / "missing.jpg"  # reported when read
    for name, problem in (
        (str(tmp_path / "secret.jpg"), "not as an absolute path"),
        ("~/secret.jpg", "not as an absolute path"),
        ("../secret.jpg", 'climbs out of the photo folder with ".."'),
        ("2024/../../secret.jpg", "climbs out"),
        ("outside.jpg", "a link that leads out of the photo folder"),
        ("up/secret.jpg", "a link that leads out of the photo folder"),
        ("a\x00.jpg", "NUL character"),
    ):
        with pytest.raises(InvalidValue, match=problem):
            photos.path(name)
    with pytest.raises(InvalidValue, match="is not a folder"):
        PhotoFolder(folder / "2024" / "ann.jpg")
    with pytest.raises(InvalidValue, match="cannot be opened"):
        PhotoFolder(tmp_path / "nowhere")


def test_the_worker_pool_never_asks_for_more_than_the_cores() -> None:
    assert pool_size(0, 8) == (8, 1)
    assert pool_size(2, 8) == (2, 4)
    assert pool_size(3, 8) == (3, 2)
    assert pool_size(16, 2) == (2, 1)
    assert pool_size(0, 0) == (1, 1)


RESULTS = [
    RowResult(2, "B-1", RowOutcome.ENROLLED),
    RowResult(3, '=HYPERLINK("http://x")', RowOutcome.REFUSED, "@SUM(A1) -x", "invalid_details"),
]


def test_the_report_is_owner_only_and_no_cell_is_a_formula(tmp_path: Path) -> None:
    report = ReportFile(tmp_path / "report.csv")
    # A link planted where the report goes while the import runs is left alone, and
    # never written through; asked to replace, the link itself is replaced.
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "report.csv").symlink_to(victim)
    with pytest.raises(InvalidValue, match="appeared while the import ran and was left alone"):
        report.write(RESULTS)
    assert (tmp_path / "report.csv").is_symlink()
    ReportFile(tmp_path / "report.csv", replace=True).write(RESULTS)
    assert victim.read_text() == "keep me"
    written = tmp_path / "report.csv"
    assert not written.is_symlink()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8"))))
    assert [r["outcome"] for r in rows] == ["enrolled", "refused"]
    assert rows[1]["badge"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["reason"] == "'@SUM(A1) -x"
    as_json = ReportFile(tmp_path / "report.json")
    as_json.write(RESULTS)
    loaded = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert loaded["rows"][1]["badge"] == '=HYPERLINK("http://x")'  # JSON is not run
    assert stat.S_IMODE(os.stat(tmp_path / "report.json").st_mode) == 0o600
    for bad, problem in ((tmp_path, "is a folder"), (tmp_path / "no" / "r.csv", "cannot be")):
        with pytest.raises(InvalidValue, match=problem):
            ReportFile(bad)


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
@pytest.mark.parametrize("kind", ["huge cell", "million rows"])
def test_kiosk_admin_refuses_a_bad_file_with_exit_2_before_any_password(
    tmp_path: Path, kind: str
) -> None:
    people = tmp_path / "people.csv"
    if kind == "huge cell":
        people.write_text(f"{HEADER}\nAnn,B-1,,,,{'x' * 10_000_000},HR,v1\n")
    else:
        people.write_bytes(
            b"name,badge,photos,consent_reference,consent_version\n" + b"a,1,p,r,v1\n" * 1_000_000
        )
    (tmp_path / "photos").mkdir()
    refused = run(
        "import",
        people,
        "--photos",
        tmp_path / "photos",
        "--operator",
        "alice",
        password=None,
        data_dir=tmp_path / "data",
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("kiosk-admin: error: ")
    assert "Traceback" not in refused.stderr
    assert ("a cell is longer" if kind == "huge cell" else "more than 100,000 people") in (
        refused.stderr
    )
