"""The door end to end, as a site runs it: the installed `kiosk --camera FOLDER`
(offscreen), the real models and database, and a Modbus-TCP module played by
pymodbus's own server. The enrolled person's visit sets the lock coil within a
second of the decision and it resets after unlock_s; a stranger's never sets it;
a kiosk killed (SIGKILL) while the door is unlocked leaves the coil on, and the
next start forces it locked."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.accounts.operators import Authenticator
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.settings import SecuritySettings, Settings
from core.vision.engine import FaceEngine
from door_io.modbus_module import ModbusModule
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.conftest import good_stranger
from tests.door_events_recorder import wait_until
from tests.door_kiosk_process import LOCK_COIL, UNLOCK_S, KioskProcess
from tests.operator_window import ADMIN_PASSWORD


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    yield server
    server.close()


@pytest.fixture
def door_with_yao(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    yaoming_jpg: Path,
) -> None:
    admin = Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "alice", ADMIN_PASSWORD
    )
    enrollment = EnrollmentService(face_engine, identity_store, Settings().matching)
    image = cv2.imread(str(yaoming_jpg))
    enrollment.enroll(admin, "Yao Ming", None, [("photo", image)], current_consent(), True)


def visits(folder: Path, person: np.ndarray) -> Path:
    """An empty doorway for a second, the person for two, the doorway empty for two:
    looped by the folder camera, the person comes back every five seconds."""
    folder.mkdir()
    empty = np.full_like(person, 60)
    for i, frame in enumerate([empty] * 5 + [person] * 10 + [empty] * 10):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    return folder


@pytest.mark.usefixtures("door_with_yao")
def test_the_door_opens_for_the_enrolled_never_for_a_stranger_and_restarts_locked(
    module: ModbusModule,
    fresh_database: str,
    tmp_path: Path,
    yaoming_jpg: Path,
    t1_jpg: Path,
    face_engine: FaceEngine,
) -> None:
    data_dir = tmp_path / "data"
    yao = visits(tmp_path / "yao", cv2.imread(str(yaoming_jpg)))
    kiosk = KioskProcess(yao, fresh_database, data_dir, module)
    try:
        decided = kiosk.wait_for("banner: [person] access granted")
        wait_until(lambda: module.coil(LOCK_COIL), timeout_s=3)
        opened = time.monotonic()
        assert opened - decided < 1.0, "the coil goes on within 1 s of the decision"
        wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=UNLOCK_S + 3)
        assert time.monotonic() - opened == pytest.approx(UNLOCK_S, abs=0.6)
        wait_until(lambda: module.coil(LOCK_COIL), timeout_s=15)  # the next visit
    finally:
        killed = kiosk.stop(signal.SIGKILL)
    assert killed == -signal.SIGKILL
    assert "door open, come in" in kiosk.log
    assert "Yao Ming" not in kiosk.log, "names stay out of the log (telemetry.log_person_names)"
    assert module.coil(LOCK_COIL), "killed while unlocked: only the next start relocks"

    stranger = good_stranger(face_engine, cv2.imread(str(t1_jpg)))
    writes_before = len(module.coil_writes)
    kiosk = KioskProcess(visits(tmp_path / "stranger", stranger), fresh_database, data_dir, module)
    try:
        kiosk.wait_for("banner: starting: database\n")
        assert not module.coil(LOCK_COIL), "locked before the database is opened"
        kiosk.wait_for("banner: not recognized")
        kiosk.wait_for("banner: not recognized", timeout_s=15)
    finally:
        code = kiosk.stop(signal.SIGTERM)
    assert code == 0, kiosk.log
    assert "Traceback" not in kiosk.log, kiosk.log
    after_restart = module.coil_writes[writes_before:]
    assert after_restart, "the start wrote the lock output"
    assert (LOCK_COIL, True) not in after_restart, "a stranger never sets the coil"
    assert after_restart[0] == (LOCK_COIL, False), "forced locked first"
    assert not module.coil(LOCK_COIL), "locked at a clean exit"
