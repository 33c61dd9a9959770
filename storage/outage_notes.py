"""The kiosk.offline and kiosk.online audit notes that pair up around each outage."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core.log_records import KioskAuditEvent
from storage.spool import SpooledEvent

OFFLINE_ACTION = "kiosk.offline"
ONLINE_ACTION = "kiosk.online"
# A kiosk.online note's id is made from its kiosk.offline note's: sent twice, stored once.
_ONLINE_NOTE_IDS = uuid.UUID("0b7f7c52-4a55-4f0e-9d36-0f2b6f1e8c11")

Outages = dict[str, tuple[KioskAuditEvent, int]]
"""Per kiosk id: its kiosk.offline note not yet followed by kiosk.online, and the
access events spooled since."""


def open_outages(events: Iterable[SpooledEvent]) -> Outages:
    """The outages a spool's history leaves open, per kiosk id."""
    outages: Outages = {}
    for event in events:
        if isinstance(event, KioskAuditEvent):
            if event.action == OFFLINE_ACTION:
                outages.setdefault(event.kiosk_id, (event, 0))
            elif event.action == ONLINE_ACTION:
                outages.pop(event.kiosk_id, None)
        elif event.kiosk_id in outages:
            note, count = outages[event.kiosk_id]
            outages[event.kiosk_id] = (note, count + 1)
    return outages


def online_note(
    offline: KioskAuditEvent, spooled: int, closed_by: str | None = None
) -> KioskAuditEvent:
    """The kiosk.online note closing ``offline``, after ``spooled`` events; ``closed_by``
    the kiosk that found the outage in a spool file, if another."""
    details: dict[str, object] = {
        "offline_since": offline.occurred_at.isoformat(),
        "events_spooled": spooled,
    }
    if closed_by is not None and closed_by != offline.kiosk_id:
        details["closed_by"] = closed_by  # the kiosk that found the outage in a spool file
    note_id = uuid.uuid5(_ONLINE_NOTE_IDS, str(offline.event_id))
    return KioskAuditEvent(offline.kiosk_id, ONLINE_ACTION, details, note_id)
