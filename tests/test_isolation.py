"""Tests never touch the machine: defaults point into their temporary folders, and a
test that changes the machine's own kiosk folders fails (tests/isolation.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs
import pytest

from config import environment
from config.local_config import CommandLine
from telemetry.json_log import LOG_FILE
from tests.isolation import differences, snapshot


def inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_every_default_location_points_into_the_tests_own_folders(
    isolated_machine: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    temporary = tmp_path_factory.getbasetemp()
    assert Path.home() == isolated_machine
    for folder in (
        platformdirs.user_data_dir(environment.APP_NAME),
        platformdirs.user_config_dir(environment.APP_NAME),
        platformdirs.user_state_dir(environment.APP_NAME),
        platformdirs.user_cache_dir(environment.APP_NAME),
        platformdirs.user_runtime_dir(environment.APP_NAME),
        platformdirs.site_data_dir(environment.APP_NAME),
        platformdirs.site_config_dir(environment.APP_NAME),
        environment.ROOT_DATA_DIR,
        environment.default_data_dir(),
    ):
        assert inside(Path(folder), temporary), folder
    assert not [name for name in os.environ if name.startswith("KIOSK_")]
    location, config = environment.load_configuration(None, CommandLine(), os.environ)
    assert inside(location.data_dir, isolated_machine)
    assert config.file is None  # no kiosk.toml of the machine's was read


def test_the_kiosk_told_no_data_folder_logs_into_the_tests_home_not_the_machines(
    isolated_machine: Path, machine_default_folders: tuple[Path, ...], capsys
) -> None:
    from kiosk.app import main

    before = snapshot(machine_default_folders)
    handlers_before = list(logging.getLogger().handlers)
    assert main(["--camera", str(isolated_machine / "no-camera-here"), "--windowed"]) == 2
    assert "does not exist; give an existing video file" in capsys.readouterr().err
    log_file = environment.default_data_dir() / "logs" / LOG_FILE
    assert inside(log_file, isolated_machine)
    assert log_file.is_file()  # main() opened its JSON log there, as it would at a door
    assert differences(before, snapshot(machine_default_folders)) == []
    opened = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.FileHandler) and handler not in handlers_before
    ]  # closed after the test by the isolation fixture
    assert [Path(handler.baseFilename) for handler in opened] == [log_file]


def test_a_test_that_writes_into_a_machine_folder_fails_and_says_where(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    machine_folder = tmp_path / "the-machines-kiosk-folder"
    (machine_folder / "logs").mkdir(parents=True)
    pytester.makeconftest(
        f"""
        from pathlib import Path
        import pytest

        pytest_plugins = ["tests.isolation"]

        @pytest.fixture(scope="session")
        def machine_default_folders():
            return (Path({str(machine_folder)!r}),)
        """
    )
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_leaves_the_machine_alone(tmp_path):
            (tmp_path / "mine.log").write_text("fine")

        def test_writes_the_machines_log():
            (Path({str(machine_folder)!r}) / "logs" / "kiosk.log.jsonl").write_text("granted")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*the machine's own kiosk folders changed while this test ran*kiosk.log.jsonl created*"]
    )
    assert "test_leaves_the_machine_alone" not in "".join(
        line for line in result.stdout.lines if "ERROR at teardown" in line
    )
