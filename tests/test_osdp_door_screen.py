"""The door controller's answer on the door screen: libosdp's control panel commands
the kiosk's reader over a pseudo-terminal, secure channel on; the screen (offscreen)
shows what the controller decided, and the operators see a controller that went."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from osdp import CommandLEDColor
from pytestqt.qtbot import QtBot

from core.access.controller_answers import LedColor
from core.access.wiegand import wiegand26
from core.records import AccessOutcome, Candidate, access_decision
from kiosk.kiosk_screen import KioskScreen
from kiosk.reader_display import ReaderDisplay
from osdp_reader.reader import OsdpReader
from tests.osdp_bus import Bus, Controller, pty_bus, reader_settings, start_reader, write_key

WAIT_MS = 10_000
ONLINE = "door controller online (OSDP)"


@pytest.fixture
def bus() -> Iterator[Bus]:
    with pty_bus() as made:
        yield made


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(16)


@pytest.fixture
def door(
    qtbot: QtBot, bus: Bus, key: bytes, tmp_path: Path
) -> Iterator[tuple[KioskScreen, ReaderDisplay, OsdpReader, list[str]]]:
    screen = KioskScreen(decision_display_s=3.0)
    qtbot.addWidget(screen)
    osdp = reader_settings(bus, write_key(tmp_path, key))
    display = ReaderDisplay(screen, osdp)
    described: list[str] = []
    display.state_described.connect(described.append)
    reader = start_reader(osdp, display.signals)
    yield screen, display, reader, described
    reader.stop()


def _grant(screen: KioskScreen) -> None:
    match = Candidate(uuid.uuid4(), "Yao Ming", 0.7)
    screen.show_decision(
        access_decision(
            kiosk_id="door-1", outcome=AccessOutcome.GRANTED, latency_ms=300, match=match
        )
    )


def test_a_red_led_from_the_controller_makes_the_door_screen_show_refused(
    qtbot: QtBot,
    bus: Bus,
    key: bytes,
    door: tuple[KioskScreen, ReaderDisplay, OsdpReader, list[str]],
) -> None:
    screen, display, _reader, described = door
    controller = Controller(bus, key)
    try:
        controller.wait_secure()
        qtbot.waitUntil(
            lambda: described[-1:] == ["door controller online (OSDP)"], timeout=WAIT_MS
        )
        assert "controller offline" not in display.lamp.text()

        _grant(screen)  # the kiosk's own decision first
        assert screen.banner.property("state") == "granted"
        controller.led(CommandLEDColor.Red, tenths=30)
        qtbot.waitUntil(lambda: screen.banner.property("state") == "denied", timeout=WAIT_MS)
        assert screen.banner.text() == "access refused"

        _grant(screen)
        controller.led(CommandLEDColor.Green, tenths=30)
        qtbot.waitUntil(
            lambda: (
                screen.banner.text() == "Yao Ming\naccess granted"
                and screen.banner.property("state") == "granted"
            ),
            timeout=WAIT_MS,
        )

        # A permanent colour is the reader's idle state: the lamp, never the banner.
        controller.led(CommandLEDColor.Amber, temporary=False)
        qtbot.waitUntil(lambda: display.lamp.color is LedColor.AMBER, timeout=WAIT_MS)
        assert screen.banner.property("state") == "granted"
    finally:
        controller.stop()


@pytest.mark.slow  # libosdp takes a controller for gone after 8 s without a poll
def test_a_controller_that_goes_is_a_fault_for_operators_and_the_kiosks_decision_stands(
    qtbot: QtBot,
    bus: Bus,
    key: bytes,
    door: tuple[KioskScreen, ReaderDisplay, OsdpReader, list[str]],
) -> None:
    screen, display, reader, described = door
    controller = Controller(bus, key)
    controller.wait_secure()
    qtbot.waitUntil(lambda: described[-1:] == ["door controller online (OSDP)"], timeout=WAIT_MS)
    controller.stop()
    qtbot.waitUntil(
        lambda: described[-1:] == ["door controller not polling (OSDP)"], timeout=3 * WAIT_MS
    )
    assert "controller offline" in display.lamp.text()
    assert reader.status().link.usable is False

    _grant(screen)  # no controller answers: the kiosk's own decision stays on screen
    assert screen.banner.text() == "Yao Ming\naccess granted"
    assert reader.send_card(wiegand26(1, 1), age_s=0.0) is False
    qtbot.waitUntil(lambda: "1 grant(s) not sent" in described[-1], timeout=WAIT_MS)
    assert "controller offline" in described[-1]
    assert screen.banner.text() == "Yao Ming\naccess granted"
