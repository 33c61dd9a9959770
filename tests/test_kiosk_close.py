"""The public side of the kiosk: nobody at the door closes it, and its screen shows
the kiosk's name, never a path."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import pytest
from PySide6.QtGui import QShortcut
from pytestqt.qtbot import QtBot

from config.environment import Location
from core.errors import ConfigurationError, ModelPackError, StoreError
from core.settings import Settings
from kiosk.app import CLOSE_KEYS, KioskWindow
from kiosk.startup import Startup, public_reason


def shortcuts(window: KioskWindow) -> set[str]:
    return {shortcut.key().toString() for shortcut in window.findChildren(QShortcut)}


def test_at_the_door_no_key_and_no_close_request_closes_the_kiosk(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window = KioskWindow(Settings(), Location(tmp_path / "data", None), at_the_door=True)
    qtbot.addWidget(window)
    window.show()
    assert CLOSE_KEYS not in shortcuts(window)
    assert window.close() is False  # what the window manager's close (Alt+F4) asks
    assert window.isVisible()
    window.stop()  # what SIGTERM and Ctrl+C in its terminal do
    assert not window.isVisible()
    assert window.controller.threads_running() == []


def test_a_windowed_kiosk_closes_with_its_keys(qtbot: QtBot, tmp_path: Path) -> None:
    window = KioskWindow(Settings(), Location(tmp_path / "data", None))
    qtbot.addWidget(window)
    window.show()
    (leave,) = [s for s in window.findChildren(QShortcut) if s.key().toString() == CLOSE_KEYS]
    leave.activated.emit()
    assert not window.isVisible()


@pytest.mark.parametrize(
    "error",
    [
        StoreError("the embedded PostgreSQL in /var/lib/face-kiosk/postgres did not start"),
        ModelPackError("w600k_mbf.onnx in /opt/models/buffalo_sc is missing"),
        ConfigurationError("cannot write the log file /var/lib/face-kiosk/logs/kiosk.log.jsonl"),
        RuntimeError("/home/kiosk/secret/thing exploded"),
    ],
)
def test_a_failed_start_is_told_on_the_door_screen_without_a_path(error: Exception) -> None:
    reason = public_reason(error)
    assert "/" not in reason
    assert "details in the kiosk's log" in reason


def test_a_start_against_an_unreachable_database_shows_no_address(tmp_path: Path) -> None:
    failures: list[str] = []
    unreachable = "postgresql://kiosk@127.0.0.1:1/kiosk_db"
    with ExitStack() as resources:
        startup = Startup(Location(tmp_path / "data", unreachable), Settings(), {}, None, resources)
        startup.failed.connect(failures.append)
        startup.run()  # on this thread, as the kiosk runs it on its start-up thread
    (reason,) = failures
    assert reason.startswith("the database cannot be reached")
    assert "127.0.0.1" not in reason
    assert str(tmp_path) not in reason


@pytest.mark.slow
def test_the_door_screen_shows_the_kiosks_name_and_no_path(
    qtbot: QtBot, open_window, tmp_path: Path
) -> None:
    window = open_window(Settings(kiosk_name="North entrance"))
    qtbot.waitUntil(lambda: window.door.status.text() == "North entrance", timeout=10_000)


@pytest.mark.slow  # a real process of its own
def test_a_full_screen_kiosk_stops_cleanly_on_sigterm(tmp_path: Path, photos: Path) -> None:
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "frame.png").write_bytes((photos / "no_face.png").read_bytes())
    kiosk = str(Path(sys.executable).with_name("kiosk"))
    unreachable = "postgresql://kiosk@127.0.0.1:1/kiosk"
    arguments = ["--verbose", "--camera", str(camera), "--database-url", unreachable]
    process = subprocess.Popen(
        [kiosk, *arguments, "--data-dir", str(tmp_path / "data")],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        # Full screen and running its event loop once it has told why it cannot start.
        seen: list[str] = []
        waited = _line_with(process.stderr, "cannot start: the database cannot be reached", seen)
        assert waited is not None, "".join(seen)
        assert "127.0.0.1" not in waited  # the door screen's words, not the address
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _line_with(stream: IO[str], text: str, seen: list[str], timeout_s: float = 120) -> str | None:
    """The first line holding ``text``; None at the end of the stream or after
    ``timeout_s``. Every line read is added to ``seen``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            line = stream.readline()
            if not line:
                return None
            seen.append(line)
            if text in line:
                return line
    return None
