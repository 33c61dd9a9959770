"""Fixtures for tests of the kiosk window's operator side: a window on the real
store and models, and a staff of one operator per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.records import Operator, Role

if TYPE_CHECKING:  # the window, Qt and the store are imported by the fixtures that use them
    import numpy as np
    from pytestqt.qtbot import QtBot

    from core.settings import Settings
    from kiosk.app import KioskWindow
    from storage.operator_store import SqlOperatorStore

ADMIN_PASSWORD = "tall-ladder-orange-77"
PASSWORDS = {Role.ENROLLER: "quiet-river-stone-42", Role.AUDITOR: "brown-cedar-window-9"}
STARTUP_MS = 30_000


def camera_folder(folder: Path, image: np.ndarray) -> Path:
    """A few frames of one scene, each shifted a little: a person standing at the door."""
    import cv2
    import numpy as np

    folder.mkdir()
    for i, dx in enumerate((0, 2, 4, 6, 8, 10)):
        shifted = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1])
        cv2.imwrite(str(folder / f"{i:04d}.png"), shifted)
    return folder


@pytest.fixture
def open_window(
    qtbot: QtBot, fresh_database: str, tmp_path: Path, photos: Path
) -> Iterator[object]:
    """Opens kiosk windows (default camera: an empty scene) and disposes of them after."""
    from config.environment import Location
    from core.settings import Settings
    from kiosk.app import KioskWindow, stylesheet

    windows: list[KioskWindow] = []
    empty_scene = tmp_path / "camera"
    empty_scene.mkdir()
    (empty_scene / "frame.png").write_bytes((photos / "no_face.png").read_bytes())

    def open_(
        settings: Settings | None = None,
        camera: Path | None = None,
        fps: float = 5.0,
        pin_camera: bool = True,
    ) -> KioskWindow:
        """``pin_camera=False`` leaves the camera to the Settings screen, like a kiosk
        started without --camera."""
        window = KioskWindow(
            settings or Settings(),
            Location(tmp_path / "data", fresh_database),
            str(camera or empty_scene) if pin_camera else None,
            fps if pin_camera else None,
        )
        window.setStyleSheet(stylesheet())
        qtbot.addWidget(window)
        window.resize(1024, 700)
        window.show()
        window.controller.start()
        windows.append(window)
        qtbot.waitUntil(lambda: window.controller.operator_mode is not None, timeout=STARTUP_MS)
        return window

    yield open_
    from tests.conftest import dispose_windows

    dispose_windows(windows)


@pytest.fixture
def staff(operator_store: SqlOperatorStore) -> dict[Role, Operator]:
    from core.accounts.operators import Authenticator, OperatorService
    from core.settings import SecuritySettings

    admin = Authenticator(operator_store, SecuritySettings(), "t").create_first_admin(
        "alice", ADMIN_PASSWORD
    )
    service = OperatorService(operator_store, SecuritySettings())
    return {
        Role.ADMIN: admin,
        Role.ENROLLER: service.add(admin, "erin", Role.ENROLLER, PASSWORDS[Role.ENROLLER]),
        Role.AUDITOR: service.add(admin, "otto", Role.AUDITOR, PASSWORDS[Role.AUDITOR]),
    }


def log_in(qtbot: QtBot, window: KioskWindow, username: str, password: str) -> None:
    mode = window.controller.operator_mode
    assert mode is not None
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.door, timeout=STARTUP_MS)
    window.controller.request_login()
    assert window.stack.currentWidget() is mode.login
    mode.login.username.setText(username)
    mode.login.password.setText(password)
    mode.login.log_in.click()


def logged_in(qtbot: QtBot, window: KioskWindow, username: str, password: str) -> object:
    """Log in and return the operator mode once the admin screen shows."""
    log_in(qtbot, window, username, password)
    mode = window.controller.operator_mode
    assert mode is not None
    qtbot.waitUntil(lambda: mode.admin is not None, timeout=10_000)
    return mode


def open_page(mode: object, title: str) -> None:
    mode.admin.open_page(title)  # type: ignore[attr-defined]
