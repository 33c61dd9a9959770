"""The door hardware named by the ``[door_io]`` settings."""

from __future__ import annotations

from core.access.door_io import DoorIo
from core.door_io_settings import DoorAdapter, DoorIoSettings


def open_door_io(settings: DoorIoSettings) -> DoorIo | None:
    """The adapter for ``settings.adapter``; None for "none" (no door hardware).
    Connections open on first use, so this never waits for the hardware."""
    if settings.adapter is DoorAdapter.SIMULATED:
        from door_io.simulated import SimulatedDoor

        return SimulatedDoor(contact_on_when_closed=settings.contact_on_when_closed)
    if settings.adapter is DoorAdapter.MODBUS:
        from door_io.modbus import ModbusDoor

        return ModbusDoor(settings)
    if settings.adapter is DoorAdapter.SERIAL:
        from door_io.serial_relay import SerialRelayDoor

        return SerialRelayDoor(settings)
    if settings.adapter is DoorAdapter.GPIO:
        from door_io.gpio import GpioDoor

        return GpioDoor(settings)
    return None
