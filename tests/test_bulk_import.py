"""kiosk-admin import end to end: a CSV built at test time from the package photos (faces
cut from the group photos, and yaoming.jpg), with good rows and a bad row of each kind.

The right rows go in, with their groups, validity and signed consent form; the report
names each refusal; a dry run stores nothing; a second run changes nothing; a file of
good rows only exits 0, with a progress bar on a terminal (one that reports no size
included) and none without one."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import stat
import struct
import subprocess
import termios
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import OperatorService
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.match_settings import MatchSettings
from core.records import Role
from core.rules.model import AccessGroup
from core.service_settings import SecuritySettings
from core.vision.engine import FaceEngine
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from tests.calibration_dataset import face_crops
from tests.cli_fixtures import KIOSK_ADMIN, PASSWORD

pytestmark = pytest.mark.slow
HEADER = ["name", "badge", "groups", "valid_from", "valid_until", "photos"]
HEADER += ["consent_reference", "consent_version"]
AUDITOR_PASSWORD = "brown-cedar-window-9"


@dataclass(frozen=True)
class SitePhotos:
    folder: Path
    people: list[str]
    """Stems of distinct people's photos: NAME.jpg, and NAME_b.jpg, a second photo."""
    outside: Path
    """A good photo outside the folder, for links and absolute paths to point at."""


@pytest.fixture(scope="session")
def site_photos(
    tmp_path_factory: pytest.TempPathFactory,
    face_engine: FaceEngine,
    players_jpg: Path,
    t1_jpg: Path,
    yaoming_jpg: Path,
) -> SitePhotos:
    """Faces cut from players.jpg and t1.jpg that pass the enrollment gate, each of a
    different person (Yao Ming, who is in players.jpg too, left out), with a smaller
    second photo of each; yaoming.jpg; t1.jpg whole (six faces)."""
    root = tmp_path_factory.mktemp("site")
    folder = root / "photos"
    folder.mkdir()
    yao = cv2.imread(str(yaoming_jpg))
    sample = face_engine.assess(yao).sample
    assert sample is not None
    kept = [sample.embedding]
    names: list[str] = []
    for group, scale in ((players_jpg, 3.0), (t1_jpg, 2.0)):
        photo = cv2.imread(str(group))
        for crop in face_crops(face_engine, photo, scale, margin=0.8):
            second = cv2.resize(crop, None, fx=0.85, fy=0.85)
            first, other = face_engine.assess(crop), face_engine.assess(second)
            if first.issues or other.issues or first.sample is None:
                continue
            if any(float(np.dot(first.sample.embedding, k)) >= 0.3 for k in kept):
                continue
            kept.append(first.sample.embedding)
            name = f"person{len(names)}"
            cv2.imwrite(str(folder / f"{name}.jpg"), crop)
            cv2.imwrite(str(folder / f"{name}_b.jpg"), second)
            names.append(name)
    assert len(names) >= 6, f"only {len(names)} usable faces in the package photos"
    cv2.imwrite(str(folder / "yao.jpg"), yao)
    cv2.imwrite(str(folder / "group.jpg"), cv2.imread(str(t1_jpg)))
    outside = root / "outside.jpg"
    cv2.imwrite(str(outside), cv2.imread(str(folder / f"{names[5]}.jpg")))
    (folder / "link.jpg").symlink_to(outside)
    return SitePhotos(folder, names, outside)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def row(name: str, badge: str, photos: str, **cells: str) -> list[str]:
    values = {
        "name": name,
        "badge": badge,
        "photos": photos,
        "consent_reference": f"HR-{badge}",
        "consent_version": "v1",
    }
    values.update(cells)
    return [values.get(column, "") for column in HEADER]


@pytest.fixture
def site(admin_cli, db_engine: Engine, face_engine: FaceEngine, site_photos: SitePhotos):
    """alice's site: a group "Lab", Yao Ming enrolled as Y-1 and one of the file's people
    enrolled already under their badge."""
    admin = SqlOperatorStore(db_engine).find_operator("alice")
    assert admin is not None
    rules = SqlRulesStore(db_engine)
    current = rules.rule_set(actor=admin)
    lab = AccessGroup("Lab", "always", all_doors=True)
    rules.apply_rule_set(
        replace(current, groups=(*current.groups, lab)), actor=admin, dry_run=False
    )
    service = EnrollmentService(face_engine, SqlIdentityStore(db_engine), MatchSettings())
    for name, badge, photo in (
        ("Yao Ming", "Y-1", "yao.jpg"),
        ("Cy Diaz", "B-103", f"{site_photos.people[3]}.jpg"),
    ):
        image = cv2.imread(str(site_photos.folder / photo))
        service.enroll(admin, name, badge, [(photo, image)], current_consent(), True)
    return admin_cli


def people_file(tmp_path: Path, photos: SitePhotos) -> Path:
    p = photos.people
    return write_csv(
        tmp_path / "people.csv",
        [
            row(
                "Ann Lee",
                "B-100",
                f"{p[0]}.jpg;{p[0]}_b.jpg",
                groups="Lab",
                valid_from="2026-01-01",
                valid_until="2030-12-31",
            ),
            row("Bo Chen", "B-101", f"{p[1]}.jpg; {p[1]}_b.jpg"),
            row("Lee, Eve", "B-102", f"{p[2]}.jpg"),
            row("Cy Diaz", "B-103", f"{p[3]}.jpg"),
            row("Missing Photo", "B-104", "nothere.jpg"),
            row("Two Faces", "B-105", "group.jpg"),
            row("No Consent", "B-106", f"{p[4]}.jpg", consent_reference=""),
            row("Yao Again", "B-107", "yao.jpg"),
            row("Dup Badge", "B-114", f"{p[4]}.jpg"),  # good, but for its badge on row 17
            row("Escaper", "B-108", "../outside.jpg"),
            row("Absolute", "B-109", str(photos.outside)),
            row("Linker", "B-110", "link.jpg"),
            row("Old Version", "B-111", f"{p[4]}.jpg", consent_version="v0"),
            row("Nowhere", "B-112", f"{p[5]}.jpg", groups="Night shift"),
            row("Ann's Twin", "B-113", f"{p[0]}_b.jpg"),
            row("Dup Badge Too", "B-114", f"{p[4]}_b.jpg"),
        ],
    )


GOOD = {2: "B-100", 3: "B-101", 4: "B-102"}
# Row: (outcome, audit code, part of the reason).
REFUSED = {
    6: ("unreadable_image", "nothere.jpg does not exist"),
    7: ("face_quality", "group.jpg: 6 faces in image; enrollment needs exactly one"),
    8: ("no_consent", "needs the person's recorded consent"),
    9: ("already_enrolled", "already enrolled as Yao Ming"),
    10: ("duplicate_badge_in_file", "badge B-114 is on rows 10, 17 of this file"),
    11: ("invalid_details", 'climbs out of the photo folder with ".."'),
    12: ("invalid_details", "not as an absolute path"),
    13: ("invalid_details", "a link that leads out of the photo folder"),
    14: ("invalid_details", "consent version 'v0' is unknown"),
    15: ("unknown_group", "Night shift"),
    16: ("duplicate_face_in_file", "shows the same face as row 2 of this file"),
    17: ("duplicate_badge_in_file", "badge B-114 is on rows 10, 17 of this file"),
}


def import_people(cli, people: Path, photos: SitePhotos, *more: str | Path):  # type: ignore[no-untyped-def]
    return cli("import", people, "--photos", photos.folder, "--operator", "alice", *more)


def report_rows(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as report:
        return {int(r["row"]): r for r in csv.DictReader(report)}


def stored(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        people = connection.execute(
            text("SELECT external_ref FROM people WHERE status = 'active' ORDER BY 1")
        ).scalars()
        return {
            "badges": list(people),
            "templates": connection.scalar(text("SELECT count(*) FROM face_templates")),
            "consents": connection.scalar(text("SELECT count(*) FROM consent_records")),
            "enrollments": connection.scalar(
                text("SELECT count(*) FROM audit_events WHERE action LIKE 'person.enroll%'")
            ),
        }


def test_an_import_enrolls_the_good_rows_refuses_each_bad_one_and_is_idempotent(
    site, db_engine: Engine, site_photos: SitePhotos, tmp_path: Path
) -> None:
    people = people_file(tmp_path, site_photos)
    before = stored(db_engine)

    dry = import_people(site, people, site_photos, "--dry-run", "--report", tmp_path / "dry.csv")
    assert dry.returncode == 3, dry.stderr
    assert stored(db_engine) == before  # not a person, template, consent or audit event
    rows = report_rows(tmp_path / "dry.csv")
    assert {n for n, r in rows.items() if r["outcome"] == "would_enroll"} == set(GOOD)
    assert rows[5]["outcome"] == "already_enrolled"
    # A dry run refuses each row as the run does, with the same codes.
    for number, (code, reason) in REFUSED.items():
        assert (rows[number]["outcome"], rows[number]["code"]) == ("refused", code)
        assert reason in rows[number]["reason"], rows[number]
    assert "dry run, nothing stored: 3 would be enrolled, 1 already enrolled" in dry.stdout
    # A report never replaces a file unless asked to: refused before anything else.
    kept = import_people(site, people, site_photos, "--report", tmp_path / "dry.csv")
    assert kept.returncode == 2
    assert kept.stderr == (
        f"kiosk-admin: error: --report {tmp_path / 'dry.csv'} exists; name a new file, or "
        "give --replace-report to replace it\n"
    )
    assert report_rows(tmp_path / "dry.csv") == rows
    assert stored(db_engine) == before

    run = import_people(site, people, site_photos, "--report", tmp_path / "run.csv")
    assert run.returncode == 3, run.stderr
    rows = report_rows(tmp_path / "run.csv")
    assert stat.S_IMODE((tmp_path / "run.csv").stat().st_mode) == 0o600
    assert {n: r["badge"] for n, r in rows.items() if r["outcome"] == "enrolled"} == GOOD
    assert rows[5]["outcome"] == "already_enrolled"
    for number, (code, reason) in REFUSED.items():
        assert rows[number]["outcome"] == "refused", rows[number]
        assert rows[number]["code"] == code, rows[number]
        assert reason in rows[number]["reason"], rows[number]
        assert f"row {number} (badge" in run.stdout  # the terminal names each refusal too
    after = stored(db_engine)
    assert after["badges"] == sorted([*before["badges"], *GOOD.values()])  # type: ignore[list-item]
    assert after["templates"] == before["templates"] + 2 + 2 + 1  # type: ignore[operator]
    # One audit event per enrolled or refused row, the unknown group's too (audited as a
    # single enrollment's refusal is).
    assert after["enrollments"] == before["enrollments"] + len(GOOD) + len(REFUSED)  # type: ignore[operator]
    ann = rows[2]["person_id"]
    with db_engine.connect() as connection:
        consent = connection.execute(
            text("SELECT version, form_reference FROM consent_records WHERE person_id = :p"),
            {"p": ann},
        ).one()
        validity = connection.execute(
            text("SELECT valid_from::text, valid_until::text FROM people WHERE id = :p"),
            {"p": ann},
        ).one()
        groups = connection.execute(
            text(
                "SELECT g.name FROM group_members m JOIN access_groups g "
                "ON g.id = m.group_id WHERE m.person_id = :p"
            ),
            {"p": ann},
        ).scalars()
        evidence = connection.scalar(
            text(
                "SELECT details->>'consent_evidence' FROM audit_events "
                "WHERE action = 'person.enroll' AND target = :p"
            ),
            {"p": ann},
        )
        refusal_codes = connection.execute(
            text(
                "SELECT details->>'reason' FROM audit_events WHERE action = 'person.enroll_refused'"
            )
        ).scalars()
    # The audit log records each refusal with the report's code.
    codes = list(refusal_codes)
    assert codes.count("duplicate_badge_in_file") == 2
    assert codes.count("duplicate_face_in_file") == 1
    assert tuple(consent) == ("v1", "HR-B-100")
    assert tuple(validity) == ("2026-01-01", "2030-12-31")
    assert list(groups) == ["Lab"]
    assert evidence == "signed_form"
    shown = site("show", ann, "--operator", "alice")
    assert "signed form HR-B-100, recorded by alice" in shown.stdout

    again = import_people(
        site, people, site_photos, "--json", "--report", tmp_path / "run.csv", "--replace-report"
    )
    assert again.returncode == 3, again.stderr
    second = {r["row"]: r for r in json.loads(again.stdout)["results"]}
    replaced = report_rows(tmp_path / "run.csv")
    assert {n: r["outcome"] for n, r in replaced.items()} == {
        n: r["outcome"] for n, r in second.items()
    }
    assert stat.S_IMODE((tmp_path / "run.csv").stat().st_mode) == 0o600
    assert {n for n, r in second.items() if r["outcome"] == "already_enrolled"} == {*GOOD, 5}
    assert {n for n, r in second.items() if r["outcome"] == "refused"} == set(REFUSED)
    changed = stored(db_engine)
    assert changed["badges"] == after["badges"]
    assert changed["templates"] == after["templates"]
    assert changed["consents"] == after["consents"]


@pytest.mark.parametrize(
    "columns",
    [100, 0],
    ids=["sized terminal", "terminal of no size"],
)
def test_a_file_of_good_rows_exits_0_with_a_progress_bar_on_a_terminal(
    site, fresh_database: str, site_photos: SitePhotos, tmp_path: Path, columns: int
) -> None:
    controller, terminal = pty.openpty()
    if columns:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    # else as `script -qc ... /dev/null` run without a terminal: a new pseudo-terminal
    # reports 0 columns and 0 lines, where tqdm drew nothing at all.
    # Read while it runs: a terminal's buffer is small, and a bar that fills it blocks.
    shown: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(controller, shown))
    reader.start()
    try:
        done = _import_good_rows(fresh_database, site_photos, tmp_path, stderr=terminal)
    finally:
        os.close(terminal)
        reader.join(30)
        os.close(controller)
    bar = b"".join(shown).decode("utf-8", "replace")
    assert done.returncode == 0, bar
    assert "1 enrolled, 1 already enrolled, 0 refused of 2 rows" in done.stdout
    assert "100%|" in bar
    assert "2/2" in bar
    assert "person/s" in bar


def test_no_progress_bar_without_a_terminal(
    site, fresh_database: str, site_photos: SitePhotos, tmp_path: Path
) -> None:
    done = _import_good_rows(fresh_database, site_photos, tmp_path, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    assert "1 enrolled, 1 already enrolled, 0 refused of 2 rows" in done.stdout
    assert done.stderr == ""


def _import_good_rows(
    database: str, site_photos: SitePhotos, tmp_path: Path, stderr: int
) -> subprocess.CompletedProcess[str]:
    """kiosk-admin import of Ann Lee (new) and Cy Diaz (enrolled by ``site``)."""
    p = site_photos.people
    people = write_csv(
        tmp_path / "good.csv",
        [row("Ann Lee", "B-100", f"{p[0]}.jpg"), row("Cy Diaz", "B-103", f"{p[3]}.jpg")],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    data = tmp_path / "data"  # beside the file: a data folder narrows what lies in it
    env.update(KIOSK_DATA_DIR=str(data), KIOSK_PASSWORD=PASSWORD)
    return subprocess.run(
        [
            *(KIOSK_ADMIN, "--database-url", database, "import", str(people)),
            *("--photos", str(site_photos.folder), "--operator", "alice"),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=120,
        check=False,
    )


def _read_all(descriptor: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # the other end closed (EIO on Linux)
            return
        if not chunk:
            return
        into.append(chunk)


def test_an_auditor_may_not_import_and_the_refusal_is_audited(
    admin_cli, db_engine: Engine, site_photos: SitePhotos, tmp_path: Path
) -> None:
    admin = SqlOperatorStore(db_engine).find_operator("alice")
    assert admin is not None
    OperatorService(SqlOperatorStore(db_engine), SecuritySettings()).add(
        admin, "audrey", Role.AUDITOR, AUDITOR_PASSWORD
    )
    people = write_csv(tmp_path / "one.csv", [row("Ann Lee", "B-100", "person0.jpg")])
    refused = admin_cli(
        "import",
        people,
        "--photos",
        site_photos.folder,
        "--operator",
        "audrey",
        password=AUDITOR_PASSWORD,
    )
    assert refused.returncode == 4, refused.stderr
    assert "is auditor and may not enroll people" in refused.stderr
    with db_engine.connect() as connection:
        denied = connection.scalar(
            text(
                "SELECT target FROM audit_events "
                "WHERE action = 'permission.denied' AND actor = 'audrey'"
            )
        )
        assert connection.scalar(text("SELECT count(*) FROM people")) == 0
    assert denied == "enroll"
