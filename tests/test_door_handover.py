"""The lock hold hands the door hardware over to the door controller off the GUI
thread: a module that hangs (every request waits out modbus_timeout_s) never
freezes the kiosk's window at start."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from core.door_io_settings import DoorIoSettings
from core.settings import Settings
from tests.silent_module import SilentModule

HANGING_S = 6.0
"""How long each request to the hanging module waits (modbus_timeout_s)."""
UNNOTICED_S = 1.0
"""A pause of the window a person at the door would hardly notice (before the
hand-over left the GUI thread, this test measured 3.6-3.8 s)."""
TICK_MS = 20


def test_the_window_never_waits_for_a_hanging_module_at_start(
    qtbot: QtBot, open_window: Callable[..., object]
) -> None:
    module = SilentModule()
    settings = Settings(
        kiosk_id="door-east",
        door_io=DoorIoSettings(
            adapter="modbus",
            modbus_host="127.0.0.1",
            modbus_port=module.port,
            modbus_timeout_s=HANGING_S,
            command_timeout_s=0.5,
            retry_s=0.05,
            retry_max_s=0.1,
        ),
    )
    ticks: list[float] = []
    ticker = QTimer()
    ticker.timeout.connect(lambda: ticks.append(time.monotonic()))
    ticker.start(TICK_MS)
    try:
        window = open_window(settings)  # returns once the door controller runs
    finally:
        ticker.stop()
        module.close()  # the calls under way fail at once: the door stops quickly
    assert window is not None
    longest = max(later - earlier for earlier, later in itertools.pairwise(ticks))
    assert longest < UNNOTICED_S, f"the window froze for {longest:.2f} s"
