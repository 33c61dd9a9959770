"""A Modbus-TCP relay/IO module (pymodbus): the lock on a coil, the door contact and
the exit button on discrete inputs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModbusDoor:
    """A DoorIo over one Modbus-TCP connection, opened on first use and again after
    it failed, so a module that restarts is picked up at the next call.

    A plain coil has no pulse timer: the unlock is timed here, and a kiosk that
    dies while the door is unlocked leaves the coil on until the next start forces
    it off (docs/door-wiring.md).
    """

    def __init__(self, settings: DoorIoSettings) -> None:
        self._settings = settings
        self._address = f"{settings.modbus_host}:{settings.modbus_port}"
        self._client = ModbusTcpClient(
            settings.modbus_host,
            port=settings.modbus_port,
            timeout=settings.modbus_timeout_s,
            retries=0,
            reconnect_delay=0,
        )

    @property
    def name(self) -> str:
        return f"modbus {self._address} unit {self._settings.modbus_unit}"

    def set_lock_output(self, on: bool) -> None:
        coil = self._settings.modbus_lock_coil
        self._call(lambda: self._client.write_coil(coil, on, device_id=self._settings.modbus_unit))

    def read_inputs(self) -> DoorInputs:
        settings = self._settings
        unit = settings.modbus_unit
        coil = self._call(
            lambda: self._client.read_coils(settings.modbus_lock_coil, device_id=unit)
        )
        wired = [
            a for a in (settings.modbus_contact_input, settings.modbus_exit_input) if a is not None
        ]
        if not wired:
            return DoorInputs(lock_output=bool(coil.bits[0]))
        first = min(wired)
        count = max(wired) - first + 1
        # One request for both inputs: they are read at the same instant.
        reply = self._call(
            lambda: self._client.read_discrete_inputs(first, count=count, device_id=unit)
        )

        def level(address: int | None) -> bool | None:
            return None if address is None else bool(reply.bits[address - first])

        return DoorInputs(
            contact=level(settings.modbus_contact_input),
            exit_button=level(settings.modbus_exit_input),
            lock_output=bool(coil.bits[0]),
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, request: Callable[[], ModbusPDU]) -> ModbusPDU:
        if not self._client.connected and not self._client.connect():
            raise DoorFault(
                f"the Modbus module at {self._address} does not answer; check its power, "
                "network and door_io.modbus_host/modbus_port"
            )
        try:
            reply = request()
        except (ModbusException, OSError) as error:
            self._client.close()  # opened afresh at the next call
            raise DoorFault(f"the Modbus module at {self._address} failed: {error}") from error
        if reply.isError():
            raise DoorFault(
                f"the Modbus module at {self._address} refused the request ({reply}); "
                "check door_io.modbus_unit and the coil and input addresses"
            )
        return reply
