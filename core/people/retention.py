"""The retention rule: a person not seen at a door for ``retention_days`` is purged.

The SQL purge in storage/identity_store.py states the same rule over its columns;
tests/test_retention.py checks the two agree at the boundary.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def retention_deadline(
    last_recognized_at: datetime | None, created_at: datetime, retention: timedelta
) -> datetime:
    """When the purge deletes the person unless a door recognises them before:
    ``retention`` after they were last granted at a door, or enrolled if never."""
    return (last_recognized_at or created_at) + retention


def is_expired(
    last_recognized_at: datetime | None, created_at: datetime, retention: timedelta, now: datetime
) -> bool:
    """True once the deadline has passed (strictly: at the deadline they are kept)."""
    return retention_deadline(last_recognized_at, created_at, retention) < now
