"""The data folder and everything in it are the kiosk's alone, and the log names people
only when a setting asks for it."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from config.environment import secure_data_dir
from core.records import AccessDecision, AccessOutcome
from core.settings import Settings, TelemetrySettings
from kiosk.kiosk_screen import KioskScreen
from telemetry.json_log import LOG_FILE, log_to_files, loggable_text
from tests.cli_fixtures import run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def left_open_by_an_older_version(data: Path) -> dict[str, Path]:
    """A data folder as it was: 0755 folders, 0644 files, a name in the log."""
    files = {
        "config": data / "kiosk.toml",
        "log": data / "logs" / LOG_FILE,
        "rotated log": data / "logs" / f"{LOG_FILE}.1",
        "spool": data / "spool" / "events.jsonl",
        "rejected": data / "spool" / "events.jsonl.rejected",
    }
    for folder in (data, data / "logs", data / "spool"):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
    for path in files.values():
        path.write_text('{"message": "banner: Yao Ming access granted"}\n')
        path.chmod(0o644)
    files["config"].write_text("[kiosk]\n")
    return files


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger as it was before the test, afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers[len(handlers) :]:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


# ---- owner-only ------------------------------------------------------------------------------


def test_a_data_folder_left_open_is_made_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    files = left_open_by_an_older_version(data)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the kiosk's")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    with caplog.at_level(logging.WARNING, logger="config.private_files"):
        secure_data_dir(data)
    assert {mode(folder) for folder in (data, data / "logs", data / "spool")} == {0o700}
    assert {name: mode(path) for name, path in files.items()} == dict.fromkeys(files, 0o600)
    assert mode(outside) == 0o644  # a link is not followed out of the folder
    # Each file that was open is named, so a secret in it can be replaced.
    warned = sorted(record.getMessage().split(" ")[0] for record in caplog.records)
    assert warned == sorted(str(path.relative_to(data)) for path in files.values())
    assert all("had mode 0644" in record.getMessage() for record in caplog.records)
    caplog.clear()
    secure_data_dir(data)  # already owner-only: nothing to say
    assert not caplog.records


def test_a_missing_data_folder_is_made_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    secure_data_dir(data)
    assert mode(data) == 0o700


def test_the_json_log_and_every_rotated_log_are_owner_only(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    data = tmp_path / "data"
    files = left_open_by_an_older_version(data)
    path = log_to_files(data, TelemetrySettings(log_file_max_mb=1, log_files_kept=2))
    for number in range(2500):  # past two rotations
        logging.getLogger("test").warning("line %d %s", number, "x" * 1000)
    logs = sorted(path.parent.iterdir())
    assert [log.name for log in logs] == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert {mode(log) for log in logs} == {0o600}
    assert mode(path.parent) == 0o700
    assert mode(data) == 0o700
    assert mode(files["rejected"]) == 0o600


# ---- another local user ------------------------------------------------------------------------


@pytest.fixture
def other_user() -> Iterator[str]:
    """A local account of this test's own, removed afterwards."""
    name = f"kprobe{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A temporary folder other accounts may pass through, as /var/lib is (pytest's own
    temporary folders are closed to them, which would make any check pass)."""
    parent = Path(tempfile.mkdtemp(prefix="kiosk-privacy-"))
    parent.chmod(0o711)
    yield parent
    shutil.rmtree(parent)


def as_user(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as ``user``, with that user's group only (not ours)."""
    return subprocess.run(
        command,
        user=user,
        group=user,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_another_local_user_reads_nothing_of_a_kiosk_data_folder(
    other_user: str, open_parent: Path
) -> None:
    control = open_parent / "readable.txt"
    control.write_text("anyone may read this")
    control.chmod(0o644)
    data = open_parent / "data"
    files = left_open_by_an_older_version(data)
    assert as_user(other_user, "cat", str(control)).returncode == 0
    assert "Yao Ming" in as_user(other_user, "cat", str(files["log"])).stdout  # as it was

    for _ in range(2):  # the second start and stop go through the tightened folder
        shown = run("settings", "show", password=None, data_dir=data)
        assert shown.returncode == 0, shown.stderr
        assert "Failed to stop server" not in shown.stderr

    server_apart = any(
        entry.is_dir() and entry.stat().st_uid != os.geteuid() for entry in data.iterdir()
    )
    assert mode(data) == (0o710 if server_apart else 0o700)
    listing = as_user(other_user, "ls", str(data))
    assert listing.returncode != 0
    assert "Permission denied" in listing.stderr
    for name, path in files.items():
        read = as_user(other_user, "cat", str(path))
        assert read.returncode != 0, f"{name} is readable by another user"
        assert "Permission denied" in read.stderr
        assert mode(path) == 0o600


# ---- names in the log ------------------------------------------------------------------------


def granted(name: str) -> AccessDecision:
    return AccessDecision(
        kiosk_id="door-1",
        outcome=AccessOutcome.GRANTED,
        person_id=uuid.uuid4(),
        display_name=name,
        similarity=0.7,
        latency_ms=200.0,
    )


@pytest.mark.parametrize("names_allowed", [False, True])
def test_the_log_names_the_person_greeted_only_when_the_setting_asks(
    qtbot: QtBot, tmp_path: Path, root_logger: logging.Logger, names_allowed: bool
) -> None:
    settings = Settings(telemetry=TelemetrySettings(log_person_names=names_allowed))
    path = log_to_files(tmp_path, settings.telemetry)
    screen = KioskScreen(log_person_names=settings.telemetry.log_person_names)
    qtbot.addWidget(screen)
    screen.show_decision(granted("Yao  Ming"))
    assert screen.banner.text().startswith("Yao  Ming")  # the screen always greets
    log = path.read_text("utf-8")
    assert "access granted" in log
    assert ("Yao Ming" in log) is names_allowed
    assert ("[person]" in log) is not names_allowed


def test_names_are_off_unless_a_setting_turns_them_on() -> None:
    assert Settings().telemetry.log_person_names is False
    assert loggable_text("Yao Ming\naccess granted", "Yao Ming", False) == "[person] access granted"
    assert loggable_text("Yao Ming\naccess granted", "Yao Ming", True) == "Yao Ming access granted"
    assert loggable_text("not recognized", None, False) == "not recognized"
