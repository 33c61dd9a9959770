"""The [door_io] section through kiosk.toml and KIOSK_DOOR_IO__* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.local_config import CONFIG_FILE, CommandLine, load_local_config
from core.door_io_settings import DoorAdapter, FailMode
from core.errors import ConfigurationError


def test_the_adapter_and_its_keys_come_from_variables(tmp_path: Path) -> None:
    environ = {
        "KIOSK_DOOR_IO__ADAPTER": "modbus",
        "KIOSK_DOOR_IO__MODBUS_HOST": "10.0.0.7",
        "KIOSK_DOOR_IO__MODBUS_CONTACT_INPUT": "2",
        "KIOSK_DOOR_IO__FAIL_MODE": "safe",
        "KIOSK_DOOR_IO__UNLOCK_S": "7.5",
    }
    config = load_local_config(tmp_path, environ, CommandLine())
    door = config.settings.door_io
    assert (door.adapter, door.modbus_host, door.modbus_contact_input) == (
        DoorAdapter.MODBUS,
        "10.0.0.7",
        2,
    )
    assert door.modbus_exit_input is None, "absent: not wired"
    assert (door.fail_mode, door.unlock_s) == (FailMode.SAFE, 7.5)
    assert config.sources["door_io.adapter"] == "KIOSK_DOOR_IO__ADAPTER"


def test_the_section_in_kiosk_toml(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        '[door_io]\nadapter = "serial"\nserial_port = "/dev/ttyUSB0"\nlock_active_high = false\n'
    )
    door = load_local_config(tmp_path, {}, CommandLine()).settings.door_io
    assert (door.adapter, door.serial_port, door.lock_active_high) == (
        DoorAdapter.SERIAL,
        "/dev/ttyUSB0",
        False,
    )


def test_the_default_is_no_door_hardware(tmp_path: Path) -> None:
    assert (
        load_local_config(tmp_path, {}, CommandLine()).settings.door_io.adapter is DoorAdapter.NONE
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KIOSK_DOOR_IO__ADAPTER": "modbus"}, "needs modbus_host"),
        ({"KIOSK_DOOR_IO__ADAPTER": "relay"}, "door_io.adapter = 'relay'"),
        ({"KIOSK_DOOR_IO__UNLOCK_S": "0.1"}, "at least 0.5"),
        ({"KIOSK_DOOR_IO__MODBUS_PORT": "70000"}, "at most 65535"),
        ({"KIOSK_DOOR_IO__RELAY": "1"}, "unknown setting door_io.relay"),
    ],
)
def test_a_bad_door_setting_names_the_key_and_the_fix(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_local_config(tmp_path, environ, CommandLine())
