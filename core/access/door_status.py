"""What a door controller (core.access.door_controller) reports of its door: the
control's state, the hardware adapter and its fault. Apart from the controller so that
the screen, the metrics and the integrations read it without the driving thread."""

from __future__ import annotations

from dataclasses import dataclass

from core.access.door_control import DoorState

CONTROL_FAILED = "the door control failed and no longer drives the door; restart the kiosk"
"""The fault shown after a bug of ours stopped the door's thread (the lock then driven
locked)."""


@dataclass(frozen=True, kw_only=True)
class DoorStatus:
    adapter: str
    state: DoorState
    fault: str | None
    """Why the hardware is not answering; None while it is."""

    @property
    def kind(self) -> str:
        """The adapter's kind ("modbus", "serial"...) without where it is: the first
        word of ``adapter`` (DoorIo.name), for what leaves the kiosk."""
        return self.adapter.split(" ", 1)[0]
