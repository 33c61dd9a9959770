"""kiosk.toml is a regular file of a sane size or an error, never "no file"; an error
names a value a person gave without echoing all of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.local_config import MAX_CONFIG_BYTES, CommandLine, load_local_config
from core.administration.shared_settings import parse_assignment, with_overrides
from core.errors import QUOTED_CHARS, ConfigurationError, InvalidValue
from core.settings import Settings
from tests.cli_fixtures import run

# The longest a one-line error may be once a value has been cut for it.
SHORT_MESSAGE = 600


def refusal(folder: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(folder, environ or {}, CommandLine())
    return str(refused.value)


def test_a_fifo_in_the_config_files_place_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "kiosk.toml")
    message = refusal(tmp_path)  # opened without blocking: the test would hang otherwise
    assert "kiosk.toml is a FIFO, not a regular file" in message


def test_a_device_or_a_folder_in_the_config_files_place_is_refused(tmp_path: Path) -> None:
    device, folder = tmp_path / "device", tmp_path / "folder"
    device.mkdir()
    folder.mkdir()
    (device / "kiosk.toml").symlink_to("/dev/zero")
    assert "is a character device, not a regular file" in refusal(device)
    (folder / "kiosk.toml").mkdir()
    assert "is a folder, not a regular file" in refusal(folder)


def test_a_missing_file_is_the_defaults_and_a_symlink_to_a_file_is_read(tmp_path: Path) -> None:
    assert load_local_config(tmp_path, {}, CommandLine()).file is None
    real = tmp_path / "elsewhere.toml"
    real.write_text("[matching]\nthreshold = 0.45\n")
    (tmp_path / "kiosk.toml").symlink_to(real)
    assert load_local_config(tmp_path, {}, CommandLine()).settings.matching.threshold == 0.45


def test_an_oversized_or_undecodable_file_is_refused_by_size_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nname = "{"x" * MAX_CONFIG_BYTES}"\n')
    message = refusal(tmp_path)
    assert f"a kiosk.toml is at most {MAX_CONFIG_BYTES:,}" in message
    assert len(message) < SHORT_MESSAGE
    path.write_bytes(b'[kiosk]\nname = "\xff"\n')
    assert "is not UTF-8 text" in refusal(tmp_path)


def test_a_long_value_or_name_is_cut_in_the_error_not_echoed(tmp_path: Path) -> None:
    huge = "A" * 10_000_000
    cases = [
        ({"KIOSK_KIOSK__NAME": huge}, "kiosk.name = 'AAAA"),
        ({"KIOSK_MATCHING__THRESHOLD": huge}, "matching.threshold = 'AAAA"),
        ({f"KIOSK_MATCHING__{huge}": "1"}, "unknown setting matching."),
        ({f"KIOSK_MATCHING_{huge}": "1"}, "is not a setting"),
    ]
    for environ, start in cases:
        message = refusal(tmp_path, environ)
        assert start in message
        assert "characters in all)" in message
        assert len(message) < SHORT_MESSAGE, len(message)
    (tmp_path / "kiosk.toml").write_text(f'[kiosk]\nname = "{"B" * 500_000}"\n')
    message = refusal(tmp_path)
    assert f"'{'B' * (QUOTED_CHARS - 1)}... (500,002 characters in all)" in message
    with pytest.raises(InvalidValue) as refused:
        parse_assignment(f"camera.folder_fps={huge}", Settings())
    assert len(str(refused.value)) < SHORT_MESSAGE
    with pytest.raises(InvalidValue) as refused:
        with_overrides(Settings(), {"camera.source": huge})
    assert len(str(refused.value)) < SHORT_MESSAGE


@pytest.mark.slow  # a real process of its own
def test_kiosk_admin_refuses_a_fifo_config_with_one_line_and_exit_2(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "kiosk.toml")
    refused = run("config", "show", password=None, data_dir=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "kiosk.toml is a FIFO, not a regular file" in refused.stderr
