"""The kiosk's daily backup: when the next one is due, what it is called, which go.

Pure: the caller gives the time and the names it found; storage.scheduled_backups
makes and removes the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

_NAME = re.compile(r"^(?P<kiosk>[A-Za-z0-9._-]{1,64})-(?P<at>\d{8}T\d{12}Z)\.backup$")
# To the microsecond: two backups within a second (an operator's retry) differ.
_STAMP = "%Y%m%dT%H%M%S%fZ"


def next_backup(now: datetime, time_of_day: str) -> datetime:
    """The first moment after ``now`` (an aware time) at the local ``time_of_day``
    ("HH:MM") in ``now``'s zone: today's if it is still ahead, else tomorrow's."""
    hour, minute = (int(part) for part in time_of_day.split(":"))
    today = datetime.combine(now.date(), time(hour, minute), now.tzinfo)
    return today if today > now else today + timedelta(days=1)


def backup_name(kiosk_id: str, at: datetime) -> str:
    """``<kiosk id>-<UTC time>.backup``: sorted by name, sorted by time."""
    return f"{kiosk_id}-{at.astimezone(UTC).strftime(_STAMP)}.backup"


def to_remove(names: Iterable[str], kiosk_id: str, keep: int) -> list[str]:
    """The scheduled backups of ``kiosk_id`` among ``names`` beyond the ``keep`` newest,
    oldest first. Any other file (another kiosk's, one an operator made) is never named."""
    ours = sorted(
        name
        for name in names
        if (found := _NAME.match(name)) is not None and found.group("kiosk") == kiosk_id
    )
    return ours[: max(len(ours) - keep, 0)]
