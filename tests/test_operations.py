"""Running kiosks in the field: health, configuration shown, kiosks on one database."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.database import connect
from storage.kiosk_registry import kiosks, register_kiosk
from storage.migrate import current_revision, head_revision, upgrade
from tests.cli_fixtures import as_json, run
from tests.conftest import url_for

# Each test runs kiosk-admin or the kiosk in a process of its own, on a real server.
pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_health_reports_database_models_and_camera(
    admin_cli, tmp_path: Path, yaoming_jpg: Path
) -> None:
    camera = tmp_path / "camera"
    camera.mkdir()
    shutil.copy(yaoming_jpg, camera / "frame.jpg")
    report = as_json(admin_cli("health", "--camera", str(camera), "--json"))
    assert report["healthy"] is True
    assert report["database"]["schema_current"] is True
    assert report["models"]["model_pack"] == "buffalo_sc"
    assert report["camera"]["width"] > 0

    broken = admin_cli("health", "--camera", str(tmp_path / "no-such-camera"))
    assert broken.returncode == 1
    lines = dict(line.split(":", 1) for line in broken.stdout.splitlines())
    assert lines["database"].strip().startswith("ok")
    assert lines["models"].strip().startswith("ok")
    assert lines["camera"].strip().startswith("FAILED")


def test_health_names_an_unreachable_database_and_still_checks_the_rest(tmp_path: Path) -> None:
    url = "postgresql://kiosk@127.0.0.1:1/kiosk"
    result = run("--database-url", url, "--json", "health", "--no-camera", data_dir=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["database"]["ok"] is False
    assert "cannot reach the database" in report["database"]["error"]
    assert report["models"]["ok"] is True


def test_config_show_gives_each_source_and_hides_secrets(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[kiosk]\nname = "Side door"\n[database]\nurl = "postgresql://k:hunter2-pw@db/k"\n'
    )
    shown = as_json(run("--json", "config", "show", data_dir=tmp_path))
    assert shown["values"]["kiosk.name"] == "Side door"
    assert shown["sources"]["kiosk.name"] == "kiosk.toml"
    assert shown["values"]["database.url"] == "postgresql://k:***@db/k"
    bad = run("config", "show", data_dir=tmp_path, password=None)
    assert "hunter2-pw" not in bad.stdout + bad.stderr


def test_a_bad_configuration_stops_kiosk_admin_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text("[door]\nframes_to_confirm = 0\n")
    result = run("config", "show", data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "kiosk-admin: error: setting door.frames_to_confirm = 0 (from kiosk.toml) is not "
        "allowed: a whole number at least 1 and at most 30"
    )


def test_two_kiosks_starting_together_migrate_once(pg_server, admin_engine: Engine) -> None:
    with admin_engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS kiosk_race"))
        connection.execute(text("CREATE DATABASE kiosk_race"))
    engines = [connect(url_for(pg_server, "kiosk_race")) for _ in range(2)]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def start_kiosk(engine: Engine) -> None:
        start.wait()
        try:
            upgrade(engine)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=start_kiosk, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()
        with admin_engine.connect() as connection:
            connection.execute(text("DROP DATABASE kiosk_race WITH (FORCE)"))


def test_each_kiosk_is_known_by_its_id_and_current_name(db_engine: Engine) -> None:
    register_kiosk(db_engine, "door-1", "Main entrance", "0.1.0")
    register_kiosk(db_engine, "door-2", "Side door", "0.1.0")
    register_kiosk(db_engine, "door-1", "Front entrance", "0.2.0")
    found = {k.id: k for k in kiosks(db_engine)}
    assert set(found) == {"door-1", "door-2"}
    assert (found["door-1"].name, found["door-1"].version) == ("Front entrance", "0.2.0")
    assert found["door-1"].last_started_at >= found["door-1"].first_seen_at
