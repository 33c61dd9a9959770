"""Which kiosks are running now, and when each was last seen (kiosk-admin kiosks).

Online is exact: a running kiosk holds the session-level advisory lock of its id
(storage.kiosk_claim) for as long as its process lives, so the lock is granted to
some session exactly while the kiosk runs. Last seen is the newest sign of the
kiosk: now while it is online, else the newest of its last start, its door's last
report and its newest access event since that start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from storage import schema
from storage.kiosk_claim import claim_key
from storage.kiosk_registry import KioskRecord, kiosks
from storage.transactions import transaction

_LOCK_GRANTED = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1
    )
    """
)


@dataclass(frozen=True)
class KioskPresence:
    kiosk: KioskRecord
    online: bool
    last_seen_at: datetime


def kiosk_presence(engine: Engine) -> list[KioskPresence]:
    """Every kiosk that has used the database, in id order, online or not. Raises
    StoreError."""
    found = kiosks(engine)
    with transaction(sessionmaker(engine)) as session:
        now = session.scalar(select(func.now()))
        assert now is not None
        return [
            KioskPresence(kiosk, True, now)
            if _held(session, kiosk.id)
            else KioskPresence(kiosk, False, _last_seen(session, kiosk))
            for kiosk in found
        ]


def _held(session: Session, kiosk_id: str) -> bool:
    key = claim_key(kiosk_id)
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    return bool(session.scalar(_LOCK_GRANTED, {"high": high, "low": low}))


def _last_seen(session: Session, kiosk: KioskRecord) -> datetime:
    events = schema.AccessEvent
    # Through the occurred_at index from the kiosk's last start: its events before
    # that are older than the start itself.
    newest_event = session.scalar(
        select(func.max(events.occurred_at)).where(
            events.kiosk_id == kiosk.id, events.occurred_at >= kiosk.last_started_at
        )
    )
    report = session.get(schema.DoorReport, kiosk.id)
    signs = [kiosk.last_started_at, newest_event, report.reported_at if report else None]
    return max(sign for sign in signs if sign is not None)
