"""The kiosk's reader in a process of its own, for the long-run test, so that no
other test's threads move the count it takes:
``python -m tests.osdp_reader_process PORT KEY_FILE WARM_UP COUNT`` starts the reader
on the serial device PORT with the key in KEY_FILE and prints ``ready``; once WARM_UP
buzzer commands were answered it takes None's reference count, and once COUNT were
answered it prints how many references to None were lost in between (exit 1: the
commands never came). Measured on this machine: the secure channel and the first
commands drop the count by about a hundred, and the next ones by some tens more
before it holds (39-71 over 200 to 1,000 commands after 50-100); the binding's
fault loses one per command, without end."""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

from core.access.controller_answers import ReaderCommand
from core.access.reader_status import ReaderLink
from tests.osdp_bus import WAIT_S, port_settings, start_reader

_WAIT_COMMANDS_S = 30 * WAIT_S  # 700 commands one at a time (45 s alone), on a busy machine


class _Quiet:
    """A ReaderListener that keeps nothing: what it kept would hold references."""

    def command_received(self, command: ReaderCommand) -> None:
        pass

    def link_changed(self, link: ReaderLink) -> None:
        pass

    def port_trouble(self, trouble: str | None) -> None:
        pass

    def grant_not_sent(self, reason: str) -> None:
        pass


def main() -> int:
    port, key_file = sys.argv[1], Path(sys.argv[2])
    warm_up, count = int(sys.argv[3]), int(sys.argv[4])
    reader = start_reader(port_settings(port, key_file), _Quiet())
    deadline = time.monotonic() + _WAIT_COMMANDS_S

    def answered(wanted: int) -> bool:
        while reader.status().commands.get("buzzer", 0) < wanted:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        if not answered(warm_up):
            return 1
        gc.collect()
        none_before = sys.getrefcount(None)
        if not answered(count):
            return 1
        gc.collect()
        sys.stdout.write(f"{none_before - sys.getrefcount(None)}\n")
        return 0
    finally:
        reader.stop()


if __name__ == "__main__":
    sys.exit(main())
