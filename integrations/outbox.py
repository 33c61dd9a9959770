"""A durable, bounded queue of messages for one destination (the broker, a webhook),
kept while it cannot be reached and sent in order when it can."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigurationError, StoreError
from owned_files.inputs import open_regular
from storage.durable_files import append_synced, private_folder
from storage.spool_slot import SpoolSlot

log = logging.getLogger(__name__)

# Sent lines are cut off the front of the file once they take this much of it, so a
# destination that is always a little behind does not grow the file without end.
_COMPACT_BYTES = 1024 * 1024
# A sent offset and an inode number; more is not one.
_MAX_OFFSET_BYTES = 64


@dataclass(frozen=True)
class OutboxLine:
    record: dict[str, Any]
    text: str
    end: int
    """Byte offset just after this line in the outbox file."""


class Outbox:
    """Exists so that a message for a broker or receiver that is down is neither lost
    nor sent out of order, and so that an outage never grows the disk without bound.

    Each message is one JSON line, appended and fsynced before ``append`` returns.
    ``<file>.sent`` keeps how far the destination has acknowledged (the byte offset and
    the file's inode: a file compacted meanwhile restarts at 0). At most ``max_messages``
    wait; past it ``append`` refuses the newest and counts it in ``refused``. A line
    that is not a message, or that the destination refuses for good, is moved to
    ``<file>.rejected`` with the reason, never dropped silently and never in the way.

    One process writes one file: a second one given the same path is refused
    (``SpoolSlot``'s lock). Folder 0700, files 0600. Thread-safe: one thread appends,
    another sends; the file is touched under one lock, the network never.
    """

    def __init__(self, path: Path, max_messages: int, max_line_bytes: int) -> None:
        private_folder(path.parent)
        slot = SpoolSlot.try_lock(path)
        if slot is None:
            raise ConfigurationError(
                f"the outbox {path} is in use by another kiosk process; "
                "give each kiosk its own data folder"
            )
        self._slot = slot
        self.path = path
        self.rejected_path = _beside(path, ".rejected")
        self._sent_path = _beside(path, ".sent")
        self._max_messages = max_messages
        self._max_line_bytes = max_line_bytes
        self._lock = threading.Lock()
        self.refused = 0
        """Messages refused since start because the outbox was full."""
        self.set_aside_count = 0
        with self._lock:
            self._end_torn_line()
            self._offset = self._read_offset()
            self._waiting = self._count_waiting()

    def __len__(self) -> int:
        with self._lock:
            return self._waiting

    def append(self, record: dict[str, Any]) -> bool:
        """Keep ``record`` at the end; False when the outbox is full (counted) or the
        record is too long (set aside). Raises StoreError when the disk refuses it."""
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n").encode()
        with self._lock:
            if len(line) > self._max_line_bytes:
                self._set_aside_locked(line.decode().rstrip("\n"), "longer than the line limit")
                return False
            if self._waiting >= self._max_messages:
                if self.refused == 0 or self.refused % 1000 == 0:
                    log.error(
                        "outbox %s is full (%d messages): new messages are refused until "
                        "its destination is reachable again",
                        self.path,
                        self._max_messages,
                    )
                self.refused += 1
                return False
            self._write(self.path, line)
            self._waiting += 1
            return True

    def oldest(self, limit: int) -> list[OutboxLine]:
        """Up to ``limit`` waiting messages, oldest first; a line that is not a message
        is set aside when met first, and ends the batch when met later."""
        batch: list[OutboxLine] = []
        with self._lock:
            stream = self._open_reading()
            if stream is None:
                return batch
            with stream:
                stream.seek(self._offset)
                while len(batch) < limit:
                    raw = stream.readline(self._max_line_bytes + 1)
                    if not raw:
                        break
                    if len(raw) > self._max_line_bytes and not raw.endswith(b"\n"):
                        while (rest := stream.readline(self._max_line_bytes)) and not (
                            rest.endswith(b"\n")
                        ):
                            pass
                    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    record, problem = _parse(raw, self._max_line_bytes)
                    if record is not None:
                        batch.append(OutboxLine(record, text, stream.tell()))
                    elif problem is None:  # a blank line
                        if not batch:
                            self._advance(stream.tell(), 0)
                    elif batch:
                        break
                    else:
                        self._set_aside_locked(text, problem)
                        self._advance(stream.tell(), 1)
        return batch

    def done(self, lines: list[OutboxLine]) -> None:
        """The destination took ``lines``, the oldest waiting ones."""
        if lines:
            with self._lock:
                self._advance(lines[-1].end, len(lines))
                self._compact()

    def set_aside(self, line: OutboxLine, reason: str) -> None:
        """The destination refuses ``line`` for good (the oldest waiting): kept aside."""
        with self._lock:
            self._set_aside_locked(line.text, reason)
            self._advance(line.end, 1)
            self._compact()

    def close(self) -> None:
        self._slot.release()

    # --- the file, under the lock ------------------------------------------------------------

    def _set_aside_locked(self, text: str, reason: str) -> None:
        entry = {"set_aside_at": datetime.now(UTC).isoformat(), "reason": reason, "line": text}
        self._write(self.rejected_path, (json.dumps(entry) + "\n").encode())
        self.set_aside_count += 1
        log.error("outbox %s: a message was set aside (%s): %.200r", self.path, reason, text)

    def _write(self, path: Path, data: bytes) -> None:
        try:
            append_synced(path, data)
        except OSError as error:
            raise StoreError(
                f"cannot write the outbox {path} ({error.strerror}); "
                "check the data folder's disk and permissions"
            ) from error

    def _open_reading(self, path: Path | None = None) -> Any:
        """``path`` (default: the outbox file) to read, None if missing. Raises
        StoreError for a link, FIFO, device or folder there: never followed, never
        waited on (owned_files.inputs)."""
        path = path or self.path
        try:
            descriptor = open_regular(path, follow_links=False)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(
                f"cannot read the outbox file {path} ({error}); remove what stands there"
            ) from error
        return os.fdopen(descriptor, "rb")

    def _advance(self, end: int, messages: int) -> None:
        self._offset = end
        self._waiting = max(0, self._waiting - messages)
        self._save_offset()

    def _save_offset(self) -> None:
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            inode = 0
        partial = _beside(self._sent_path, ".partial")
        partial.unlink(missing_ok=True)
        self._write(partial, f"{self._offset} {inode}".encode("ascii"))
        os.replace(partial, self._sent_path)

    def _read_offset(self) -> int:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._sent_path.unlink(missing_ok=True)
            return 0
        try:
            stream = self._open_reading(self._sent_path)
            if stream is None:
                return 0
            with stream:
                offset_text, inode_text = stream.read(_MAX_OFFSET_BYTES).decode("ascii").split()
            offset, inode = int(offset_text), int(inode_text)
        except (StoreError, OSError, ValueError, UnicodeDecodeError):
            log.error("outbox %s: the sent offset is unreadable; sending it all again", self.path)
            return 0
        if inode != info.st_ino or not 0 <= offset <= info.st_size:
            return 0  # compacted since: the file holds only what waits
        return offset

    def _count_waiting(self) -> int:
        stream = self._open_reading()
        if stream is None:
            return 0
        with stream:
            stream.seek(self._offset)
            return sum(1 for line in stream if line.strip())

    def _compact(self) -> None:
        """Drop what was sent: the file goes when nothing waits, and is rewritten with
        only the waiting lines once the sent part is large."""
        if self._waiting == 0:
            self._sent_path.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
            self._offset = 0
            return
        if self._offset < _COMPACT_BYTES:
            return
        stream = self._open_reading()
        if stream is None:
            return
        with stream:
            stream.seek(self._offset)
            rest = stream.read()
        fresh = _beside(self.path, ".compacting")
        fresh.unlink(missing_ok=True)
        self._write(fresh, rest)
        # A new inode: an offset saved for the old file no longer applies to it.
        os.replace(fresh, self.path)
        self._offset = 0
        self._save_offset()

    def _end_torn_line(self) -> None:
        """A write cut short by a power cut would swallow the next message: end it here."""
        stream = self._open_reading()
        if stream is None:
            return
        try:
            with stream:
                stream.seek(-1, os.SEEK_END)
                torn = stream.read(1) != b"\n"
        except OSError:  # an empty file
            return
        if torn:
            self._write(self.path, b"\n")


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _parse(raw: bytes, limit: int) -> tuple[dict[str, Any] | None, str | None]:
    """(the message, None), (None, why it is not one), or (None, None) for a blank line."""
    if len(raw) > limit and not raw.endswith(b"\n"):
        return None, f"longer than the line limit ({limit} bytes)"
    if not raw.endswith(b"\n"):
        return None, "cut short: written when the kiosk stopped"
    if not raw.strip():
        return None, None
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return None, f"not JSON: {type(error).__name__}: {error}"
    if not isinstance(record, dict) or not isinstance(record.get("event_id"), str):
        return None, "not a message: a JSON object with an event_id"
    return record, None
