"""The [door_io] section through kiosk.toml and KIOSK_DOOR_IO__* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.door_io_section import load_door_io_settings
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
        (
            {"KIOSK_DOOR_IO__OPERATOR_POLL_S": "20"},
            r"command_max_age_s \(30\) must be at least twice operator_poll_s \(20\)",
        ),
    ],
)
def test_a_bad_door_setting_names_the_key_and_the_fix(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_local_config(tmp_path, environ, CommandLine())


@pytest.mark.parametrize(
    ("config", "environ", "first", "second", "where"),
    [
        (
            "[door_io]\nmodbus_contact_input = 3\nmodbus_exit_input = 3\n",
            {"KIOSK_DOOR_IO__ADAPTER": "modbus", "KIOSK_DOOR_IO__MODBUS_HOST": "10.0.0.7"},
            "modbus_contact_input",
            "modbus_exit_input",
            "discrete input 3",
        ),
        (
            "",
            {"KIOSK_DOOR_IO__MODBUS_CONTACT_INPUT": "0", "KIOSK_DOOR_IO__MODBUS_EXIT_INPUT": "0"},
            "modbus_contact_input",
            "modbus_exit_input",
            "discrete input 0",
        ),
        (
            '[door_io]\nadapter = "gpio"\ngpio_lock_line = 4\ngpio_contact_line = 4\n',
            {},
            "gpio_lock_line",
            "gpio_contact_line",
            "line 4",
        ),
        (
            '[door_io]\nadapter = "gpio"\ngpio_lock_line = 4\ngpio_contact_line = 5\n',
            {"KIOSK_DOOR_IO__GPIO_EXIT_LINE": "5"},
            "gpio_contact_line",
            "gpio_exit_line",
            "line 5",
        ),
    ],
    ids=["modbus inputs in the file", "modbus inputs in variables", "gpio lock", "gpio inputs"],
)
def test_two_roles_on_one_input_or_output_are_refused_in_one_line_naming_both_keys(
    tmp_path: Path, config: str, environ: dict[str, str], first: str, second: str, where: str
) -> None:
    (tmp_path / CONFIG_FILE).write_text(config)
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(tmp_path, environ, CommandLine())
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("settings in [door_io] do not fit together (")
    assert message.endswith(
        f": door_io.{first} and door_io.{second} are both {where}; give each its own "
        "(unset one that is not wired)"
    )


def test_the_contact_and_the_exit_button_on_inputs_of_their_own_are_taken(tmp_path: Path) -> None:
    environ = {"KIOSK_DOOR_IO__MODBUS_CONTACT_INPUT": "0", "KIOSK_DOOR_IO__MODBUS_EXIT_INPUT": "1"}
    door = load_local_config(tmp_path, environ, CommandLine()).settings.door_io
    assert (door.modbus_contact_input, door.modbus_exit_input) == (0, 1)


def test_door_io_is_read_alone_whatever_else_is_wrong(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        '[camera]\nfolder_fps = 1000\n[bogus]\nx = 1\n[door_io]\nadapter = "modbus"\n'
        'modbus_host = "10.0.0.7"\n'
    )
    environ = {"KIOSK_MATCHING__THRESHOLD": "two", "KIOSK_DOOR_IO__MODBUS_PORT": "1502"}
    with pytest.raises(ConfigurationError):
        load_local_config(tmp_path, environ, CommandLine())  # the whole: refused
    door = load_door_io_settings(str(tmp_path), environ)  # the door's section: read
    assert (door.adapter, door.modbus_host, door.modbus_port) == (
        DoorAdapter.MODBUS,
        "10.0.0.7",
        1502,
    )


def test_door_io_read_alone_is_the_door_io_of_the_whole(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text('[door_io]\nadapter = "serial"\nserial_port = "/dev/x"\n')
    environ = {"KIOSK_DOOR_IO__SERIAL_BAUD": "19200", "KIOSK_DATA_DIR": str(tmp_path)}
    whole = load_local_config(tmp_path, environ, CommandLine()).settings.door_io
    assert load_door_io_settings(None, environ) == whole


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        ("[door_io]\nunlock_s = 0\n", {}, "setting door_io.unlock_s = 0 (from kiosk.toml)"),
        ("", {"KIOSK_DOOR_IO__RELAY": "1"}, "unknown setting door_io.relay"),
        ("[door_io\n", {}, "is not valid TOML"),
        ("door_io = 3\n", {}, "door_io must be a section: [door_io]"),
    ],
    ids=["out of bounds", "unknown key", "not TOML", "not a section"],
)
def test_door_io_read_alone_refuses_in_one_line(
    tmp_path: Path, config: str, environ: dict[str, str], message: str
) -> None:
    (tmp_path / CONFIG_FILE).write_text(config)
    with pytest.raises(ConfigurationError) as refused:
        load_door_io_settings(str(tmp_path), environ)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
