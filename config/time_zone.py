"""The machine's own IANA time zone, for a door made without one."""

from __future__ import annotations

import os
from pathlib import Path

from core.rules.model import check_time_zone

_LOCALTIME = Path("/etc/localtime")
_TIMEZONE_FILE = Path("/etc/timezone")
_MARKER = "zoneinfo/"


def door_time_zone(configured: str, environ: dict[str, str] | None = None) -> str:
    """``configured`` (rules.time_zone) if set, checked (ValueError naming the fix);
    else the machine's zone from TZ, /etc/localtime's link or /etc/timezone, else UTC."""
    if configured:
        check_time_zone(configured)
        return configured
    env = os.environ if environ is None else environ
    for candidate in (env.get("TZ", "").lstrip(":"), _linked_zone(), _named_zone()):
        if candidate:
            try:
                check_time_zone(candidate)
            except ValueError:
                continue
            return candidate
    return "UTC"


def _linked_zone() -> str:
    try:
        target = os.readlink(_LOCALTIME)
    except OSError:
        return ""
    _, marker, zone = target.rpartition(_MARKER)
    return zone if marker else ""


def _named_zone() -> str:
    try:
        return _TIMEZONE_FILE.read_text(encoding="ascii", errors="replace").strip()[:64]
    except OSError:
        return ""
