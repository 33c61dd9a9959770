"""kiosk-admin end to end, as a person runs it: real models, real embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.database import connect
from storage.embedded import EmbeddedServer
from tests.cli_fixtures import KIOSK_ADMIN, as_json, identify, run

# Each test runs kiosk-admin or the kiosk in a process of its own, on a real server.
pytestmark = pytest.mark.slow


def test_scenario_enroll_identify_delete(
    admin_cli, yaoming_jpg: Path, photos: Path, t1_jpg: Path, gdp_jpg: Path
) -> None:
    enrolled = as_json(
        admin_cli(
            "enroll",
            "--name",
            "Yao Ming",
            "--image",
            yaoming_jpg,
            "--image",
            photos / "yaoming_mirrored.jpg",
            "--consent",
            "--external-ref",
            "B-0001",
            "--operator",
            "alice",
            "--json",
        )
    )
    person_id = enrolled["person_id"]
    assert enrolled["templates"] == 2
    assert enrolled["consent_version"] == "v1"

    match = as_json(
        admin_cli(
            "identify",
            "--operator",
            "alice",
            "--image",
            photos / "yaoming_in_players.jpg",
            "--json",
        )
    )
    assert match["result"] == "match"
    assert match["person_id"] == person_id
    assert match["name"] == "Yao Ming"
    assert match["similarity"] > 0.5

    for stranger in (t1_jpg, gdp_jpg):
        unknown = as_json(identify(admin_cli, stranger, "--json"))
        assert unknown["result"] == "unknown"
        assert unknown["best_similarity"] < 0.4
    text = identify(admin_cli, t1_jpg)
    assert text.stdout.startswith("unknown: best similarity")

    shown = as_json(admin_cli("show", person_id, "--json", "--operator", "alice"))
    assert shown["templates"] == 2
    assert shown["consents"][0]["witnessed_by"] == "alice"
    listed = as_json(admin_cli("people", "--search", "yao", "--json", "--operator", "alice"))
    assert [p["person_id"] for p in listed["people"]] == [person_id]

    deleted = as_json(admin_cli("delete", person_id, "--yes", "--operator", "alice", "--json"))
    assert deleted["templates_deleted"] == 2
    after = as_json(
        admin_cli(
            "identify",
            "--operator",
            "alice",
            "--image",
            photos / "yaoming_in_players.jpg",
            "--json",
        )
    )
    assert after["result"] == "unknown"
    assert as_json(admin_cli("show", person_id, "--json", "--operator", "alice"))["templates"] == 0
    assert admin_cli("delete", person_id, "--yes", "--operator", "alice").returncode == 5

    events = as_json(admin_cli("audit", "--json", "--operator", "alice"))["events"]
    logins = [e for e in events if e["action"] == "login.succeeded"]
    # enroll, five identifies, show, people, delete, show, delete again and this audit
    # each logged in.
    assert [e["target"] for e in logins] == ["alice"] * 12
    changes = [e["action"] for e in events if e not in logins]
    assert changes == ["person.delete", "person.enroll", "operator.create"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("t1", "6 faces in image; enrollment needs exactly one"),
        ("no_face.png", "no face found"),
        ("truncated.jpg", "truncated or corrupt"),
        ("not_an_image.jpg", "not an image"),
        ("oversized.png", "pixels allowed"),
        ("yaoming_blurred.jpg", "blurry"),
    ],
)
def test_rejected_images_exit_3_and_store_nothing(
    admin_cli, photos: Path, t1_jpg: Path, yaoming_jpg: Path, image: str, message: str
) -> None:
    path = t1_jpg if image == "t1" else photos / image
    # A good image first: one bad image must still stop the whole enrollment.
    result = admin_cli(
        "enroll",
        "--name",
        "Someone",
        "--image",
        yaoming_jpg,
        "--image",
        path,
        "--consent",
        "--operator",
        "alice",
    )
    assert result.returncode == 3, result.stderr
    assert message in result.stderr
    assert path.name in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert as_json(admin_cli("people", "--json", "--operator", "alice"))["people"] == []


def test_identify_refuses_bad_images_with_exit_3(admin_cli, photos: Path) -> None:
    for name in ("no_face.png", "truncated.jpg", "empty.jpg"):
        result = identify(admin_cli, photos / name, "--json")
        assert result.returncode == 3
        assert json.loads(result.stderr)["exit_code"] == 3


def test_exit_codes_for_usage_auth_and_not_found(admin_cli, yaoming_jpg: Path) -> None:
    no_consent = admin_cli("enroll", "--name", "X", "--image", yaoming_jpg, "--operator", "alice")
    assert no_consent.returncode == 4
    assert "consent" in no_consent.stderr
    wrong = admin_cli(
        "enroll",
        "--name",
        "X",
        "--image",
        yaoming_jpg,
        "--consent",
        "--operator",
        "alice",
        password="wrong password here",
    )
    assert wrong.returncode == 4
    unknown_user = admin_cli(
        "enroll", "--name", "X", "--image", yaoming_jpg, "--consent", "--operator", "mallory"
    )
    assert unknown_user.returncode == 4
    assert unknown_user.stderr == wrong.stderr  # the same words: usernames are not revealed
    no_password = admin_cli(
        "delete",
        "00000000-0000-0000-0000-000000000000",
        "--yes",
        "--operator",
        "alice",
        password=None,
    )
    assert no_password.returncode == 4
    assert "KIOSK_PASSWORD" in no_password.stderr
    missing = admin_cli("show", "00000000-0000-0000-0000-000000000000", "--operator", "alice")
    assert missing.returncode == 5
    bad_id = admin_cli("show", "not-a-uuid", "--json", "--operator", "alice")
    assert bad_id.returncode == 2
    assert "is not a person id" in json.loads(bad_id.stderr)["error"]
    assert admin_cli("enroll", "--name", "X").returncode == 2
    assert admin_cli("init", "--admin", "bob").returncode == 4
    assert (
        admin_cli(
            "people", "--providers", "CUDAExecutionProvider", "--operator", "alice"
        ).returncode
        == 0
    )
    assert (
        admin_cli(
            "identify",
            "--operator",
            "alice",
            "--image",
            yaoming_jpg,
            "--providers",
            "NoSuchProvider",
        ).returncode
        == 2
    )


def test_short_password_is_refused_at_init(fresh_database: str, tmp_path: Path) -> None:
    result = run(
        "--database-url",
        fresh_database,
        "init",
        "--admin",
        "alice",
        password="short",
        data_dir=tmp_path,
    )
    assert result.returncode == 3
    assert "at least 12" in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql://kiosk@127.0.0.1:1/kiosk"
    result = run("--database-url", url, "people", "--operator", "alice", data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("kiosk-admin: error: cannot reach the database")
    assert len(result.stderr.strip().splitlines()) == 1


def test_embedded_default_starts_reuses_and_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "kiosk-data"
    first = run("init", "--admin", "alice", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "embedded PostgreSQL" in first.stdout
    assert not (data_dir / "postgres" / "postmaster.pid").exists()  # stopped on exit

    with EmbeddedServer(data_dir / "postgres") as server:
        server.start()
        pid_file = (data_dir / "postgres" / "postmaster.pid").read_text()
        people = run("people", "--json", "--operator", "alice", data_dir=data_dir)
        assert people.returncode == 0, people.stderr
        # kiosk-admin joined the running server and left it running for us.
        assert (data_dir / "postgres" / "postmaster.pid").read_text() == pid_file


def test_sixth_wrong_password_is_locked_and_a_restart_does_not_reset_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "kiosk-data"
    assert run("init", "--admin", "alice", data_dir=data_dir).returncode == 0
    wrong = "not-the-right-password"
    for _ in range(5):
        attempt = run("people", "--operator", "alice", password=wrong, data_dir=data_dir)
        assert attempt.returncode == 4
        # Every command started and stopped the embedded server: each attempt is a restart.
        assert not (data_dir / "postgres" / "postmaster.pid").exists()
    sixth = run("people", "--operator", "alice", password=wrong, data_dir=data_dir)
    assert sixth.returncode == 4
    assert "try again after" in sixth.stderr
    right = run("people", "--operator", "alice", data_dir=data_dir)
    assert right.returncode == 4
    assert "try again after" in right.stderr


def test_audit_verify_reports_a_row_changed_behind_the_guard(
    admin_cli, fresh_database: str
) -> None:
    # init wrote the first event; change it as the database owner, triggers off.
    intact = as_json(admin_cli("audit", "verify", "--operator", "alice", "--json"))
    assert intact["intact"] is True
    engine = connect(fresh_database)
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))
        first = connection.scalar(text("SELECT min(id) FROM audit_events"))
        connection.execute(
            text("UPDATE audit_events SET details = '{}' WHERE id = :id"), {"id": first}
        )
    engine.dispose()
    broken = admin_cli("audit", "verify", "--operator", "alice")
    assert broken.returncode == 1
    assert f"audit event {first}" in broken.stderr
    assert "tampered" in broken.stderr


def test_secrets_never_reach_the_output(tmp_path: Path) -> None:
    secret = "Sup3rS3cretPassw0rd"
    for url in (
        f"postgresql://kiosk:{secret}@127.0.0.1:1/kiosk",
        "postgresql://kiosk@127.0.0.1:1/k",
    ):
        env_secret = {"KIOSK_DATABASE_PASSWORD": secret}
        for extra in ((), ("--json",), ("--verbose",)):
            result = subprocess.run(
                [KIOSK_ADMIN, "--database-url", url, "health", *extra],
                env={**os.environ, "KIOSK_DATA_DIR": str(tmp_path), **env_secret},
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
            assert result.returncode == 1
            assert secret not in result.stdout + result.stderr
