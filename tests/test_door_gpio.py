"""The GPIO door adapter: against the kernel's gpio-sim (a simulated chip set up
through configfs) where the machine has it, otherwise skipped with that reason;
its faults everywhere."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.local_config import CommandLine, load_local_config
from core.access.door_controller import DoorController
from core.access.door_events import Alarm, AlarmRaised, Relocked, Unlocked
from core.door_io_settings import DoorIoSettings
from core.errors import ConfigurationError, DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.gpio import GpioDoor
from door_io.hardware import open_door_io
from tests.door_events_recorder import DoorEventRecorder, wait_until

GPIO_SIM = Path("/sys/kernel/config/gpio-sim")
LOCK, CONTACT, EXIT = 0, 1, 2
_chips = itertools.count()


def gpio_settings(chip: str, **changes: object) -> DoorIoSettings:
    return DoorIoSettings.model_validate(
        {
            "adapter": "gpio",
            "gpio_chip": chip,
            "gpio_lock_line": LOCK,
            "gpio_contact_line": CONTACT,
            "gpio_exit_line": EXIT,
            "unlock_s": 0.5,
            "poll_interval_s": 0.02,
            "debounce_s": 0.02,
            **changes,
        }
    )


def test_a_missing_chip_is_a_fault_naming_the_fix(tmp_path: Path) -> None:
    io = open_door_io(gpio_settings(str(tmp_path / "gpiochip9")))
    assert isinstance(io, GpioDoor)
    with pytest.raises(DoorFault, match=r"door_io\.gpio_chip"):
        io.read_inputs()
    with pytest.raises(DoorFault, match=r"door_io\.gpio_chip"):
        io.set_lock_output(False)


def test_a_chip_path_that_is_no_chip_is_one_plain_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_chip = tmp_path / "gpiochip0"
    not_a_chip.write_text("")
    io = GpioDoor(gpio_settings(str(not_a_chip)))
    with pytest.raises(DoorFault) as fault:
        io.set_lock_output(False)
    assert str(fault.value) == f"{not_a_chip} is not a GPIO chip; check door_io.gpio_chip"
    assert "Errno 25" in caplog.text, "gpiod's own words are kept in the log"


def test_one_line_for_two_jobs_is_refused(tmp_path: Path) -> None:
    environ = {
        "KIOSK_DOOR_IO__ADAPTER": "gpio",
        "KIOSK_DOOR_IO__GPIO_LOCK_LINE": "17",
        "KIOSK_DOOR_IO__GPIO_EXIT_LINE": "17",
    }
    with pytest.raises(ConfigurationError) as refused:
        load_local_config(tmp_path, environ, CommandLine())
    assert str(refused.value).endswith(
        "door_io.gpio_lock_line and door_io.gpio_exit_line are both line 17; give each its "
        "own (unset one that is not wired)"
    )


def test_the_lock_line_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs gpio_lock_line"):
        load_local_config(tmp_path, {"KIOSK_DOOR_IO__ADAPTER": "gpio"}, CommandLine())


class SimulatedChip:
    """A gpio-sim chip of 8 lines: the test pulls the inputs and reads the output."""

    def __init__(self) -> None:
        self.config = GPIO_SIM / f"face-kiosk-door-{os.getpid()}-{next(_chips)}"
        bank = self.config / "bank0"
        bank.mkdir(parents=True)
        (bank / "num_lines").write_text("8")
        (self.config / "live").write_text("1")
        chip_name = (bank / "chip_name").read_text().strip()
        device = (self.config / "dev_name").read_text().strip()
        self.device = f"/dev/{chip_name}"
        self._lines = Path("/sys/devices/platform") / device / chip_name

    def pull(self, line: int, up: bool) -> None:
        (self._lines / f"sim_gpio{line}" / "pull").write_text("pull-up" if up else "pull-down")

    def output(self, line: int) -> bool:
        return (self._lines / f"sim_gpio{line}" / "value").read_text().strip() == "1"

    def remove(self) -> None:
        (self.config / "live").write_text("0")
        (self.config / "bank0").rmdir()
        self.config.rmdir()


@pytest.fixture
def chip() -> Iterator[SimulatedChip]:
    if not GPIO_SIM.is_dir():
        pytest.skip("the kernel's gpio-sim is not available here (modprobe gpio-sim; configfs)")
    simulated = SimulatedChip()
    yield simulated
    simulated.remove()


def test_gpio_lock_contact_and_exit_on_gpio_sim(chip: SimulatedChip) -> None:
    chip.pull(CONTACT, up=False)  # active-low: pulled low is on, the door closed
    chip.pull(EXIT, up=True)  # not pressed
    settings = gpio_settings(chip.device)
    recorder = DoorEventRecorder()
    door = DoorController(GpioDoor(settings), settings, listeners=[recorder])
    door.start()
    try:
        recorder.wait_for(Relocked)
        wait_until(lambda: door.status.state.door_open is False)
        assert not chip.output(LOCK)
        door.consume(AccessDecision(kiosk_id="gpio", outcome=AccessOutcome.GRANTED, latency_ms=1))
        assert chip.output(LOCK)
        wait_until(lambda: not chip.output(LOCK), timeout_s=3)
        chip.pull(CONTACT, up=True)  # opened while locked
        assert recorder.wait_for(AlarmRaised, timeout_s=1).alarm is Alarm.FORCED_OPEN
        chip.pull(CONTACT, up=False)
        chip.pull(EXIT, up=False)  # pressed
        recorder.wait_for(Unlocked, lambda e: e.cause.value == "exit_request")
    finally:
        door.stop()
    assert not chip.output(LOCK)
