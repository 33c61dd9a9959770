"""The metrics port: held on every loopback address or refused, never shared with a
process that could answer for the kiosk."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.errors import ConfigurationError
from core.settings import Settings, TelemetrySettings
from telemetry.metrics import KioskMetrics
from tests.operator_window import STARTUP_MS

LOOPBACKS = (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6))

SQUATTER = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
server = socket.socket(family)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
if family == socket.AF_INET6:
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
server.bind((host, port))
server.listen()
print("listening", flush=True)
sys.stdin.read()
"""


def free_port() -> int:
    """A port free on both loopback addresses right now."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET6) as other:
                other.bind(("::1", port))
        except OSError:
            continue
        return port


@pytest.fixture
def squatter() -> Iterator[object]:
    """Another local process listening where it is told, until the test ends."""
    running: list[subprocess.Popen[str]] = []

    def listen(host: str, port: int) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c", SQUATTER, host, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        running.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "listening"

    yield listen
    for process in running:
        process.kill()
        process.wait(timeout=10)


def scrape(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    with urllib.request.urlopen(f"http://{shown}:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_the_metrics_hold_both_loopback_addresses_and_no_one_else_may_listen() -> None:
    metrics, port = KioskMetrics(), free_port()
    metrics.serve(port)
    try:
        metrics.frames_read.inc(7)
        for host, family in LOOPBACKS:
            assert "kiosk_frames_read_total 7.0" in scrape(host, port)
            with socket.socket(family) as other:
                other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                with pytest.raises(OSError, match="in use") as taken:
                    other.bind((host, port))
                assert taken.value.errno == errno.EADDRINUSE
        # [::] would take both addresses at once.
        with socket.socket(socket.AF_INET6) as anywhere, pytest.raises(OSError, match="in use"):
            anywhere.bind(("::", port))
    finally:
        metrics.close()


@pytest.mark.parametrize(("host", "shown"), [("::1", "[::1]"), ("127.0.0.1", "127.0.0.1")])
def test_a_port_another_process_listens_on_is_refused_naming_it(
    squatter, host: str, shown: str
) -> None:
    port = free_port()
    squatter(host, port)
    metrics = KioskMetrics()
    with pytest.raises(ConfigurationError) as refused:
        metrics.serve(port)
    message = str(refused.value)
    assert f"another process already listens on {shown}:{port}" in message
    assert "telemetry.metrics_port" in message
    assert "\n" not in message
    # Nothing half-held is left behind: the address the kiosk did get is let go.
    for other_host, family in LOOPBACKS:
        if other_host != host:
            with socket.socket(family) as free:
                free.bind((other_host, port))


@pytest.mark.usefixtures("staff")  # an operator exists: the door, not the first-run screen
def test_the_door_goes_on_and_its_status_line_says_the_metrics_are_off(
    qtbot: QtBot, open_window, squatter
) -> None:
    port = free_port()
    squatter("::1", port)
    window = open_window(Settings(telemetry=TelemetrySettings(metrics_port=port)))
    qtbot.waitUntil(lambda: "metrics are off" in window.door.status.text(), timeout=STARTUP_MS)
    assert f"[::1]:{port}" in window.door.status.text()
    recognition = window.controller.recognition
    assert recognition is not None
    qtbot.waitUntil(lambda: recognition.worker.frames_processed > 0, timeout=STARTUP_MS)
