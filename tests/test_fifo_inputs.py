"""A FIFO or a device where a file is read is refused in one line, at once: the
commands that read files, the spool and the outbox, through real processes and
real named pipes (no writer ever comes)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.calibration.dataset import read_lfw_pairs
from core.errors import ImageRejected, InvalidValue, StoreError, UnsafeDataEntry
from core.settings import ImageLimits, SpoolSettings
from core.vision.imagefile import check_image_file, read_image_file
from integrations.outbox import Outbox
from owned_files.folders import UnsafeEntry
from owned_files.inputs import NotARegularFile, read_regular
from storage.durable_files import append_synced
from storage.spool import EventSpool

# Longest any refusal below may take: a hang would take forever.
AT_ONCE_S = 30


def fifo(path: Path) -> Path:
    os.mkfifo(path, 0o600)
    return path


def at_once(call: Callable[[], Any]) -> BaseException | None:
    """What ``call`` raised (None if nothing), failing the test if it waits."""
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            call()
            outcome["raised"] = None
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["raised"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(AT_ONCE_S)
    assert not worker.is_alive(), "waited on a FIFO"
    return outcome["raised"]


# --- kiosk-admin ------------------------------------------------------------------------------


def test_rules_import_of_a_fifo_or_a_device_is_refused_in_one_line(
    admin_cli, tmp_path: Path
) -> None:
    pipe = fifo(tmp_path / "rules.toml")
    for given, kind in ((pipe, "a FIFO"), (Path("/dev/zero"), "a character device")):
        result = admin_cli("rules", "import", given, "--operator", "alice")  # 120 s at most
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"kiosk-admin: error: {given} is {kind}, not a regular file; give the rules file itself"
        )


def test_enroll_and_identify_refuse_a_fifo_photo(admin_cli, tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "face.jpg")
    enrolled = admin_cli(
        "enroll", "--name", "Pat", "--image", pipe, "--consent", "--operator", "alice"
    )
    assert enrolled.returncode == 3, enrolled.stderr
    assert "is not a regular file" in enrolled.stderr
    assert len(enrolled.stderr.strip().splitlines()) == 1
    identified = admin_cli("identify", "--image", pipe, "--operator", "alice")
    assert identified.returncode == 3, identified.stderr
    assert "is not a regular file" in identified.stderr


# --- what the commands read, in process: a FIFO swapped in after the look ---------------------


def test_the_readers_refuse_a_fifo_at_once(tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "pipe")
    refused = at_once(lambda: read_regular(pipe, 100))
    assert isinstance(refused, NotARegularFile)
    assert str(refused) == f"{pipe} is a FIFO, not a regular file"
    assert isinstance(at_once(lambda: read_image_file(pipe, ImageLimits())), ImageRejected)
    assert isinstance(at_once(lambda: check_image_file(pipe, ImageLimits())), ImageRejected)
    pairs = at_once(lambda: read_lfw_pairs(pipe, tmp_path))
    assert isinstance(pairs, InvalidValue)
    assert "is a FIFO, not a regular file" in str(pairs)


# --- the spool, the outbox and the files they write ----------------------------------------------


def test_a_spool_file_that_is_a_fifo_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    fifo(folder / "events.jsonl")
    refused = at_once(lambda: EventSpool(folder / "events.jsonl", SpoolSettings()))
    assert isinstance(refused, StoreError)
    assert "events.jsonl is a FIFO, not a regular file" in str(refused)
    assert "\n" not in str(refused)


def test_a_sent_offset_that_is_a_fifo_is_taken_for_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    with EventSpool(folder / "events.jsonl", SpoolSettings()) as spool:
        spool.append(_audit_event())
    fifo(folder / "events.jsonl.sent")
    reopened = at_once(lambda: EventSpool(folder / "events.jsonl", SpoolSettings()).close())
    assert reopened is None  # sends everything again: the database keeps each event once


def test_an_outbox_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir(mode=0o700)
    fifo(folder / "mqtt.jsonl")
    refused = at_once(lambda: Outbox(folder / "mqtt.jsonl", 100, 4096))
    assert isinstance(refused, StoreError)
    assert "mqtt.jsonl is a FIFO, not a regular file" in str(refused)


def test_a_file_written_in_the_data_folder_is_never_a_fifo(tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "events.jsonl.rejected")
    refused = at_once(lambda: append_synced(pipe, b"line\n"))
    assert isinstance(refused, UnsafeEntry)
    assert "is a FIFO, not a plain file" in str(refused)


def _audit_event() -> Any:
    from core.log_records import KioskAuditEvent

    return KioskAuditEvent("door-1", "kiosk.offline", {})


def test_the_spools_lock_is_never_a_fifo(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    fifo(folder / "events.jsonl.lock")
    refused = at_once(lambda: EventSpool(folder / "events.jsonl", SpoolSettings()))
    assert isinstance(refused, UnsafeDataEntry)
    assert "events.jsonl.lock is a FIFO, not a plain file" in str(refused)


def test_a_reserve_that_is_a_fifo_is_trouble_for_the_operator_not_a_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    fifo(folder / "events.jsonl.reserve")
    spools: list[EventSpool] = []
    assert at_once(lambda: spools.append(EventSpool(folder / "events.jsonl"))) is None
    with spools[0] as spool:
        assert spool.trouble is not None
        spool.append(_audit_event())  # events are still kept
        assert len(spool) == 1
    assert "events.jsonl.reserve is a FIFO, not a plain file" in caplog.text
