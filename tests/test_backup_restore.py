"""kiosk-admin backup and restore on real servers, real files and real processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.records import AccessDecision, AccessOutcome, Operator
from core.settings import Settings
from core.vision.engine import FaceEngine
from storage.store import OpenStore, open_store
from tests.cli_fixtures import PASSWORD, as_json, run
from tests.conftest import good_stranger, url_for

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, OpenStore]]:
    """A kiosk's data folder on its embedded server with an admin, alice; the store held
    open as a running kiosk holds it (kiosk-admin joins its server)."""
    folder = tmp_path / "site"
    created = run("init", "--admin", "alice", data_dir=folder)
    assert created.returncode == 0, created.stderr
    with open_store(folder, None) as store:
        yield folder, store


def alice(store: OpenStore, settings: Settings) -> Operator:
    return Authenticator(store.operators, settings.security, "test").authenticate("alice", PASSWORD)


def enroll(store: OpenStore, engine: FaceEngine, settings: Settings, name: str, image) -> str:  # type: ignore[no-untyped-def]
    service = EnrollmentService(engine, store.identity, settings.matching)
    result = service.enroll(
        alice(store, settings), name, None, [("photo", image)], current_consent(), True
    )
    return str(result.person_id)


class DoorTraffic:
    """A kiosk's door writing access events as fast as it can, on its own thread."""

    def __init__(self, store: OpenStore) -> None:
        self._store = store
        self._stop = threading.Event()
        self.written = 0
        self.failure: BaseException | None = None
        self.wrote = threading.Condition()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                decision = AccessDecision(
                    kiosk_id="door-test",
                    outcome=AccessOutcome.UNKNOWN,
                    latency_ms=12.5,
                    similarity=0.1,
                )
                self._store.identity.record_access(decision)
                with self.wrote:
                    self.written += 1
                    self.wrote.notify_all()
        except BaseException as error:  # noqa: BLE001 - reported by wait_past
            self.failure = error
            with self.wrote:
                self.wrote.notify_all()

    def wait_past(self, count: int) -> None:
        """Until more than ``count`` events are written; raises what stopped the door."""
        with self.wrote:
            self.wrote.wait_for(lambda: self.written > count or self.failure is not None, 60)
        if self.failure is not None:
            raise self.failure
        assert self.written > count

    def __enter__(self) -> DoorTraffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_backup_made_while_the_door_writes_restores_what_it_held_and_verifies(
    site: tuple[Path, OpenStore],
    tmp_path: Path,
    face_engine: FaceEngine,
    settings: Settings,
    yaoming_jpg: Path,
    t1_jpg: Path,
) -> None:
    folder, store = site
    before = enroll(store, face_engine, settings, "Yao Ming", cv2.imread(str(yaoming_jpg)))
    key = tmp_path / "backup.key"
    assert run("backup-key", "--out", key, data_dir=folder).returncode == 0
    backup = tmp_path / "site.backup"
    with DoorTraffic(store) as door:
        made = run(
            "backup", "--out", backup, "--key-file", key, "--operator", "alice", "--json",
            data_dir=folder,
        )  # fmt: skip
        # The door goes on after the snapshot: those events are not in the backup.
        door.wait_past(as_json(made)["manifest"]["heads"]["access"]["count"])
    manifest = as_json(made)["manifest"]
    assert manifest["anchor_check"] == "matched"
    in_backup = manifest["heads"]["access"]["count"]
    assert 0 < in_backup < door.written
    assert backup.stat().st_mode & 0o777 == 0o600

    stranger = good_stranger(face_engine, cv2.imread(str(t1_jpg)))
    after = enroll(store, face_engine, settings, "Enrolled Later", stranger)
    cv2.imwrite(str(tmp_path / "later.jpg"), stranger)

    new = tmp_path / "restored"
    restored = run(
        "restore", backup, "--key-file", key, "--operator", "alice", "--json", data_dir=new
    )
    report = as_json(restored)
    assert report["verify"]["intact"] is True
    assert report["anchored"]["access"]["count"] == in_backup

    found = as_json(
        run("identify", "--image", yaoming_jpg, "--operator", "alice", "--json", data_dir=new)
    )
    assert (found["result"], found["person_id"]) == ("match", before)
    later = as_json(
        run("identify", "--image", tmp_path / "later.jpg", "--operator", "alice", "--json",
            data_dir=new)
    )  # fmt: skip
    assert later["result"] == "unknown"
    people = as_json(run("people", "--operator", "alice", "--json", data_dir=new))["people"]
    assert [p["person_id"] for p in people] == [before]
    assert after not in {p["person_id"] for p in people}
    verified = run("audit", "verify", "--operator", "alice", data_dir=new)
    assert verified.returncode == 0, verified.stderr
    assert f"access log intact: {in_backup + 2} event(s)" in verified.stdout  # the identifies
    # The site's own chains and anchor are untouched by the restore elsewhere.
    assert run("audit", "verify", "--operator", "alice", data_dir=folder).returncode == 0


def test_an_encrypted_backup_needs_its_key_and_a_failed_restore_leaves_nothing(
    admin_cli, tmp_path: Path
) -> None:
    key, other = tmp_path / "right.key", tmp_path / "other.key"
    for path in (key, other):
        assert run("backup-key", "--out", path, data_dir=tmp_path).returncode == 0
    backup = tmp_path / "central.backup"
    made = admin_cli("backup", "--out", backup, "--key-file", key, "--operator", "alice")
    assert made.returncode == 0, made.stderr
    assert "encrypted" in made.stdout
    new = tmp_path / "new"

    without = run("restore", backup, "--operator", "alice", data_dir=new)
    assert without.returncode == 1
    assert without.stderr.count("\n") == 1
    assert without.stderr.startswith(f"kiosk-admin: error: {backup} is encrypted; give the key")
    wrong = run("restore", backup, "--key-file", other, "--operator", "alice", data_dir=new)
    assert wrong.returncode == 1
    (error,) = [line for line in wrong.stderr.splitlines() if "error:" in line]
    assert "cannot be opened with this key file" in error
    assert not new.exists()

    right = run("restore", backup, "--key-file", key, "--operator", "alice", data_dir=new)
    assert right.returncode == 0, right.stderr
    assert "audit verify: intact" in right.stdout


def test_a_backup_restores_into_an_empty_database_by_url_and_never_over_one(
    admin_cli, tmp_path: Path, pg_server, admin_engine: Engine
) -> None:
    backup = tmp_path / "central.backup"
    assert admin_cli("backup", "--out", backup, "--operator", "alice").returncode == 0
    with admin_engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS kiosk_restored"))
        connection.execute(text("CREATE DATABASE kiosk_restored"))
    target = url_for(pg_server, "kiosk_restored")
    kiosk_folder = tmp_path / "kiosk"
    try:
        restored = run(
            "--database-url", target, "restore", backup, "--operator", "alice",
            data_dir=kiosk_folder,
        )  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        assert "audit verify: intact" in restored.stdout
        again = run(
            "--database-url", target, "restore", backup, "--operator", "alice",
            data_dir=kiosk_folder,
        )  # fmt: skip
        assert again.returncode == 1
        assert "table(s); a restore goes into a new, empty database only" in again.stderr
        verified = run("--database-url", target, "audit", "verify", "--operator", "alice",
                       data_dir=kiosk_folder)  # fmt: skip
        assert verified.returncode == 0, verified.stderr
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text("DROP DATABASE kiosk_restored WITH (FORCE)"))


def test_a_backup_whose_manifest_was_changed_is_not_restored(admin_cli, tmp_path: Path) -> None:
    backup = tmp_path / "clear.backup"
    assert admin_cli("backup", "--out", backup, "--operator", "alice").returncode == 0
    first, manifest, archive = backup.read_bytes().split(b"\n", 2)
    heads = json.loads(manifest)
    heads["heads"]["audit"]["hash"] = "f" * 64  # as if newest events were cut from the archive
    changed = tmp_path / "changed.backup"
    changed.write_bytes(b"\n".join([first, json.dumps(heads).encode(), archive]))
    new = tmp_path / "new"
    refused = run("restore", changed, "--operator", "alice", data_dir=new)
    assert refused.returncode == 1
    assert "the restored audit log is not the one backed up" in refused.stderr
    assert not new.exists()
    newer = json.loads(manifest)
    newer["schema_revision"] = "9999"
    changed.write_bytes(b"\n".join([first, json.dumps(newer).encode(), archive]))
    future = run("restore", changed, "--operator", "alice", data_dir=new)
    assert future.returncode == 1
    assert "was made by a newer face-kiosk (schema 9999); install that version" in future.stderr
    assert not new.exists()


def test_backup_and_restore_never_overwrite(admin_cli, tmp_path: Path) -> None:
    backup = tmp_path / "taken.backup"
    backup.write_text("someone's file\n")
    refused = admin_cli("backup", "--out", backup, "--operator", "alice")
    assert refused.returncode == 1
    assert "exists; a backup never overwrites a file" in refused.stderr
    assert backup.read_text() == "someone's file\n"

    made = tmp_path / "made.backup"
    assert admin_cli("backup", "--out", made, "--operator", "alice").returncode == 0
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "kiosk.toml").write_text("[kiosk]\n")
    taken = run("restore", made, "--operator", "alice", data_dir=occupied)
    assert taken.returncode == 1
    assert "holds files; a restore goes into a new or empty data folder" in taken.stderr
    assert [p.name for p in occupied.iterdir()] == ["kiosk.toml"]


def test_a_restore_without_an_admin_of_the_backup_leaves_nothing(admin_cli, tmp_path: Path) -> None:
    backup = tmp_path / "central.backup"
    assert admin_cli("backup", "--out", backup, "--operator", "alice").returncode == 0
    new = tmp_path / "new"
    wrong = run("restore", backup, "--operator", "alice", password="not-her-password", data_dir=new)
    assert wrong.returncode == 4
    assert "kiosk-admin: error: unknown username or wrong password" in wrong.stderr
    assert not new.exists()


def test_a_backup_that_is_not_encrypted_is_not_restored_with_a_key(
    admin_cli, tmp_path: Path
) -> None:
    key = tmp_path / "site.key"
    assert run("backup-key", "--out", key, data_dir=tmp_path).returncode == 0
    backup = tmp_path / "clear.backup"
    assert admin_cli("backup", "--out", backup, "--operator", "alice").returncode == 0
    new = tmp_path / "new"
    refused = run("restore", backup, "--key-file", key, "--operator", "alice", data_dir=new)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"kiosk-admin: error: {backup} is not encrypted; leave out --key-file\n"
    )
    assert refused.stdout == ""
    assert not new.exists()
