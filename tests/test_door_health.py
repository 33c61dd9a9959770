"""kiosk-admin health checks the door hardware: it reads it and never drives the lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from door_io.modbus_module import ModbusModule
from tests.cli_fixtures import run

LOCK_COIL = 1


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    yield server
    server.close()


def health(data_dir: Path, database_url: str) -> tuple[int, dict[str, object]]:
    result = run(
        "--database-url", database_url, "health", "--no-camera", "--json",
        password=None, data_dir=data_dir,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def test_health_reads_the_modbus_module_and_reports_it_gone(
    module: ModbusModule, fresh_database: str, tmp_path: Path
) -> None:
    (tmp_path / "kiosk.toml").write_text(
        f'[door_io]\nadapter = "modbus"\nmodbus_host = "127.0.0.1"\n'
        f"modbus_port = {module.port}\nmodbus_lock_coil = {LOCK_COIL}\n"
        "modbus_contact_input = 0\nmodbus_timeout_s = 0.5\n"
    )
    module.set_input(0, True)
    code, report = health(tmp_path, fresh_database)
    assert code == 0, report
    door = report["door"]
    assert isinstance(door, dict)
    assert (door["ok"], door["lock_output"], door["contact"]) == (True, False, True)
    assert module.coil_writes == [], "health never drives the lock"
    module.stop()
    code, report = health(tmp_path, fresh_database)
    assert code == 1
    door = report["door"]
    assert isinstance(door, dict)
    assert door["ok"] is False
    assert "modbus_host" in str(door["error"])


def test_health_without_door_hardware_is_fine(fresh_database: str, tmp_path: Path) -> None:
    code, report = health(tmp_path, fresh_database)
    assert code == 0, report
    assert report["door"] == {"ok": True, "adapter": "none"}
