"""The installed `kiosk` in a process of its own (offscreen), its door on a Modbus-TCP
module played by door_io.modbus_module.ModbusModule: for the end-to-end door tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from door_io.modbus_module import ModbusModule

KIOSK = str(Path(sys.executable).with_name("kiosk"))
LOCK_COIL = 2
START_LIMIT_S = 90
UNLOCK_S = 2.0


class KioskProcess:
    """A running kiosk; its log lines (stderr) are collected with the time each
    arrived, on a thread of their own, so the test can watch the coil meanwhile."""

    def __init__(
        self,
        camera: Path,
        database_url: str,
        data_dir: Path,
        module: ModbusModule,
        env_over: Mapping[str, str] | None = None,
    ) -> None:
        """``env_over``: variables set over the door's own (a setting to break, another
        Qt platform); a name with an empty value is removed."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KIOSK_", "QT_", "DISPLAY", "WAYLAND_"))
        }
        env.update(
            QT_QPA_PLATFORM="offscreen",
            KIOSK_ID="door-e2e",
            KIOSK_DOOR_IO__ADAPTER="modbus",
            KIOSK_DOOR_IO__MODBUS_HOST="127.0.0.1",
            KIOSK_DOOR_IO__MODBUS_PORT=str(module.port),
            KIOSK_DOOR_IO__MODBUS_LOCK_COIL=str(LOCK_COIL),
            KIOSK_DOOR_IO__UNLOCK_S=str(UNLOCK_S),
        )
        for name, value in (env_over or {}).items():
            if value:
                env[name] = value
            else:
                env.pop(name, None)
        self.process = subprocess.Popen(
            [KIOSK, "--windowed", "--verbose", "--camera", str(camera), "--camera-fps", "5",
             "--database-url", database_url, "--data-dir", str(data_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.lines: list[tuple[float, str]] = []
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._arrived:
                self.lines.append((time.monotonic(), line))
                self._arrived.notify_all()
        self.process.wait()
        with self._arrived:  # ended: a wait for a line that will never come ends too
            self._arrived.notify_all()

    def wait_for(self, text: str, timeout_s: float = START_LIMIT_S) -> float:
        """When the first line holding ``text`` arrived (monotonic s)."""

        def seen() -> float | None:
            return next((at for at, line in self.lines if text in line), None)

        with self._arrived:
            self._arrived.wait_for(
                lambda: seen() is not None or self.process.poll() is not None, timeout_s
            )
            at = seen()
        assert at is not None, f"no {text!r} within {timeout_s} s:\n{self.log}"
        return at

    @property
    def log(self) -> str:
        return "".join(line for _, line in self.lines)

    def ended(self, timeout_s: float = START_LIMIT_S) -> int:
        """The exit code of a kiosk that ends by itself (a refused start); one still
        running after ``timeout_s`` is killed (never left behind) and fails the test."""
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            raise AssertionError(
                f"the kiosk did not end within {timeout_s} s:\n{self.log}"
            ) from None
        self._reader.join(10)
        return code

    def stop(self, sig: signal.Signals) -> int:
        """Send ``sig`` and wait for the exit code; killed if it has not ended in 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            raise
        self._reader.join(10)
        return code
