"""kiosk-admin as an operator meets it (issue 27, items 12 and 13): delete asks first,
a short id will do, lists have headed columns, errors say what to type, and a
per-kiosk setting names its kiosk."""

from __future__ import annotations

import os
import pty
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import Engine, text

from config.local_config import machine_kiosk_id
from core.accounts.operators import Authenticator, OperatorService
from core.records import AccessOutcome, Candidate, Operator, Role, access_decision
from core.settings import SecuritySettings
from storage.identity_store import SqlIdentityStore
from storage.kiosk_claim import claim_kiosk_id
from storage.kiosk_registry import register_kiosk
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import KIOSK_ADMIN, PASSWORD, as_json

ANN = uuid.UUID("abcd1234-0000-4000-8000-000000000001")
BO = uuid.UUID("abcd1234-1111-4000-8000-000000000002")
AUDITOR_PASSWORD = "brown-cedar-window-9"


def _person(engine: Engine, person: uuid.UUID, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO people (id, display_name) VALUES (:id, :name)"),
            {"id": person, "name": name},
        )


def _alice(engine: Engine) -> Operator:
    return Authenticator(SqlOperatorStore(engine), SecuritySettings(), "t").authenticate(
        "alice", PASSWORD
    )


def test_show_and_delete_take_the_start_of_an_id(admin_cli, db_engine: Engine) -> None:
    _person(db_engine, ANN, "Ann Lee")
    _person(db_engine, BO, "Bo Chen")

    both = admin_cli("show", "abcd1234", "--operator", "alice")
    assert both.returncode == 2, both.stderr
    assert f"2 people's ids start with abcd1234: {ANN} Ann Lee; {BO} Bo Chen" in both.stderr
    assert "give more of the id" in both.stderr
    assert len(both.stderr.strip().splitlines()) == 1

    shown = as_json(admin_cli("show", "ABCD1234-1", "--operator", "alice", "--json"))
    assert (shown["person_id"], shown["name"]) == (str(BO), "Bo Chen")
    nobody = admin_cli("show", "ffff", "--operator", "alice")
    assert nobody.returncode == 5
    assert "no person's id starts with ffff" in nobody.stderr
    garbled = admin_cli("show", "abcz", "--operator", "alice")
    assert garbled.returncode == 2
    assert "is not a person id or its start" in garbled.stderr

    ambiguous = admin_cli("delete", "abcd", "--yes", "--operator", "alice")
    assert ambiguous.returncode == 2
    deleted = as_json(admin_cli("delete", "abcd1234-0", "--yes", "--operator", "alice", "--json"))
    assert deleted["person_id"] == str(ANN)
    assert as_json(admin_cli("show", str(BO), "--operator", "alice", "--json"))["status"] == (
        "active"
    )


def _at_a_terminal(data_dir: Path, database: str, answer: str, *args: str) -> tuple[int, str]:
    """kiosk-admin with a terminal (a pseudo-terminal) on standard input, ``answer``
    typed into it; its exit code and standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(data_dir), KIOSK_PASSWORD=PASSWORD)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [KIOSK_ADMIN, "--database-url", database, *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        os.write(controller, f"{answer}\n".encode())
        out, err = process.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, out + err


def test_delete_asks_at_a_terminal_and_needs_yes_without_one(
    admin_cli, db_engine: Engine, fresh_database: str, tmp_path: Path
) -> None:
    _person(db_engine, ANN, "Ann Lee")

    piped = admin_cli("delete", str(ANN), "--operator", "alice")
    assert piped.returncode == 2
    assert piped.stderr.strip() == (
        "kiosk-admin: error: delete asks for confirmation at a terminal and none is here; "
        "to delete from a script, add --yes"
    )

    code, said = _at_a_terminal(
        tmp_path, fresh_database, "no", "delete", "abcd", "--operator", "alice"
    )
    assert code == 1, said
    assert f"delete Ann Lee ({ANN})?" in said
    assert "not deleted" in said
    assert as_json(admin_cli("show", "abcd", "--operator", "alice", "--json"))["status"] == "active"

    code, said = _at_a_terminal(
        tmp_path, fresh_database, "yes", "delete", "abcd", "--operator", "alice"
    )
    assert code == 0, said
    assert f"deleted {ANN}" in said
    assert as_json(admin_cli("show", "abcd", "--operator", "alice", "--json"))["status"] == (
        "deleted"
    )


def test_lists_have_headed_columns_and_the_access_log_names_people_for_admins(
    admin_cli, db_engine: Engine
) -> None:
    _person(db_engine, ANN, "Ann Lee")
    alice = _alice(db_engine)
    OperatorService(SqlOperatorStore(db_engine), SecuritySettings()).add(
        alice, "carol", Role.AUDITOR, AUDITOR_PASSWORD
    )
    SqlIdentityStore(db_engine).record_access(
        access_decision(
            kiosk_id="front-door",
            outcome=AccessOutcome.GRANTED,
            latency_ms=80.0,
            match=Candidate(ANN, "Ann Lee", 0.71),
        )
    )

    people = admin_cli("people", "--operator", "alice").stdout.splitlines()
    assert people[0].split() == ["ID", "NAME", "REFERENCE", "TEMPLATES", "ENROLLED"]
    assert people[1].startswith(f"{ANN}  Ann Lee")
    operators = admin_cli("operators", "list", "--operator", "alice").stdout.splitlines()
    assert operators[0].split() == ["USERNAME", "ROLE", "STATE", "CREATED"]
    assert [line.split()[:3] for line in operators[1:]] == [
        ["alice", "admin", "active"],
        ["carol", "auditor", "active"],
    ]

    log = admin_cli("access-log", "--operator", "alice").stdout.splitlines()
    assert log[0].split() == [
        "TIME",
        "KIOSK",
        "OUTCOME",
        "REFUSED",
        "BY",
        "PERSON",
        "NAME",
        "SIMILARITY",
    ]
    assert "front-door" in log[1]
    assert "Ann Lee" in log[1]
    assert "0.710" in log[1]
    named = as_json(admin_cli("access-log", "--operator", "alice", "--json"))
    assert named["events"][0]["name"] == "Ann Lee"

    # An auditor reads the access log but may not view people: ids, no names.
    def as_carol(*args: str) -> subprocess.CompletedProcess[str]:
        return admin_cli(*args, "--operator", "carol", password=AUDITOR_PASSWORD)

    audited = as_carol("access-log").stdout
    assert "NAME" not in audited.splitlines()[0]
    assert str(ANN) in audited
    assert "Ann Lee" not in audited
    assert "name" not in as_json(as_carol("access-log", "--json"))["events"][0]


def test_kiosks_shows_who_is_online_and_when_each_was_last_seen(
    admin_cli, db_engine: Engine
) -> None:
    assert admin_cli("kiosks", "--operator", "alice").stdout.strip() == (
        "no kiosk has started on this database yet"
    )
    register_kiosk(db_engine, "front-door", "Front door", "0.1.0")
    register_kiosk(db_engine, "back-door", "Back door", "0.1.0")
    with claim_kiosk_id(db_engine, "front-door", 1.0):
        listed = admin_cli("kiosks", "--operator", "alice").stdout.splitlines()
        found = {
            k["id"]: k
            for k in as_json(admin_cli("kiosks", "--operator", "alice", "--json"))["kiosks"]
        }
    assert listed[0].split() == [
        "ID",
        "NAME",
        "VERSION",
        "STATE",
        "LAST",
        "SEEN",
        "LAST",
        "STARTED",
    ]
    rows = {line.split()[0]: line for line in listed[1:]}
    assert "online" in rows["front-door"]
    assert " now " in rows["front-door"]
    assert "offline" in rows["back-door"]
    assert (found["front-door"]["online"], found["back-door"]["online"]) == (True, False)
    assert found["back-door"]["last_seen_at"] == found["back-door"]["last_started_at"]
    after = as_json(admin_cli("kiosks", "--operator", "alice", "--json"))["kiosks"]
    assert not any(k["online"] for k in after)  # the claim was let go


def test_enroll_without_consent_names_the_option(admin_cli, yaoming_jpg: Path) -> None:
    refused = admin_cli(
        "enroll", "--name", "Yao Ming", "--image", yaoming_jpg, "--operator", "alice"
    )
    assert refused.returncode == 4
    assert "run the command again with --consent" in refused.stderr


def test_range_errors_give_both_bounds(admin_cli) -> None:
    limit = admin_cli("people", "--limit", "0", "--operator", "alice")
    assert limit.returncode == 2
    assert "give a whole number from 1 to 100,000" in limit.stderr
    frames = admin_cli("settings", "set", "door.frames_to_confirm=99", "--operator", "alice")
    assert frames.returncode == 2
    assert "a whole number at least 1 and at most 30" in frames.stderr


def test_a_missing_video_file_is_said_not_to_exist(admin_cli, tmp_path: Path) -> None:
    missing = tmp_path / "entrance.mp4"
    checked = admin_cli("health", "--camera", str(missing))
    assert f"{missing} does not exist" in checked.stdout + checked.stderr


# ---- item 13: which kiosk a setting is for --------------------------------------------------


def test_a_kiosk_setting_names_its_kiosk(admin_cli, db_engine: Engine) -> None:
    own = machine_kiosk_id()
    # No kiosk has started: this machine's, the id its kiosk will take, never "kiosk-admin".
    first = admin_cli("settings", "set", "camera.source=2", "--operator", "alice")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == (
        f"camera.source for kiosk {own} (this machine's; no kiosk has used this database yet):"
    )
    config = as_json(admin_cli("config", "show", "--json"))
    assert config["kiosk_id"] == own
    assert config["values"]["kiosk.id"] == own

    register_kiosk(db_engine, "front-door", "Front door", "0.1.0")
    only = as_json(admin_cli("settings", "set", "camera.source=3", "--operator", "alice", "--json"))
    assert only["kiosk_id"] == "front-door"
    said = admin_cli("settings", "set", "camera.source=4", "--operator", "alice").stdout
    assert "for kiosk front-door (the only kiosk that uses this database)" in said

    register_kiosk(db_engine, "back-door", "Back door", "0.1.0")
    unnamed = admin_cli("settings", "set", "camera.source=5", "--operator", "alice")
    assert unnamed.returncode == 2
    assert "2 kiosks use this database (back-door, front-door): name one with --kiosk" in (
        unnamed.stderr
    )
    named = admin_cli(
        "settings",
        "set",
        "camera.source=7",
        "--kiosk",
        "back-door",
        "--operator",
        "alice",
    )
    assert named.returncode == 0, named.stderr
    assert "camera.source: 0 -> 7" in named.stdout
    typo = admin_cli(
        "settings", "set", "camera.source=6", "--kiosk", "bakc-door", "--operator", "alice"
    )
    assert typo.returncode == 5
    assert "no kiosk 'bakc-door' has used this database" in typo.stderr
    shared = admin_cli(
        "settings", "set", "matching.margin=0.06", "--kiosk", "back-door", "--operator", "alice"
    )
    assert shared.returncode == 2
    assert "apply to every kiosk: leave --kiosk out" in shared.stderr

    def camera_of(kiosk: str) -> str:
        shown = as_json(admin_cli("settings", "show", "--kiosk", kiosk, "--json"))
        assert shown["kiosk_id"] == kiosk
        return str(shown["settings"]["camera.source"])

    assert camera_of("back-door") == "7"
    assert camera_of("front-door") == "4"
    assert camera_of(own) == "2"
    with db_engine.connect() as connection:
        scopes = set(connection.scalars(text("SELECT DISTINCT scope FROM settings")))
    assert "kiosk-admin" not in scopes
    assert scopes == {own, "front-door", "back-door"}
