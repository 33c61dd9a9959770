"""`kiosk`: the full-screen door application."""

from __future__ import annotations

import argparse
import importlib.resources
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget

from config.environment import Location, load_configuration
from config.local_config import CommandLine
from core.errors import KioskError
from core.settings import Settings
from frames.sources import command_line_camera, source_from_spec
from kiosk.controller import KioskController
from kiosk.crash_guard import CrashGuard
from kiosk.door_hardware import LockedFirst
from kiosk.door_lock_first import DOOR_NOT_DRIVEN, lock_door_first
from kiosk.kiosk_screen import KioskScreen
from telemetry.json_log import log_to_console, log_to_files
from telemetry.safe_text import for_terminal

log = logging.getLogger(__name__)
EXIT_FAILURE = 1
EXIT_USAGE = 2
CLOSE_KEYS = "Ctrl+Shift+Q"  # windowed kiosks only


def stylesheet() -> str:
    return (importlib.resources.files("resources") / "style" / "kiosk.qss").read_text("utf-8")


class KioskWindow(QMainWindow):
    """The door screen and, stacked behind it, the operator's screens.

    At the door (full screen) nobody closes the window: not Ctrl+Shift+Q, not the window
    manager's close. It stops as a service does, on SIGTERM or SIGINT (``stop``). A
    windowed kiosk, for setting up and trying out, closes with Ctrl+Shift+Q."""

    def __init__(
        self,
        settings: Settings,
        location: Location,
        camera: str | None = None,
        camera_fps: float | None = None,
        db_password: str | None = None,
        *,
        at_the_door: bool = False,
        locked_first: LockedFirst | None = None,
    ) -> None:
        """``camera`` and ``camera_fps``, when given, win over the database's settings.
        ``at_the_door``: the full-screen kiosk, which only ``stop`` closes.
        ``locked_first``: the door's lock held since before Qt (kiosk.door_lock_first)."""
        super().__init__()
        self._closable = not at_the_door
        self.setWindowTitle("Door kiosk")
        self.stack = QStackedWidget()
        self.door = KioskScreen(log_person_names=settings.telemetry.log_person_names)
        self.stack.addWidget(self.door)
        self.setCentralWidget(self.stack)
        pinned: dict[str, object] = {}
        if camera is not None:
            pinned["camera.source"] = camera
            # The command line's camera may be a video file or a folder (trying out).
            allowed = settings.camera.model_copy(update={"allow_files": True})
            settings = settings.model_copy(update={"camera": allowed})
        if camera_fps is not None:
            pinned["camera.folder_fps"] = camera_fps
        self.controller = KioskController(
            self.stack, self.door, settings, location, pinned, db_password, locked_first
        )
        login = QShortcut(QKeySequence("Ctrl+Shift+O"), self)
        login.activated.connect(self.controller.request_login)
        if not at_the_door:
            leave = QShortcut(QKeySequence(CLOSE_KEYS), self)
            leave.activated.connect(self.close)

    def stop(self) -> None:
        """Close the window, at the door too: what SIGTERM and SIGINT do."""
        self._closable = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt's name for the override
        if not self._closable:
            log.warning("a request to close the door's window was refused")
            event.ignore()
            return
        self.controller.shutdown()
        super().closeEvent(event)


def _quit_on_signals(app: QApplication, window: KioskWindow) -> None:
    """SIGTERM (a service stop) and Ctrl+C leave through the normal shutdown, which
    stops the threads and the embedded database."""

    def leave(*_: object) -> None:
        window.stop()  # the door's window refuses every other close, and Qt's quit asks it
        app.quit()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, leave)
    # Python runs signal handlers only when it gets the interpreter; Qt's loop is C++.
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)


class _Arguments(argparse.ArgumentParser):
    """A usage error as one line, its echo of the arguments made safe: an unknown
    argument may carry escape sequences that would rewrite the terminal."""

    def error(self, message: str) -> NoReturn:
        line = f"{self.prog}: error: {message} (see {self.prog} --help)"
        print(for_terminal(line, one_line=True), file=sys.stderr)  # noqa: T201 - no window yet
        sys.exit(EXIT_USAGE)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Arguments(prog="kiosk", description="The face-recognition door kiosk.")
    parser.add_argument(
        "--windowed",
        action="store_true",
        help=f"a window, not full screen; {CLOSE_KEYS} closes it (a full-screen kiosk "
        "stops only on SIGTERM or Ctrl+C in its terminal)",
    )
    parser.add_argument(
        "--camera",
        default=os.environ.get("KIOSK_CAMERA") or None,
        help="device number, video file, stream URL or image folder "
        "(default: KIOSK_CAMERA, else the Settings screen's choice, else 0)",
    )
    parser.add_argument(
        "--camera-fps",
        type=float,
        help="frames per second for an image folder (default: 15)",
    )
    parser.add_argument("--data-dir", help="data folder (default: KIOSK_DATA_DIR or the user's)")
    parser.add_argument("--database-url", help="external PostgreSQL (default: KIOSK_DATABASE_URL)")
    parser.add_argument("--model-dir", help="model pack folder (default: buffalo_sc)")
    parser.add_argument("--providers", help="onnxruntime providers, comma separated")
    parser.add_argument(
        "--verbose", action="store_true", help="log each screen change and decision"
    )
    args = parser.parse_args(argv)
    if args.camera_fps is not None and not 0 < args.camera_fps <= 120:
        parser.error("--camera-fps must be between 0 and 120")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    log_to_console(
        logging.INFO if args.verbose else logging.WARNING,
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:  # the lock first: a kiosk that stops below must not leave the door unlocked
        locked_first = lock_door_first(args.data_dir, os.environ)
    except KioskError as error:
        message = for_terminal(f"kiosk: error: {error}; {DOOR_NOT_DRIVEN}", one_line=True)
        print(message, file=sys.stderr)  # noqa: T201 - before any window
        return EXIT_USAGE
    try:
        location, config = load_configuration(
            args.data_dir,
            CommandLine(args.database_url, args.model_dir, args.providers),
            os.environ,
        )
        settings = config.settings
        log_file = log_to_files(location.data_dir, settings.telemetry)
        if args.camera is not None:  # refuse a bad spec now, before any window
            source_from_spec(command_line_camera(settings.camera, args.camera), settings.images)
    except KioskError as error:
        message = for_terminal(f"kiosk: error: {error}", one_line=True)
        print(message, file=sys.stderr)  # noqa: T201 - before any window
        if locked_first is not None:
            locked_first.hold.stop()  # locked once more, then let go
        return EXIT_USAGE
    except Exception as error:  # one line for a person, never a stack trace
        log.debug("unexpected failure before the window", exc_info=True)
        message = f"kiosk: error: unexpected {type(error).__name__}: {error}"
        print(for_terminal(message, one_line=True), file=sys.stderr)  # noqa: T201
        return EXIT_FAILURE
    log.info("kiosk %s starting; JSON log in %s", settings.kiosk_id, log_file)
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(stylesheet())
    window = KioskWindow(
        settings,
        location,
        args.camera,
        args.camera_fps,
        os.environ.get("KIOSK_DATABASE_PASSWORD") or None,
        at_the_door=not args.windowed,
        locked_first=locked_first,
    )
    _quit_on_signals(app, window)
    controller = window.controller
    guard = CrashGuard()
    guard.fault.connect(window.door.show_fault)
    guard.install()
    if args.windowed:
        window.resize(1280, 800)
        window.show()
    else:
        # Without a window manager (a bare X server) full screen needs the size set too.
        window.setGeometry(app.primaryScreen().geometry())
        window.showFullScreen()
    controller.start()
    code = app.exec()
    controller.shutdown()
    guard.uninstall()
    return code
