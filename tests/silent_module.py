"""A TCP port that takes connections and never answers: a Modbus module that hangs,
or a device at the address that does not speak Modbus-TCP."""

from __future__ import annotations

import socket
import threading


class SilentModule:
    """Every request to it waits out the client's time-out; ``close()`` drops the
    connections, so the calls under way fail at once."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._taken: list[socket.socket] = []
        self._thread = threading.Thread(target=self._take, daemon=True)
        self._thread.start()

    def _take(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._taken.append(connection)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(5)
        for connection in self._taken:
            connection.close()
