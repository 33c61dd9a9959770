"""Seeing the bad frames on the bus, which libosdp drops without telling.

An OSDP frame: [0xFF mark] 0x53 (start), address, length (2 bytes, little end
first, the whole frame from the start byte), control, [security block], command,
data, [MAC], then a CRC-16 (2 bytes, control bit 0x04) or a one-byte checksum.
libosdp parses the bytes itself and sets a bad frame aside; the inspector reads
the same bytes beside it, never changing them, and reports each frame it finds bad
with the reason, so that a noisy bus or a mis-wired controller shows in the log and
the counts instead of only as a slow door.
"""

from __future__ import annotations

import binascii
import contextlib
from collections.abc import Callable
from enum import StrEnum

MARK = 0xFF
START = 0x53
_HEADER = 5  # start, address, length (2), control
_SMALLEST = _HEADER + 2  # a command byte and a checksum
_USES_CRC = 0x04
# libosdp's packet buffer (OSDP_PACKET_BUF_SIZE): a longer frame is not one it takes.
LARGEST_FRAME = 256
# CRC-16/AUG-CCITT (polynomial 0x1021, initial value 0x1D0F), as OSDP and libosdp use.
_CRC_START = 0x1D0F


class FrameProblem(StrEnum):
    NOISE = "noise"
    """Bytes outside any frame (a second talker, a wrong baud rate, line noise)."""
    BAD_LENGTH = "bad_length"
    """A start byte whose length field no frame can have."""
    BAD_CRC = "bad_crc"
    BAD_CHECKSUM = "bad_checksum"


def osdp_crc(data: bytes) -> int:
    return binascii.crc_hqx(data, _CRC_START)


def osdp_checksum(data: bytes) -> int:
    return -sum(data) & 0xFF


class FrameInspector:
    """Follows the received byte stream frame by frame; ``set_aside(problem, detail)``
    is called for each bad frame or run of noise. Not thread-safe: fed by the one
    thread that reads the channel. Holds at most two frames' worth of bytes."""

    def __init__(self, set_aside: Callable[[FrameProblem, str], None]) -> None:
        self._set_aside = set_aside
        self._bytes = bytearray()
        self._noise = 0
        self._resynchronising = False
        """After a bad length: the bytes up to the next start byte are that frame's."""

    def feed(self, data: bytes) -> None:
        self._bytes += data
        while self._next_frame():
            pass
        if len(self._bytes) > 2 * LARGEST_FRAME:  # unreachable by the rules above; a bound
            del self._bytes[:-LARGEST_FRAME]

    def _next_frame(self) -> bool:
        """Take one frame or one bad start off the front; False: wait for more bytes."""
        buffer = self._bytes
        start = buffer.find(START)
        if not self._resynchronising:
            skipped = buffer[: len(buffer) if start < 0 else start]
            self._noise += sum(1 for byte in skipped if byte != MARK)
        if start < 0:
            buffer.clear()
            return False
        del buffer[:start]
        if self._noise:
            self._report(FrameProblem.NOISE, f"{self._noise} byte(s) outside any frame")
            self._noise = 0
        if len(buffer) < _HEADER:
            return False
        length = buffer[2] | buffer[3] << 8
        if not _SMALLEST <= length <= LARGEST_FRAME:
            self._report(FrameProblem.BAD_LENGTH, f"length {length}")
            self._resynchronising = True
            del buffer[:1]  # on to the next start byte
            return True
        if len(buffer) < length:
            return False
        frame = bytes(buffer[:length])
        del buffer[:length]
        self._resynchronising = False
        problem = _check(frame)
        if problem is not None:
            # Its length was plausible: the frame is taken whole, as one bad frame.
            self._report(problem, f"address {frame[1] & 0x7F}, {length} bytes")
        return True

    def _report(self, problem: FrameProblem, detail: str) -> None:
        # A failed report must never break the reading of the bus (libosdp's C calls us).
        with contextlib.suppress(Exception):
            self._set_aside(problem, detail)


def _check(frame: bytes) -> FrameProblem | None:
    if frame[4] & _USES_CRC:
        body, sent = frame[:-2], frame[-2] | frame[-1] << 8
        return None if osdp_crc(body) == sent else FrameProblem.BAD_CRC
    return None if osdp_checksum(frame[:-1]) == frame[-1] else FrameProblem.BAD_CHECKSUM
