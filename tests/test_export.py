"""kiosk-admin export: what each operator may take out, as files only its owner reads."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator, OperatorService
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, Role
from core.settings import SecuritySettings
from storage.backup_file import copy_payload, read_header
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.sealed_stream import read_key_file
from tests.cli_fixtures import PASSWORD, as_json, run

pytestmark = pytest.mark.slow

RNG = np.random.default_rng(28)
ENROLLER_PASSWORD = "quiet-river-stone-42"
AUDITOR_PASSWORD = "brown-cedar-window-9"
FORMULA_NAME = '=HYPERLINK("http://evil.example","Ann")'


@pytest.fixture
def admin(admin_cli, db_engine: Engine) -> Operator:
    return Authenticator(SqlOperatorStore(db_engine), SecuritySettings(), "t").authenticate(
        "alice", PASSWORD
    )


@pytest.fixture
def site(admin: Operator, db_engine: Engine) -> list[str]:
    """Two people with templates and one whose consent was withdrawn; an enroller and an
    auditor. The people's ids."""
    store = SqlIdentityStore(db_engine)
    people = []
    # Bo Chen's consent is a signed form's (a bulk import), the others' given in person.
    for name, ref, form in (
        (FORMULA_NAME, "B-1", None),
        ("Bo Chen", "B-2", "HR-2026-0042"),
        ("Cy Dee", None, None),
    ):
        vectors = RNG.standard_normal((2, 512)).astype(np.float32)
        people.append(
            store.enroll(
                Enrollment(
                    name,
                    ref,
                    ConsentGrant("v1", "ab" * 32, admin, form_reference=form),
                    tuple(NewTemplate(v / np.linalg.norm(v), "m@1", 0.9) for v in vectors),
                )
            )
        )
    store.withdraw_consent(people[2], admin)
    operators = OperatorService(SqlOperatorStore(db_engine), SecuritySettings())
    operators.add(admin, "erin", Role.ENROLLER, ENROLLER_PASSWORD)
    operators.add(admin, "audra", Role.AUDITOR, AUDITOR_PASSWORD)
    return [str(p) for p in people]


def templates(engine: Engine) -> list[np.ndarray]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT embedding::real[] FROM face_templates")).all()
    return [np.array(row[0], dtype=np.float32) for row in rows]


def clear_forms(vector: np.ndarray) -> list[bytes]:
    """How a template would show if it were written in clear: raw floats, or numbers."""
    forms = [vector[:4].tobytes()]
    for value in vector[:3]:
        forms += [repr(float(value)).encode(), str(value).encode(), f"{value:.6f}".encode()]
    return forms


def test_an_admins_export_holds_every_part_owner_only_and_no_template_in_clear(
    admin_cli, site: list[str], db_engine: Engine, tmp_path: Path
) -> None:
    key = tmp_path / "export.key"
    assert run("backup-key", "--out", key, data_dir=tmp_path).returncode == 0
    out = tmp_path / "export"
    manifest = as_json(
        admin_cli(
            "export", "--out", out, "--with-templates", "--key-file", key,
            "--operator", "alice", "--json",
        )
    )  # fmt: skip
    assert manifest["left_out"] == {}
    assert manifest["rows"]["people"] == 3
    assert manifest["rows"]["templates"] == 4  # the withdrawn person's are gone
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    files = {p.name: p for p in out.iterdir()}
    for part in ("people", "consents", "operators", "access_log", "audit_log"):
        assert {f"{part}.csv", f"{part}.json"} <= set(files)
    assert {"rules.json", "templates.sealed", "manifest.json"} <= set(files)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files.values())

    stored = templates(db_engine)
    with db_engine.connect() as connection:
        hashes = connection.scalars(text("SELECT password_hash FROM operators")).all()
    for path in files.values():
        content = path.read_bytes()
        for vector in stored:
            for form in clear_forms(vector):
                assert form not in content, (path.name, form)
        for password_hash in hashes:
            assert password_hash.encode() not in content, path.name

    with files["templates.sealed"].open("rb") as file:
        header = read_header(file, "templates", "templates.sealed")
        assert header.encrypted
        with pytest.raises(Exception, match="is encrypted; give the key file"):
            copy_payload(file, header, None, io.BytesIO(), "templates.sealed")
        clear = io.BytesIO()
        copy_payload(file, header, read_key_file(key), clear, "templates.sealed")
    # The check above would have seen them: the clear templates show in those forms.
    for vector in stored:
        assert any(form in clear.getvalue() for form in clear_forms(vector)[1:])
    exported = [json.loads(line) for line in clear.getvalue().decode().splitlines()]
    assert {row["person_id"] for row in exported} == set(site[:2])
    for row in exported:
        vector = np.array(row["embedding"], dtype=np.float32)
        assert max(float(vector @ v) for v in stored) == pytest.approx(1.0, abs=1e-5)

    people = list(csv.DictReader(files["people.csv"].open(encoding="utf-8")))
    by_id = {row["person_id"]: row for row in people}
    assert by_id[site[0]]["name"] == "'" + FORMULA_NAME  # never a formula in a spreadsheet
    assert by_id[site[0]]["badge"] == "B-1"
    assert by_id[site[0]]["groups"] == "everyone"
    assert {row["person_id"]: row for row in json.loads(files["people.json"].read_text())}[site[0]][
        "name"
    ] == FORMULA_NAME
    consents = json.loads(files["consents.json"].read_text())
    withdrawn = [c for c in consents if c["withdrawn_at"] is not None]
    assert [(c["person_id"], c["withdrawn_by"]) for c in withdrawn] == [(site[2], "alice")]
    # The signed form a consent was recorded from, in both forms of the file.
    forms = {c["person_id"]: c["form_reference"] for c in consents}
    assert forms == {site[0]: None, site[1]: "HR-2026-0042", site[2]: None}
    consent_rows = csv.DictReader(files["consents.csv"].open(encoding="utf-8"))
    assert {c["person_id"]: c["form_reference"] for c in consent_rows} == {
        site[0]: "",
        site[1]: "HR-2026-0042",
        site[2]: "",
    }
    operators = json.loads(files["operators.json"].read_text())
    assert {o["username"]: o["role"] for o in operators} == {
        "alice": "admin",
        "erin": "enroller",
        "audra": "auditor",
    }
    assert all(set(o) == {"username", "role", "disabled", "created_at"} for o in operators)
    rules = json.loads(files["rules.json"].read_text())
    (everyone,) = rules["groups"]
    assert set(everyone["members"]) == set(site)  # withdrawn consent: still listed
    with db_engine.connect() as connection:
        audited = connection.execute(
            text("SELECT actor, details FROM audit_events WHERE action = 'data.exported'")
        ).one()
    assert audited.actor == "alice"
    assert audited.details["parts"]["templates"] == 4


def test_each_role_exports_only_what_it_may_see(admin_cli, site: list[str], tmp_path: Path) -> None:
    enroller = as_json(
        admin_cli("export", "--out", tmp_path / "erin", "--operator", "erin", "--json",
                  password=ENROLLER_PASSWORD)
    )  # fmt: skip
    assert set(enroller["rows"]) == {"people", "consents", "rules"}
    assert set(enroller["left_out"]) == {"operators", "access_log", "audit_log"}
    assert not (tmp_path / "erin" / "audit_log.csv").exists()
    auditor = as_json(
        admin_cli("export", "--out", tmp_path / "audra", "--operator", "audra", "--json",
                  password=AUDITOR_PASSWORD)
    )  # fmt: skip
    assert set(auditor["rows"]) == {"access_log", "audit_log", "rules"}
    assert "people" in auditor["left_out"]
    key = tmp_path / "k"
    assert run("backup-key", "--out", key, data_dir=tmp_path).returncode == 0
    refused = admin_cli(
        "export", "--out", tmp_path / "erin2", "--with-templates", "--key-file", key,
        "--operator", "erin", password=ENROLLER_PASSWORD,
    )  # fmt: skip
    assert refused.returncode == 4
    assert "may not back up or restore the whole database, or export templates" in refused.stderr
    assert not (tmp_path / "erin2").exists()


def test_templates_never_leave_without_a_key_and_an_export_never_mixes_with_files(
    admin_cli, site: list[str], tmp_path: Path
) -> None:
    bare = admin_cli("export", "--out", tmp_path / "x", "--with-templates", "--operator", "alice")
    assert bare.returncode == 2
    assert bare.stderr.strip().splitlines() == [
        "kiosk-admin: error: templates leave only encrypted: give --key-file FILE with "
        "--with-templates (kiosk-admin backup-key makes one)"
    ]
    assert not (tmp_path / "x").exists()
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine\n")
    refused = admin_cli("export", "--out", used, "--operator", "alice")
    assert refused.returncode == 1
    assert "holds files; an export goes into a new or empty folder" in refused.stderr
    assert [p.name for p in used.iterdir()] == ["notes.txt"]


def test_an_export_that_fails_half_way_leaves_nothing(tmp_path: Path) -> None:
    from admin.export_files import ExportFolder
    from storage.site_export import COLUMNS, ExportPart

    def rows_until_the_database_goes():  # type: ignore[no-untyped-def]
        yield {name: "x" for name in COLUMNS[ExportPart.PEOPLE]}
        raise ConnectionError("the database went away")

    out = tmp_path / "export"
    folder = ExportFolder(out, None)
    folder.table(ExportPart.OPERATORS, COLUMNS[ExportPart.OPERATORS], [])
    with pytest.raises(ConnectionError):
        folder.table(ExportPart.PEOPLE, COLUMNS[ExportPart.PEOPLE], rows_until_the_database_goes())
    assert sorted(p.name for p in out.iterdir()) == [
        "operators.csv", "operators.json", "people.csv", "people.json",
    ]  # fmt: skip
    folder.discard()
    assert not out.exists()
