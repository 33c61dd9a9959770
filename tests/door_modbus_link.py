"""The network between the kiosk and a Modbus-TCP module, played as a TCP relay in
front of the real module (door_io.modbus_module.ModbusModule): every request and
reply passes whole, and the test may make the link slow, garble the module's
replies, or play a module that acknowledges writes without carrying them out."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from enum import StrEnum

_HEADER = 7  # MBAP: transaction id, protocol id, length, unit id
_WRITES = (5, 15)  # write single coil, write multiple coils
_READ_COILS = 1


class LinkFault(StrEnum):
    NONE = "none"
    SLOW = "slow"
    """Replies arrive ``delay_s`` late: after the client's time-out."""
    GARBLED = "garbled"
    """Replies arrive with their function code and data overwritten."""
    ACK_ONLY = "ack_only"
    """Writes are answered as done (the echo a module sends) but never reach the module."""
    STUCK_ON = "stuck_on"
    """Reads of the coils answer "on", whatever the module holds: a relay welded shut."""


class ModbusLink:
    """A relay on 127.0.0.1 (``port``) to the module at ``upstream_port``. ``fault``
    and ``delay_s`` may be changed at any time; ``writes_only`` limits the fault to
    write requests (the reads pass untouched). Each connection gets a thread."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.fault = LinkFault.NONE
        self.writes_only = True
        self.delay_s = 1.0
        self.spoiled = 0
        """Replies made late, garbled or answered here so far."""
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def close(self) -> None:
        self._closing.set()
        # On Linux close() alone does not wake a thread blocked in accept() or recv()
        # on that socket; shutdown() does, so the threads end at once, not at join's 5 s.
        _shut(self._listener)
        self._listener.close()
        self._acceptor.join(5)
        with self._lock:
            for sock in self._sockets:
                _shut(sock)
                sock.close()
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._sockets.append(client)
                self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            module = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
        except OSError:
            client.close()
            return
        module.settimeout(None)  # the kiosk's own time-out decides; the module waits
        with self._lock:
            self._sockets.append(module)
        with client, module:
            while not self._closing.is_set():
                request = _frame(client)
                if request is None:
                    return
                reply = self._answer(request, module)
                if reply is None:
                    return
                try:
                    client.sendall(reply)
                except OSError:
                    return  # the kiosk gave up on this connection

    def _answer(self, request: bytes, module: socket.socket) -> bytes | None:
        function = request[_HEADER]
        fault = self.fault
        applies = not self.writes_only or function in _WRITES
        if fault is LinkFault.ACK_ONLY and function in _WRITES:
            self.spoiled += 1
            return request[:12]  # a write's reply echoes its first 12 bytes
        module.sendall(request)
        reply = _frame(module)
        if reply is None:
            return None
        if fault is LinkFault.SLOW and applies:
            self.spoiled += 1
            if self._closing.wait(self.delay_s):
                return None
        if fault is LinkFault.GARBLED and applies:
            self.spoiled += 1
            return reply[:_HEADER] + bytes([0x5A]) * (len(reply) - _HEADER)
        if fault is LinkFault.STUCK_ON and function == _READ_COILS and len(reply) > _HEADER + 2:
            self.spoiled += 1
            return reply[: _HEADER + 2] + bytes([0xFF]) * (len(reply) - _HEADER - 2)
        return reply


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or already closed by its peer
        sock.shutdown(socket.SHUT_RDWR)


def _frame(sock: socket.socket) -> bytes | None:
    """One whole Modbus-TCP frame from ``sock``; None when it closed."""
    header = _read(sock, _HEADER)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header[4:6])
    body = _read(sock, length - 1)
    return None if body is None else header + body


def _read(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        try:
            chunk = sock.recv(count - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data
