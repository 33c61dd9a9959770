"""Errors that repeat what a person typed never pass its control characters on: the
kiosk's and kiosk-admin's usage errors (real processes), and the window's messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kiosk.kiosk_screen import KioskScreen
from kiosk.widgets import MessageLabel
from tests.cli_fixtures import run

# Clears the screen, then a right-to-left override: "error" would read as something else.
HOSTILE = "--\x1b[2J\x1b[1;1Hgranted\u202eliame"
SHOWN = "--\\x1b[2J\\x1b[1;1Hgranted\\u202eliame"


def kiosk(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env["KIOSK_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def assert_one_safe_line(stderr: str) -> str:
    assert "\x1b" not in stderr
    assert "\u202e" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_the_kiosk_repeats_an_unknown_argument_escaped(tmp_path: Path) -> None:
    result = kiosk(HOSTILE, tmp_path=tmp_path)
    assert result.returncode == 2
    line = assert_one_safe_line(result.stderr)
    assert line == f"kiosk: error: unrecognized arguments: {SHOWN} (see kiosk --help)"


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_the_kiosk_repeats_a_bad_option_value_escaped(tmp_path: Path) -> None:
    result = kiosk("--camera-fps", "\x1b[31m9", tmp_path=tmp_path)
    assert result.returncode == 2
    line = assert_one_safe_line(result.stderr)
    assert line.startswith("kiosk: error: argument --camera-fps: invalid float value:")
    assert "\\x1b[31m9" in line


@pytest.mark.slow  # runs kiosk or kiosk-admin as a process of its own
def test_kiosk_admin_repeats_an_unknown_argument_escaped(tmp_path: Path) -> None:
    result = run("version", HOSTILE, data_dir=tmp_path / "data")
    assert result.returncode == 2
    line = assert_one_safe_line(result.stderr)
    assert SHOWN in line
    at = run("rules", "check", "--person", "x", "--door", "d", "--at", HOSTILE, data_dir=tmp_path)
    assert at.returncode == 2
    assert_one_safe_line(at.stderr)


def test_the_window_shows_a_message_with_its_control_characters_escaped(qtbot: QtBot) -> None:
    label = MessageLabel()
    qtbot.addWidget(label)
    label.show_error(f"no person named {HOSTILE}")
    assert label.text() == f"no person named {SHOWN}"
    screen = KioskScreen(log_person_names=False)
    qtbot.addWidget(screen)
    screen.show_status(f"camera {HOSTILE} cannot be opened")
    assert screen.status.text() == f"camera {SHOWN} cannot be opened"
