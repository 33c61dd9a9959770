"""The lock is forced locked first, before the database and the models, and kept
locked when the kiosk's start-up fails (core.access.lock_hold.LockHold), against a
real Modbus-TCP module (pymodbus's own server on 127.0.0.1)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from config.environment import Location
from core.access.lock_hold import LockHold
from core.door_io_settings import DoorIoSettings
from core.settings import Settings
from door_io.modbus import ModbusDoor
from door_io.modbus_module import ModbusModule
from kiosk.app import EXIT_USAGE, KioskWindow
from kiosk.door_lock_first import DOOR_NOT_DRIVEN, lock_door_first
from storage.kiosk_claim import claim_kiosk_id
from tests.conftest import dispose_windows
from tests.door_events_recorder import wait_until
from tests.door_kiosk_process import LOCK_COIL, KioskProcess
from tests.door_modbus_link import LinkFault, ModbusLink
from tests.operator_window import camera_folder

pytestmark = pytest.mark.slow  # a real Modbus-TCP module, and kiosks run as processes of their own

UNREACHABLE_DATABASE = "postgresql+psycopg://u:p@127.0.0.1:1/x"
LOCKED_WITHIN_S = 2.0


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    yield server
    server.close()


def door_settings(module: ModbusModule, **changes: object) -> DoorIoSettings:
    return DoorIoSettings.model_validate(
        {
            "adapter": "modbus",
            "modbus_host": "127.0.0.1",
            "modbus_port": module.port,
            "modbus_lock_coil": LOCK_COIL,
            "modbus_timeout_s": 0.5,
            "retry_s": 0.1,
            "retry_max_s": 0.3,
            **changes,
        }
    )


def left_unlocked(module: ModbusModule) -> None:
    """What a kiosk killed during an unlock leaves behind: the coil on."""
    other = ModbusDoor(door_settings(module))
    other.set_lock_output(True)
    other.close()
    assert module.coil(LOCK_COIL)


class Faults:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.seen: list[str | None] = []

    def __call__(self, fault: str | None) -> None:
        with self._changed:
            self.seen.append(fault)
            self._changed.notify_all()

    def wait_for(self, accept: object, timeout_s: float = 5.0) -> None:
        def found() -> bool:
            return any(f is None if accept is None else f is not None for f in self.seen)

        with self._changed:
            assert self._changed.wait_for(found, timeout_s), f"no such report: {self.seen}"


def test_the_hold_relocks_a_coil_left_on_and_keeps_it_locked(module: ModbusModule) -> None:
    left_unlocked(module)
    faults = Faults()
    hold = LockHold(ModbusDoor(door_settings(module)), door_settings(module), faults)
    hold.start()
    try:
        assert hold.wait_first_try(LOCKED_WITHIN_S)
        assert not module.coil(LOCK_COIL)
        assert hold.fault is None
        left_unlocked(module)  # a module that restarted with its output on, say
        wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=LOCKED_WITHIN_S)
    finally:
        io = hold.handover()
    io.set_lock_output(False)  # handed over still open and usable
    io.close()
    assert faults.seen == [None]
    on, off = (LOCK_COIL, True), (LOCK_COIL, False)
    # left on, locked by the hold, left on again, locked again, the controller's write
    assert module.coil_writes == [on, off, on, off, off]


def test_a_module_that_does_not_answer_is_a_fault_tried_again_until_it_does() -> None:
    module = ModbusModule()  # its port is kept, nothing listens on it yet
    faults = Faults()
    settings = door_settings(module)
    hold = LockHold(ModbusDoor(settings), settings, faults)
    hold.start()
    try:
        faults.wait_for("a fault")
        assert "does not answer" in (hold.fault or "")
        module.start()
        faults.wait_for(None)
        assert hold.fault is None
        assert module.coil_writes[0] == (LOCK_COIL, False)
    finally:
        hold.stop()
        module.close()


@pytest.mark.parametrize("answers", [True, False], ids=["module answers", "module silent"])
def test_a_failed_start_shows_the_door_locked_or_faulted(
    qtbot: QtBot, tmp_path: Path, answers: bool
) -> None:
    module = ModbusModule()
    if answers:
        module.start()
        left_unlocked(module)
    settings = Settings(door_io=door_settings(module))
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    window = KioskWindow(settings, Location(tmp_path / "data", UNREACHABLE_DATABASE), str(camera))
    qtbot.addWidget(window)
    try:
        window.controller.start()
        screen = window.door
        qtbot.waitUntil(lambda: "cannot start" in screen.status.text(), timeout=30_000)
        expected = "door locked" if answers else "door locked · DOOR FAULT"
        qtbot.waitUntil(lambda: screen.door_state.text() == expected, timeout=5_000)
        if answers:
            assert not module.coil(LOCK_COIL)
    finally:
        dispose_windows([window])
        module.close()


def test_a_kiosk_that_cannot_reach_its_database_locks_the_door_first(
    module: ModbusModule, tmp_path: Path
) -> None:
    left_unlocked(module)
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    kiosk = KioskProcess(camera, UNREACHABLE_DATABASE, tmp_path / "data", module)
    try:
        kiosk.wait_for("cannot start: the database cannot be reached")
        assert not module.coil(LOCK_COIL), "locked before the failed start-up ended"
        begun = kiosk.wait_for("door hardware: modbus")
        locked = kiosk.wait_for("held locked until the kiosk has started")
        assert locked - begun < LOCKED_WITHIN_S
        kiosk.wait_for("banner: starting: failed")
        assert not module.coil(LOCK_COIL), "kept locked after the failed start"
    finally:
        code = kiosk.stop(signal.SIGTERM)
    assert code == 0, kiosk.log
    assert "Traceback" not in kiosk.log, kiosk.log
    writes = module.coil_writes[1:]  # after left_unlocked's
    assert writes[:1] == [(LOCK_COIL, False)], "forced locked first"
    assert (LOCK_COIL, True) not in writes
    assert not module.coil(LOCK_COIL), "locked at a clean exit"


def private_data_dir(tmp_path: Path, config: str) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "kiosk.toml").write_text(config)
    (data_dir / "kiosk.toml").chmod(0o600)
    return data_dir


@pytest.mark.parametrize(
    ("config", "env_over"),
    [
        ("[camera]\nfolder_fps = 1000\n", {}),
        ("", {"KIOSK_MATCHING__THRESHOLD": "two"}),
        ("[camera]\nfps = 15\n", {}),
    ],
    ids=["bad value in kiosk.toml", "bad value in a variable", "unknown key in kiosk.toml"],
)
def test_a_start_refused_for_another_setting_locks_the_door_first(
    module: ModbusModule, tmp_path: Path, config: str, env_over: dict[str, str]
) -> None:
    left_unlocked(module)
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    kiosk = KioskProcess(
        camera, UNREACHABLE_DATABASE, private_data_dir(tmp_path, config), module, env_over
    )
    assert kiosk.ended() == EXIT_USAGE, kiosk.log
    refusal = [line for line in kiosk.log.splitlines() if line.startswith("kiosk: error:")]
    assert len(refusal) == 1, kiosk.log
    assert "camera." in refusal[0] or "matching.threshold" in refusal[0]
    assert "Traceback" not in kiosk.log
    assert not module.coil(LOCK_COIL), "forced locked before the other settings were read"
    assert module.coil_writes[1:2] == [(LOCK_COIL, False)]


def test_a_kiosk_with_no_display_locks_the_door_before_qt_stops_it(
    module: ModbusModule, tmp_path: Path
) -> None:
    left_unlocked(module)
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    # xcb with no DISPLAY: Qt ends the process (abort) while it makes the application.
    kiosk = KioskProcess(
        camera, UNREACHABLE_DATABASE, tmp_path / "data", module, {"QT_QPA_PLATFORM": "xcb"}
    )
    assert kiosk.ended() != 0, kiosk.log
    assert "no Qt platform plugin could be initialized" in kiosk.log, kiosk.log
    assert not module.coil(LOCK_COIL), "forced locked before Qt started"


def test_a_bad_door_io_setting_is_one_line_and_leaves_the_lock_alone(
    module: ModbusModule, tmp_path: Path
) -> None:
    left_unlocked(module)
    writes = len(module.coil_writes)
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    kiosk = KioskProcess(
        camera,
        UNREACHABLE_DATABASE,
        private_data_dir(tmp_path, "[door_io]\nheld_open_s = 0\n"),
        module,
    )
    assert kiosk.ended() == EXIT_USAGE, kiosk.log
    lines = kiosk.log.splitlines()
    assert len(lines) == 1, kiosk.log
    assert lines[0].startswith("kiosk: error: setting door_io.held_open_s = 0 (from kiosk.toml)")
    assert lines[0].endswith(DOOR_NOT_DRIVEN), lines[0]
    assert module.coil_writes[writes:] == [], "which hardware to drive is not known"


def test_the_hold_reports_a_module_that_acknowledges_the_lock_without_carrying_it_out(
    module: ModbusModule,
) -> None:
    left_unlocked(module)
    link = ModbusLink(module.port)
    link.fault = LinkFault.ACK_ONLY
    settings = door_settings(module, modbus_port=link.port)
    faults = Faults()
    hold = LockHold(ModbusDoor(settings), settings, faults)
    hold.start()
    try:
        faults.wait_for("a fault")
        assert hold.fault == (
            f"the door hardware (modbus 127.0.0.1:{link.port} unit 1) took the lock output off "
            "but reads it back on; check that its outputs are enabled (not in a manual or test "
            "mode) and the relay is not stuck"
        )
        link.fault = LinkFault.NONE  # mended: the next try locks it
        faults.wait_for(None)
        assert not module.coil(LOCK_COIL)
    finally:
        hold.stop()
        link.close()


@pytest.mark.slow
def test_a_kiosk_refused_for_its_id_leaves_the_door_to_the_kiosk_that_holds_it(
    module: ModbusModule, db_engine: Engine, fresh_database: str, tmp_path: Path
) -> None:
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    with claim_kiosk_id(db_engine, "door-e2e", 0):  # the kiosk running under the id
        kiosk = KioskProcess(
            camera,
            fresh_database,
            tmp_path / "data",
            module,
            {
                "KIOSK_DATABASE__KIOSK_CLAIM_WAIT_S": "0",
                "KIOSK_DOOR_IO__RETRY_S": "0.1",
                "KIOSK_DOOR_IO__RETRY_MAX_S": "0.2",
            },
        )
        try:
            kiosk.wait_for("cannot start: another running kiosk has this kiosk's id")
            kiosk.wait_for("let go: another kiosk holds this kiosk's id")
            left_unlocked(module)  # the kiosk holding the id unlocks its door
            writes = len(module.coil_writes)
            time.sleep(1.0)  # five of the hold's looks (retry_max_s): what is tested
        finally:
            code = kiosk.stop(signal.SIGTERM)
        assert code == 0, kiosk.log
        assert module.coil_writes[writes:] == [], "not a write after the id was refused"
        assert module.coil(LOCK_COIL), "the other kiosk's unlock stands, even at the exit"


def test_the_lock_held_before_qt_is_the_window_s_and_shown(
    qtbot: QtBot, module: ModbusModule, tmp_path: Path
) -> None:
    left_unlocked(module)
    environ = {
        "KIOSK_DOOR_IO__ADAPTER": "modbus",
        "KIOSK_DOOR_IO__MODBUS_HOST": "127.0.0.1",
        "KIOSK_DOOR_IO__MODBUS_PORT": str(module.port),
        "KIOSK_DOOR_IO__MODBUS_LOCK_COIL": str(LOCK_COIL),
    }
    held = lock_door_first(str(tmp_path / "data"), environ)
    assert held is not None
    assert not module.coil(LOCK_COIL), "locked before lock_door_first returned"
    settings = Settings(door_io=door_settings(module))
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    window = KioskWindow(
        settings,
        Location(tmp_path / "data", UNREACHABLE_DATABASE),
        str(camera),
        locked_first=held,
    )
    qtbot.addWidget(window)
    try:
        window.controller.start()  # the hold is started already: not again
        qtbot.waitUntil(lambda: window.door.door_state.text() == "door locked", timeout=5_000)
        qtbot.waitUntil(lambda: "cannot start" in window.door.status.text(), timeout=30_000)
    finally:
        dispose_windows([window])
    assert module.coil_writes[1:] == [(LOCK_COIL, False)] * len(module.coil_writes[1:])
    assert not module.coil(LOCK_COIL)
