"""A local file of access and audit events waiting for the database, in order."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from core.errors import SpoolFull, StoreError, UnsafeDataEntry
from core.log_records import KioskAuditEvent
from core.records import REFUSAL_REASONS, AccessDecision, AccessOutcome, DecisionSource, Refusal
from core.settings import SpoolSettings
from owned_files.entries import remove_file, rename_file
from owned_files.folders import UnsafeEntry
from owned_files.inputs import open_regular
from storage.disk_reserve import DISK_FULL, DiskReserve
from storage.durable_files import append_synced, private_folder
from storage.spool_bounds import SpoolError, number, validate
from storage.spool_slot import SpoolSlot

log = logging.getLogger(__name__)

SpooledEvent = AccessDecision | KioskAuditEvent
# A sent offset is a number of a few digits; more is not one.
_MAX_OFFSET_BYTES = 64


@dataclass(frozen=True)
class SpooledLine:
    event: SpooledEvent
    text: str
    end: int
    """Byte offset just after this line in the spool file."""


class EventSpool:
    """Exists so that a kiosk which cannot reach its database loses no event.

    Each event is appended as one JSON line and fsynced before ``append`` returns.
    Sending never rewrites the file: ``<file>.sent`` keeps the byte offset up to
    which the database has committed it, and the file goes only when nothing in
    it waits (``compact``). A line that cannot be read back, or that the database
    refuses, is moved to ``<file>.rejected`` with the reason, never dropped.

    One process writes one file (``SpoolSlot``): a second process given the same
    path writes ``events.1.jsonl``. The folder is owner-only (0700), every file
    0600, and none is written, renamed or removed through a link (owned_files).
    ``<file>.reserve`` keeps ``settings.reserve_kb`` of disk that a full
    disk gives back to the spool; ``trouble`` then says so for the operator.
    Not thread-safe: its owner holds a lock.
    """

    def __init__(
        self, path: Path, settings: SpoolSettings | None = None, *, slot: SpoolSlot | None = None
    ) -> None:
        """``slot``: a file left by a process that has ended, taken over to be sent.
        Raises UnsafeDataEntry for a link on the way to the spool's folder or in it."""
        self.settings = settings or SpoolSettings()
        self.base = path
        try:
            private_folder(path.parent)
            self._slot = slot or SpoolSlot.claim(path, self.settings.writers)
        except UnsafeEntry as error:
            raise UnsafeDataEntry(str(error)) from error
        self.path = self._slot.path
        self.rejected_path = _beside(self.path, ".rejected")
        self._sent_path = _beside(self.path, ".sent")
        self._reserve = DiskReserve(_beside(self.path, ".reserve"), self.settings.reserve_kb * 1024)
        self.set_aside_count = 0
        """Events set aside since this spool was opened."""
        self.trouble: str | None = None
        """What the operator must know about this spool (a full disk), else None."""
        self._end_torn_line()
        self._offset = self._read_offset()
        self._waiting = self._count_waiting()
        if slot is None and not self._reserve.ensure():
            self._report(
                f"no disk space could be reserved for the event spool in {path.parent}; "
                "free space on that disk"
            )

    def __len__(self) -> int:
        """Events waiting to be sent."""
        return self._waiting

    # --- writing ----------------------------------------------------------------------------

    def append(self, event: SpooledEvent) -> None:
        """Keep ``event`` at the end. Raises SpoolError for an event the database could
        not hold, SpoolFull when the disk is full even after giving up the reserve,
        StoreError when the file cannot be written for another reason."""
        validate(event)
        line = (line_of(event) + "\n").encode("ascii")
        if len(line) > self.settings.max_event_bytes:
            raise SpoolError(f"longer than spool.max_event_bytes ({self.settings.max_event_bytes})")
        self._write(self.path, line)
        self._waiting += 1
        if self.trouble is not None and self._reserve.ensure():
            self._report(None)

    def set_aside(self, rejected: Sequence[tuple[str, str]]) -> None:
        """Move lines (text, reason) to the rejected file; call before ``forget``."""
        if not rejected:
            return
        at = datetime.now(UTC).isoformat()
        entries = "".join(
            json.dumps({"set_aside_at": at, "reason": reason, "line": text}) + "\n"
            for text, reason in rejected
        )
        self._write(self.rejected_path, entries.encode("ascii"))
        self.set_aside_count += len(rejected)
        for text, reason in rejected:
            log.error("spool %s: an event was set aside (%s): %.200r", self.path, reason, text)

    def forget(self, done: Sequence[SpooledLine]) -> None:
        """The database has (or set aside) ``done``, the oldest waiting lines."""
        if done:
            self._advance(done[-1].end, len(done))

    def compact(self) -> None:
        """Remove the file once nothing in it waits, and take back the disk reserve."""
        self._waiting = self._count_waiting()  # read, not trusted: the file is removed
        if self._waiting:
            return
        # The offset first: a file without its offset is only sent again (stored once).
        remove_file(self._sent_path, missing_ok=True)
        remove_file(self.path, missing_ok=True)
        self._offset = 0
        if self._reserve.ensure():
            self._report(None)

    def discard(self) -> None:
        """For a taken-over file, all sent: remove it and its reserve (not the rejected)."""
        self.compact()
        self._reserve.remove()

    # --- reading ----------------------------------------------------------------------------

    def oldest(self, limit: int) -> list[SpooledLine]:
        """Up to ``limit`` waiting events, oldest first. A line that is not an event is
        set aside when it is the oldest; met later, it ends the batch."""
        batch: list[SpooledLine] = []
        stream = self._open_reading()
        if stream is None:
            return batch
        with stream:
            stream.seek(self._offset)
            while len(batch) < limit:
                raw = self._read_line(stream)
                if raw is None:
                    break
                text, problem, event = _parse(raw, self.settings.max_event_bytes)
                if event is not None:
                    batch.append(SpooledLine(event, text, stream.tell()))
                elif problem is None:  # a blank line
                    if not batch:
                        self._advance(stream.tell(), 0)
                elif batch:
                    break
                else:
                    self.set_aside([(text, problem)])
                    self._advance(stream.tell(), 1)
        return batch

    def history(self) -> Iterator[SpooledEvent]:
        """Every readable event in the file, sent or not, oldest first: what happened
        since the spool was last empty (an outage not yet closed, for one)."""
        stream = self._open_reading()
        if stream is None:
            return
        with stream:
            while (raw := self._read_line(stream)) is not None:
                _, _, event = _parse(raw, self.settings.max_event_bytes)
                if event is not None:
                    yield event

    def take_orphans(self) -> list[EventSpool]:
        """Spool files of this folder left by processes that have ended, now ours to send;
        ``close()`` each when done."""
        slots = SpoolSlot.take_orphans(self.base, self.settings.writers)
        return [EventSpool(self.base, self.settings, slot=slot) for slot in slots]

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Let another process take this file over."""
        self._slot.release()

    def __enter__(self) -> EventSpool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # --- the file ---------------------------------------------------------------------------

    def _open_reading(self, path: Path | None = None) -> BinaryIO | None:
        """``path`` (default: the event spool file) to read, None if missing. Raises
        StoreError for a link, FIFO, device or folder there: never followed, never
        waited on (owned_files.inputs)."""
        path = path or self.path
        try:
            descriptor = open_regular(path, follow_links=False)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(
                f"cannot read the event spool file {path} ({error}); remove what stands there"
            ) from error
        return os.fdopen(descriptor, "rb")

    def _read_line(self, stream: BinaryIO) -> bytes | None:
        """The next line; a line too long to be an event comes back cut, the rest skipped."""
        limit = self.settings.max_event_bytes
        raw = stream.readline(limit + 1)
        if not raw:
            return None
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                pass
        return raw

    def _write(self, path: Path, data: bytes) -> None:
        try:
            append_synced(path, data)
            return
        except OSError as error:
            if error.errno not in DISK_FULL or not self._reserve.give_up():
                raise self._failure(path, error) from error
        self._report(
            f"the disk holding the event spool {self.path.parent} is full: the spool uses its "
            "reserve; free space on that disk"
        )
        try:
            append_synced(path, data)
        except OSError as error:
            raise self._failure(path, error) from error

    def _failure(self, path: Path, error: OSError) -> StoreError:
        if error.errno in DISK_FULL:
            failure: StoreError = SpoolFull(
                f"the disk holding the event spool {path.parent} is full and its reserve is used "
                "up: events are not kept while the database is unreachable; free space on that disk"
            )
        else:
            failure = StoreError(
                f"cannot write the event spool {path} ({error.strerror}); "
                "check the data folder's disk and permissions"
            )
        self._report(str(failure))
        return failure

    def _report(self, trouble: str | None) -> None:
        if trouble is not None and trouble != self.trouble:
            log.error("%s", trouble)
        elif trouble is None and self.trouble is not None:
            log.warning("the event spool in %s has disk space again", self.path.parent)
        self.trouble = trouble

    def _advance(self, end: int, events: int) -> None:
        partial = _beside(self._sent_path, ".partial")
        remove_file(partial, missing_ok=True)
        self._write(partial, str(end).encode("ascii"))
        rename_file(partial, self._sent_path)
        self._offset = end
        self._waiting = max(0, self._waiting - events)

    def _read_offset(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            remove_file(self._sent_path, missing_ok=True)  # it counted in a file that is gone
            return 0
        try:
            stream = self._open_reading(self._sent_path)
            if stream is None:
                return 0
            with stream:
                offset = int(stream.read(_MAX_OFFSET_BYTES).decode("ascii").strip())
        except (StoreError, OSError, ValueError, UnicodeDecodeError):
            offset = -1
        if not 0 <= offset <= size:
            # Sending everything again is safe: the database stores each event once.
            log.error("spool %s: the sent offset is unreadable; sending it all again", self.path)
            return 0
        return offset

    def _count_waiting(self) -> int:
        stream = self._open_reading()
        if stream is None:
            return 0
        with stream:
            stream.seek(self._offset)
            return sum(1 for line in stream if line.strip())

    def _end_torn_line(self) -> None:
        """A write cut short by a power cut would swallow the next event: end it here."""
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


def _parse(raw: bytes, limit: int) -> tuple[str, str | None, SpooledEvent | None]:
    """(the line as text, why it is not an event or None, the event or None)."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if len(raw) > limit and not raw.endswith(b"\n"):
        return text, f"longer than spool.max_event_bytes ({limit} bytes)", None
    if not raw.endswith(b"\n"):
        return text, "cut short: written when the kiosk stopped", None
    if not text.strip():
        return text, None, None
    try:
        return text, None, decode(json.loads(raw))
    except SpoolError as error:
        return text, str(error), None
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        return text, f"not an event: {type(error).__name__}: {error}", None


# --- one event, one line ----------------------------------------------------------------------


def line_of(event: SpooledEvent) -> str:
    """The event as one line of ASCII JSON (what ``append`` writes, and what a set-aside
    record quotes)."""
    return json.dumps(encode(event), separators=(",", ":"), default=str)


def encode(event: SpooledEvent) -> dict[str, Any]:
    common = {"event_id": str(event.event_id), "occurred_at": event.occurred_at.isoformat()}
    if isinstance(event, AccessDecision):
        # The name and the timings stay out: the spool keeps what the database keeps,
        # and whether the duress PIN was typed (its audit event is spooled beside it).
        return {
            "kind": "access",
            **common,
            "kiosk_id": event.kiosk_id,
            "outcome": event.outcome.value,
            "person_id": str(event.person_id) if event.person_id else None,
            "similarity": event.similarity,
            "latency_ms": event.latency_ms,
            "reason": event.reason,
            "source": event.source.value,
            "refusal": event.refusal.value if event.refusal is not None else None,
            "duress": event.duress,
        }
    return {
        "kind": "audit",
        **common,
        "kiosk_id": event.kiosk_id,
        "action": event.action,
        "details": event.details,
    }


def decode(raw: Any) -> SpooledEvent:
    """The event ``encode`` wrote; SpoolError (a ValueError) for anything else,
    including an event the database could not hold."""
    if not isinstance(raw, dict):
        raise SpoolError("not a JSON object")
    event_id = uuid.UUID(_text(raw, "event_id"))
    occurred_at = datetime.fromisoformat(_text(raw, "occurred_at"))
    kiosk_id = _text(raw, "kiosk_id")
    event: SpooledEvent
    if raw.get("kind") == "access":
        person = raw["person_id"]
        if person is not None and not isinstance(person, str):
            raise SpoolError("person_id is not text")
        outcome = AccessOutcome(_text(raw, "outcome"))
        reason = raw.get("reason", REFUSAL_REASONS.get(outcome))
        if reason is not None and not isinstance(reason, str):
            raise SpoolError("reason is not text")
        refusal = raw.get("refusal")  # absent in spools written before access rules
        if refusal is not None and not isinstance(refusal, str):
            raise SpoolError("refusal is not text")
        duress = raw.get("duress", False)  # absent in spools written before PINs
        event = AccessDecision(
            kiosk_id=kiosk_id,
            outcome=outcome,
            person_id=uuid.UUID(person) if person is not None else None,
            similarity=number(raw["similarity"], "similarity", optional=True),
            latency_ms=number(raw["latency_ms"], "latency_ms", optional=False) or 0.0,
            reason=reason,
            refusal=Refusal(refusal) if refusal is not None else None,
            duress=duress,
            # Spools written before decisions had a source came from the door.
            source=DecisionSource(raw.get("source", DecisionSource.DOOR.value)),
            event_id=event_id,
            occurred_at=occurred_at,
        )
    elif raw.get("kind") == "audit":
        details = raw["details"]
        if not isinstance(details, dict):
            raise SpoolError("details is not an object")
        event = KioskAuditEvent(kiosk_id, _text(raw, "action"), details, event_id, occurred_at)
    else:
        raise SpoolError(f"unknown kind {str(raw.get('kind'))[:40]!r}")
    validate(event)
    return event


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise SpoolError(f"{key} is not text")
    return value
