"""Setting the lock output and knowing whether it took.

A module's answer to a write can be lost, late or garbled after the module carried
the write out, and a module can acknowledge a write it did not carry out (outputs
disabled, a relay stuck). So each write is read back where the hardware can
(``DoorIo.read_lock_output``), and its outcome is one of three: taken, not taken,
or unknown. An unlock whose outcome is unknown may have opened the door, and is
never reported as "did not open".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.access.door_io import DoorIo, guarded, not_as_written
from core.errors import DoorFault, DoorNotApplied


class WriteOutcome(StrEnum):
    TAKEN = "taken"
    """The output reads back as written; or, on hardware that cannot be read back,
    the write went through without an error."""
    NOT_TAKEN = "not_taken"
    """The output reads back at the other level, or the write certainly did not reach
    the hardware (DoorNotApplied)."""
    UNKNOWN = "unknown"
    """The write failed after it may have reached the hardware, and the output could
    not be read back: it may be at either level."""


@dataclass(frozen=True)
class OutputWrite:
    outcome: WriteOutcome
    fault: str | None
    """What went wrong, in the adapter's plain words; a TAKEN write has one when its
    answer was lost or its read-back failed (the link is faulty, the output is right)."""
    read_back: bool | None = None
    """The level the output read back at; None when it could not be read."""


def write_lock_output(io: DoorIo, level: bool) -> OutputWrite:
    """Drive ``io``'s lock output to ``level`` (True: on) and read it back. Never raises:
    the adapter's faults (and its bugs, through ``guarded``) are in the outcome."""
    failure: str | None = None
    failed = WriteOutcome.UNKNOWN  # what a failed write is, unless read back
    try:
        guarded(io, lambda: io.set_lock_output(level))
    except DoorNotApplied as error:
        failure, failed = str(error), WriteOutcome.NOT_TAKEN
    except DoorFault as error:
        failure = str(error)
    try:
        read_back = guarded(io, io.read_lock_output)
    except DoorFault as error:
        if failure is None:  # acknowledged, then unreadable: as the hardware said
            return OutputWrite(WriteOutcome.TAKEN, str(error))
        return OutputWrite(failed, failure)
    if read_back is None:  # the hardware cannot tell: the write's own result stands
        return OutputWrite(WriteOutcome.TAKEN if failure is None else failed, failure)
    if read_back == level:
        return OutputWrite(WriteOutcome.TAKEN, failure, read_back)
    mismatch = failure or not_as_written(io.name, level, read_back)
    return OutputWrite(WriteOutcome.NOT_TAKEN, mismatch, read_back)
