"""Which spool file a kiosk process writes: one writer per file, held by a lock."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from core.errors import ConfigurationError
from owned_files.entries import open_file


def slot_path(base: Path, index: int) -> Path:
    """``events.jsonl`` for slot 0, ``events.1.jsonl``, ``events.2.jsonl``... after it."""
    return base if index == 0 else base.with_name(f"{base.stem}.{index}{base.suffix}")


class SpoolSlot:
    """Exists so that two kiosk processes never write, send or forget one spool file.

    Holds an exclusive ``flock`` on ``<file>.lock`` until ``release()`` or the
    process's end (the kernel drops it with the process, so a crash frees the
    slot). A second process on the same data folder takes the next free slot;
    a slot whose owner has ended is taken over by a flusher (``take_orphans``).
    The lock files stay: removing one while another process waits on it would
    let two processes lock two different files of one name.
    """

    def __init__(self, path: Path, lock_descriptor: int) -> None:
        self.path = path
        self._lock = lock_descriptor

    @classmethod
    def claim(cls, base: Path, writers: int) -> SpoolSlot:
        """The first free slot of ``base``'s ``writers``; ConfigurationError if none is."""
        for index in range(writers):
            slot = cls.try_lock(slot_path(base, index))
            if slot is not None:
                return slot
        raise ConfigurationError(
            f"all {writers} spool files in {base.parent} are in use by other kiosk processes; "
            "stop one, give this kiosk its own data folder, or raise spool.writers"
        )

    @classmethod
    def take_orphans(cls, base: Path, writers: int) -> list[SpoolSlot]:
        """Slots with a spool file left by a process that has ended: locked now."""
        orphans = []
        for index in range(writers):
            path = slot_path(base, index)
            if not path.exists():
                continue
            slot = cls.try_lock(path)
            if slot is not None:
                orphans.append(slot)
        return orphans

    @classmethod
    def try_lock(cls, path: Path) -> SpoolSlot | None:
        # Never through a link, and owner-only (owned_files.entries.open_file).
        descriptor = open_file(path.with_name(f"{path.name}.lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        return cls(path, descriptor)

    @property
    def held(self) -> bool:
        return self._lock >= 0

    def release(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)  # closing the only descriptor drops the flock
            self._lock = -1
