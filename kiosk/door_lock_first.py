"""The kiosk's first act: the door's lock forced locked from the ``[door_io]``
settings alone, before the rest of the configuration is checked and before Qt
starts. A kiosk killed while the door was unlocked leaves a plain coil or relay on;
a next start that then stops early (a mistake in another section of kiosk.toml, no
display for the window) must not leave it so."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from config.door_io_section import load_door_io_settings
from kiosk.door_hardware import LockedFirst, hold_locked_first

log = logging.getLogger(__name__)

DOOR_NOT_DRIVEN = (
    "the door lock was not driven and stays as it was: fix [door_io] first (docs/door-wiring.md)"
)
"""Said after a [door_io] error: which hardware to lock is not known."""


def lock_door_first(data_dir: str | None, environ: Mapping[str, str]) -> LockedFirst | None:
    """Read ``[door_io]`` (kiosk.toml in the data folder, KIOSK_DOOR_IO__* over it),
    start holding the lock locked, and wait for the first try to end, up to
    ``door_io.command_timeout_s`` (a module that does not answer is tried again on
    the hold's thread). None for adapter "none". The hold is the kiosk window's to
    show, hand over and stop. Raises ConfigurationError or UnsafeDataEntry when
    [door_io] cannot be read or is invalid: then nothing was driven."""
    settings = load_door_io_settings(data_dir, environ)
    held = hold_locked_first(settings)
    if held is None:
        return None
    held.hold.start()
    if not held.hold.wait_first_try(settings.command_timeout_s):
        log.error(
            "the door hardware did not answer within %g s; the kiosk starts, locking is "
            "tried again",
            settings.command_timeout_s,
        )
    return held
