"""A Modbus-TCP relay/IO module (pymodbus): the lock on a coil, the door contact and
the exit button on discrete inputs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault, DoorNotApplied

log = logging.getLogger(__name__)
T = TypeVar("T")

# The Modbus exception codes a relay/IO module answers with, in words (the spec's
# names in the comments); anything else is named by its number.
_ILLEGAL_FUNCTION = 1
_ILLEGAL_ADDRESS = 2  # ILLEGAL DATA ADDRESS
_DEVICE_FAILURE = 4  # SERVER DEVICE FAILURE
_DEVICE_BUSY = 6  # SERVER DEVICE BUSY
_GATEWAY_CODES = (10, 11)  # GATEWAY PATH UNAVAILABLE, GATEWAY TARGET FAILED TO RESPOND


class ModbusDoor:
    """A DoorIo over one Modbus-TCP connection, opened on first use and again after
    it failed, so a module that restarts is picked up at the next call.

    A fault is one plain line naming the problem and the fix (it reaches the door
    report, the Door page and the audit log); pymodbus's own words for it go only
    to the log.

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
        self._call(
            lambda: self._client.write_coil(coil, on, device_id=self._settings.modbus_unit),
            f"coil {coil}",
            "door_io.modbus_lock_coil",
        )

    def read_lock_output(self) -> bool:
        return self._read_coil()

    def read_inputs(self) -> DoorInputs:
        settings = self._settings
        unit = settings.modbus_unit
        coil = self._read_coil()
        wired = [
            a for a in (settings.modbus_contact_input, settings.modbus_exit_input) if a is not None
        ]
        if not wired:
            return DoorInputs(lock_output=coil)
        first = min(wired)
        count = max(wired) - first + 1
        # One request for both inputs: they are read at the same instant.
        reply = self._call(
            lambda: self._client.read_discrete_inputs(first, count=count, device_id=unit),
            f"discrete input {first}" if count == 1 else f"discrete inputs {first}-{max(wired)}",
            "door_io.modbus_contact_input and modbus_exit_input",
        )

        def level(address: int | None) -> bool | None:
            return None if address is None else bool(reply.bits[address - first])

        return DoorInputs(
            contact=level(settings.modbus_contact_input),
            exit_button=level(settings.modbus_exit_input),
            lock_output=coil,
        )

    def _read_coil(self) -> bool:
        coil = self._settings.modbus_lock_coil
        reply = self._call(
            lambda: self._client.read_coils(coil, device_id=self._settings.modbus_unit),
            f"coil {coil}",
            "door_io.modbus_lock_coil",
        )
        return bool(reply.bits[0])

    def close(self) -> None:
        self._client.close()

    def _call(self, request: Callable[[], ModbusPDU], what: str, keys: str) -> ModbusPDU:
        """Send ``request`` (about ``what``, set by the settings ``keys``). Raises
        DoorNotApplied when it was not sent or the module refused it, DoorFault when
        its answer was lost, late or garbled (a write may then have taken), in plain
        words; the raw reason is logged."""
        here = f"the Modbus module at {self._address}"
        if not self._client.connected and not self._client.connect():
            # pymodbus has logged why (refused, no route, unknown name); nothing was sent.
            raise DoorNotApplied(
                f"{here} does not answer; check its power and network cable, and "
                "door_io.modbus_host and modbus_port"
            )
        try:
            reply = request()
        except (ModbusException, OSError) as error:
            self._client.close()  # opened afresh at the next call
            log.warning("%s: %s: %s", here, type(error).__name__, error)
            if isinstance(error, ConnectionException | OSError):
                raise DoorFault(
                    f"{here} closed the connection; check its power and network cable"
                ) from None
            raise DoorFault(
                f"{here} did not answer within {self._settings.modbus_timeout_s:g} s; check "
                f"its power and network cable, and door_io.modbus_unit "
                f"({self._settings.modbus_unit})"
            ) from None
        if reply.isError():  # a Modbus exception reply: the request was not carried out
            code = getattr(reply, "exception_code", None)
            log.warning("%s refused the request for %s: %s", here, what, reply)
            raise DoorNotApplied(self._refusal(here, code, what, keys))
        return reply

    def _refusal(self, here: str, code: int | None, what: str, keys: str) -> str:
        unit = self._settings.modbus_unit
        if code == _ILLEGAL_ADDRESS:
            return f"{here} has no {what}; check {keys} (addresses count from 0)"
        if code == _ILLEGAL_FUNCTION:
            return (
                f"{here} does not take this request for {what}; use a module that answers "
                "Modbus functions 01, 02 and 05 (docs/door-wiring.md)"
            )
        if code == _DEVICE_FAILURE:
            return (
                f"{here} reports a failure for unit {unit}; check door_io.modbus_unit and "
                "restart the module"
            )
        if code == _DEVICE_BUSY:
            return f"{here} is busy; it is tried again, restart the module if this stays"
        if code in _GATEWAY_CODES:
            return f"{here} (a gateway) cannot reach unit {unit}; check door_io.modbus_unit"
        return (
            f"{here} refused the request for {what} (Modbus exception {code}); check "
            f"door_io.modbus_unit ({unit}) and {keys}"
        )
