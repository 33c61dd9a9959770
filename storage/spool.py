"""A local file of access and audit events waiting for the database, in order."""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from core.records import (
    REFUSAL_REASONS,
    AccessDecision,
    AccessOutcome,
    DecisionSource,
    KioskAuditEvent,
)

log = logging.getLogger(__name__)

SpooledEvent = AccessDecision | KioskAuditEvent
# A refusal's reason is a few words; anything longer was not written by a kiosk.
_MAX_REASON = 200


class SpoolError(ValueError):
    """A spooled line that is not an event this kiosk wrote."""


class EventSpool:
    """Exists so that a kiosk which cannot reach its database loses no event.

    Each event is appended as one JSON line and fsynced before ``append`` returns;
    it leaves the file only through ``remove_first``, after the database has
    committed it, by an atomic rewrite. A line that cannot be read back (a write
    torn by a power cut, an edited file) is moved to ``<name>.rejected`` with a
    logged error, never silently dropped. Not thread-safe: its owner holds a lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected_path = path.with_name(path.name + ".rejected")
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, event: SpooledEvent) -> None:
        line = json.dumps(encode(event), separators=(",", ":")) + "\n"
        # Owner-only: the events name people and kiosks.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())

    def read(self) -> list[SpooledEvent]:
        """Every waiting event, oldest first; unreadable lines are set aside."""
        if not self.path.exists():
            return []
        events: list[SpooledEvent] = []
        kept: list[str] = []
        rejected: list[str] = []
        for number, line in enumerate(self.path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                events.append(decode(json.loads(line)))
                kept.append(line)
            except (ValueError, TypeError, KeyError) as error:
                log.error(
                    "spool %s line %d is not an event (%s); set aside", self.path, number, error
                )
                rejected.append(line)
        if rejected:
            with self.rejected_path.open("a", encoding="utf-8") as stream:
                stream.write("".join(f"{line}\n" for line in rejected))
                stream.flush()
                os.fsync(stream.fileno())
            self._replace(kept)
        return events

    def remove_first(self, count: int) -> None:
        """Forget the ``count`` oldest events: the database has them."""
        lines = [line for line in self.path.read_text("utf-8").splitlines() if line.strip()]
        self._replace(lines[count:])

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as stream:
            return sum(1 for line in stream if line.strip())

    def _replace(self, lines: list[str]) -> None:
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        partial = self.path.with_name(self.path.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write("".join(f"{line}\n" for line in lines))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, self.path)


def encode(event: SpooledEvent) -> dict[str, Any]:
    common = {"event_id": str(event.event_id), "occurred_at": event.occurred_at.isoformat()}
    if isinstance(event, AccessDecision):
        # The name and the timings stay out: the spool keeps what the database keeps.
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
        }
    return {
        "kind": "audit",
        **common,
        "kiosk_id": event.kiosk_id,
        "action": event.action,
        "details": event.details,
    }


def decode(raw: Any) -> SpooledEvent:
    """The event ``encode`` wrote; SpoolError (a ValueError) for anything else."""
    if not isinstance(raw, dict):
        raise SpoolError("not a JSON object")
    event_id = uuid.UUID(_text(raw, "event_id"))
    occurred_at = datetime.fromisoformat(_text(raw, "occurred_at"))
    if occurred_at.tzinfo is None:
        raise SpoolError("occurred_at has no time zone")
    kiosk_id = _text(raw, "kiosk_id")
    if raw.get("kind") == "access":
        person = raw["person_id"]
        outcome = AccessOutcome(_text(raw, "outcome"))
        return AccessDecision(
            kiosk_id=kiosk_id,
            outcome=outcome,
            person_id=uuid.UUID(person) if person is not None else None,
            similarity=_number(raw, "similarity", optional=True),
            latency_ms=_number(raw, "latency_ms", optional=False) or 0.0,
            reason=_optional_text(raw, "reason", REFUSAL_REASONS.get(outcome)),
            # Spools written before decisions had a source came from the door.
            source=DecisionSource(raw.get("source", DecisionSource.DOOR.value)),
            event_id=event_id,
            occurred_at=occurred_at,
        )
    if raw.get("kind") == "audit":
        details = raw["details"]
        if not isinstance(details, dict):
            raise SpoolError("details is not an object")
        return KioskAuditEvent(kiosk_id, _text(raw, "action"), details, event_id, occurred_at)
    raise SpoolError(f"unknown kind {raw.get('kind')!r}")


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise SpoolError(f"{key} is not text")
    return value


def _optional_text(raw: dict[str, Any], key: str, default: str | None) -> str | None:
    value = raw.get(key, default)
    if value is not None and (not isinstance(value, str) or len(value) > _MAX_REASON):
        raise SpoolError(f"{key} is not text of at most {_MAX_REASON} characters")
    return value


def _number(raw: dict[str, Any], key: str, optional: bool) -> float | None:
    value = raw[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpoolError(f"{key} is not a finite number")
    return float(value)
