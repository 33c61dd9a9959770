"""The metrics' HTTP server, on every loopback address of one port, or on none.

"localhost:<port>" may reach 127.0.0.1 or ::1, whichever a scraper tries first. If
the kiosk listened on 127.0.0.1 alone, another local process could listen on ::1 at
the same port (or already be listening on 127.0.0.1) and answer for the kiosk with
numbers of its own, while the kiosk served nothing. So the kiosk takes the port on
both loopback addresses or refuses: a port another process holds on either is an
error naming it. Once both are held, the kernel lets no other socket listen there
(SO_REUSEADDR, which Python's HTTP servers set, shares a port only with sockets in
TIME_WAIT; SO_REUSEPORT, which would share it, is never set).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import ThreadingWSGIServer

from core.errors import ConfigurationError

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
IPV4_LOOPBACK = "127.0.0.1"
IPV6_LOOPBACK = "::1"
# No IPv6 on this machine (or no ::1): 127.0.0.1 is then the only loopback to hold.
_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Each scrape is not a line of the kiosk's log."""


class _IPv4Server(ThreadingWSGIServer):
    address_family = socket.AF_INET


class _IPv6Server(ThreadingWSGIServer):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        # ::1 only: a dual-stack socket would also take 127.0.0.1, already held.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class LoopbackServer:
    """Serves ``app`` on 127.0.0.1 and ::1 at one port, each on a thread of its own."""

    def __init__(self, app: WsgiApp, port: int) -> None:
        """Raises ConfigurationError naming the address another process holds (or
        the port being refused), and the fix."""
        self.port = port
        self._started = False
        self._servers: list[WSGIServer] = [self._bind(app, IPV4_LOOPBACK, _IPv4Server)]
        try:
            self._servers.append(self._bind(app, IPV6_LOOPBACK, _IPv6Server))
        except _NoIpv6:
            log.info("no IPv6 loopback here: metrics on %s only", IPV4_LOOPBACK)
        except BaseException:
            self.close()
            raise
        for server in self._servers:
            name = f"metrics-{_shown(server.server_address[0])}"
            threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
        self._started = True

    @property
    def addresses(self) -> list[str]:
        """Where it listens, for messages: "127.0.0.1", "[::1]"."""
        return [_shown(server.server_address[0]) for server in self._servers]

    def close(self) -> None:
        for server in self._servers:
            if self._started:
                server.shutdown()  # waits for serve_forever: only for a started server
            server.server_close()
        self._servers = []

    def _bind(self, app: WsgiApp, host: str, kind: type[WSGIServer]) -> WSGIServer:
        try:
            return make_server(host, self.port, app, kind, handler_class=_Quiet)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"another process already listens on {_shown(host)}:{self.port}, so a "
                    f"scraper of localhost:{self.port} could read its numbers instead of the "
                    "kiosk's: stop it, or choose another telemetry.metrics_port (0 turns "
                    "metrics off)"
                ) from None
            if host == IPV6_LOOPBACK and error.errno in _NO_IPV6:
                raise _NoIpv6 from None
            raise ConfigurationError(
                f"cannot serve metrics on {_shown(host)}:{self.port} ({error.strerror}); "
                "choose another telemetry.metrics_port, or 0 to turn metrics off"
            ) from None


class _NoIpv6(Exception):
    pass


def _shown(host: str | bytes | bytearray) -> str:
    text = host.decode() if isinstance(host, (bytes, bytearray)) else host
    return f"[{text}]" if ":" in text else text
