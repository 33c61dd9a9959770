"""What the door sends out (integrations/) names the door by its kiosk id, never a
local device path or address: a real serial relay board (a pty behind a udev-like
name) unplugged while a real HTTP receiver takes the kiosk's signed webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.access.door_controller import DoorController
from core.access.door_events import DoorFaulted, UnlockFailed
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from core.settings import Settings
from door_io.serial_relay import SerialRelayDoor
from integrations.setup import open_integrations
from tests.door_events_recorder import DoorEventRecorder, wait_until
from tests.test_door_serial import UsbLink
from tests.test_webhooks import KIOSK, SECRET, Receiver, secret_file


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET.encode())
    server.start()
    yield server
    server.stop()


def test_door_events_and_health_leave_without_the_device_path(
    receiver: Receiver, tmp_path: Path
) -> None:
    usb = UsbLink(tmp_path / "serial-by-id-usb-relay")
    usb.plug()
    door_settings = DoorIoSettings.model_validate(
        {
            "adapter": "serial",
            "serial_port": str(usb.path),
            "poll_interval_s": 0.02,
            "retry_s": 0.05,
            "retry_max_s": 0.2,
        }
    )
    settings = Settings.model_validate(
        {
            "kiosk_id": KIOSK,
            "door_io": door_settings.model_dump(),
            "webhook": {
                "url": f"http://127.0.0.1:{receiver.port}/kiosk-events",
                "secret_file": str(secret_file(tmp_path, SECRET)),
                "events": ["door.*", "kiosk.health"],
                "retry_min_s": 0.05,
                "retry_max_s": 0.2,
            },
        }
    )
    recorder = DoorEventRecorder()
    door: DoorController | None = None
    forwarder = open_integrations(
        settings, tmp_path / "data", door_status=lambda: None if door is None else door.status
    )
    door = DoorController(
        SerialRelayDoor(door_settings), door_settings, listeners=[recorder, forwarder]
    )
    forwarder.start()
    door.start()
    try:
        usb.unplug()
        recorder.wait_for(DoorFaulted)
        with pytest.raises(DoorFault):
            door.consume(
                AccessDecision(kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=1)
            )
        recorder.wait_for(UnlockFailed)
        wait_until(
            lambda: {"door.fault", "door.unlock_failed"} <= {e["type"] for e in receiver.accepted}
        )
        sent_health = forwarder.health()  # what kiosk.health carries, read now
    finally:
        door.stop()
        forwarder.stop()
        usb.close()
    sent = json.dumps(receiver.accepted) + json.dumps(sent_health)
    assert str(usb.path) not in sent
    assert "/dev/" not in sent
    assert str(tmp_path) not in sent
    fault = next(e for e in receiver.accepted if e["type"] == "door.fault")
    assert fault["kiosk_id"] == KIOSK
    assert fault["detail"] == (
        f"door hardware fault at {KIOSK}; the kiosk's Door page and log say why"
    )
    assert fault["state"]["adapter"] == "serial"
    assert fault["state"]["door"] == KIOSK
    assert fault["state"]["fault"] == "ON"
    assert sent_health["door_state"]["fault_detail"] == fault["detail"]
