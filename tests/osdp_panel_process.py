"""libosdp's control panel in a process of its own, for the reader's long-run test:
``python -m tests.osdp_panel_process FD KEY_HEX COUNT`` sets up the secure channel
with the reader at tests.osdp_bus.ADDRESS over descriptor FD, sends COUNT buzzer
commands, each once the previous one was answered, and exits 0 (1: no secure channel
within tests.osdp_bus.WAIT_S)."""

from __future__ import annotations

import sys
import threading
import time

from osdp import Command, ControlPanel, LibFlag, LogLevel, PDInfo

from osdp_reader.channels import DescriptorChannel
from tests.osdp_bus import ADDRESS, WAIT_S


def main() -> int:
    descriptor, key, count = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), int(sys.argv[3])
    answered = threading.Semaphore(0)
    panel = ControlPanel(
        [PDInfo(ADDRESS, DescriptorChannel(descriptor), scbk=key, flags=[LibFlag.EnforceSecure])],
        log_level=LogLevel.Warning,
        command_completion_handler=lambda _address, _command, _status: answered.release(),
    )
    panel.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not panel.is_sc_active(ADDRESS):
            if time.monotonic() > deadline:
                return 1
            time.sleep(0.05)
        buzz = {
            "command": Command.Buzzer,
            "reader": 0,
            "control_code": 2,
            "on_count": 1,
            "off_count": 1,
            "rep_count": 1,
        }
        for _ in range(count):
            while not panel.submit_command(ADDRESS, buzz):
                time.sleep(0.01)
            if not answered.acquire(timeout=WAIT_S):
                return 1
        return 0
    finally:
        panel.teardown()


if __name__ == "__main__":
    sys.exit(main())
