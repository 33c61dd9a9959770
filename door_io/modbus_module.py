"""A Modbus-TCP relay/IO module played by pymodbus's own server on 127.0.0.1, with
coils and discrete inputs 0-15, on an event loop in a thread of its own: for the
tests, the benchmark's door section, and demos without hardware."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import DataType

T = TypeVar("T")
UNIT = 1
_COILS = 1
_DISCRETE_INPUTS = 2
_START_S = 10.0
_POINTS = 16
_WRITE_COIL = 5
_WRITE_COILS = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ModbusModule:
    """Start with ``start()``; ``stop()`` and ``start()`` again to play a module that
    goes away and comes back (on the same port, with its coils reset to off, as after
    a power cut); ``stop(keep_outputs=True)`` plays a network link that goes down and
    comes back: the module comes back with its coils as they were."""

    def __init__(self) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: ModbusTcpServer | None = None
        self.coil_writes: list[tuple[int, bool]] = []
        """Every (coil, value) a client wrote, in order, across restarts."""
        self._kept_coils: list[bool] | None = None
        self.write_times: list[float] = []
        """When each of ``coil_writes`` was taken (time.perf_counter), just before
        the module acknowledged it."""

    def start(self) -> None:
        self._run(self._start())
        kept, self._kept_coils = self._kept_coils, None
        if kept is not None:
            assert self._server is not None
            self._run(self._server.async_setValues(UNIT, _COILS, 0, kept))

    def stop(self, *, keep_outputs: bool = False) -> None:
        """Stop answering; ``keep_outputs``: the next ``start`` restores the coils."""
        if self._server is not None:
            if keep_outputs:
                coils = self._run(self._server.async_getValues(UNIT, _COILS, 0, _POINTS))
                self._kept_coils = [bool(c) for c in coils]
            self._run(self._server.shutdown())
            self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_S)
        self._loop.close()

    def coil(self, address: int) -> bool:
        assert self._server is not None
        return bool(self._run(self._server.async_getValues(UNIT, _COILS, address, 1))[0])

    def set_input(self, address: int, on: bool) -> None:
        assert self._server is not None
        self._run(self._server.async_setValues(UNIT, _DISCRETE_INPUTS, address, [on]))

    async def _start(self) -> None:
        def bits() -> list[SimData]:
            return [SimData(0, count=_POINTS, values=False, datatype=DataType.BITS)]

        def registers() -> list[SimData]:
            return [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)]

        async def record_writes(
            function_code: int,
            _start: int,
            address: int,
            _count: int,
            _registers: list[int],
            values: list[int] | list[bool] | None,
        ) -> None:
            if function_code in (_WRITE_COIL, _WRITE_COILS) and values is not None:
                now = time.perf_counter()
                for i, value in enumerate(values):
                    self.coil_writes.append((address + i, bool(value)))
                    self.write_times.append(now)

        device = SimDevice(
            UNIT,
            simdata=(bits(), bits(), registers(), registers()),
            action=record_writes,
        )
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_START_S)
