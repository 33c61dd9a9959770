"""Holding the lock locked from the first moment of a kiosk's start until the door
controller (core.access.door_controller) takes the hardware over, or for as long as
the kiosk runs when its start-up fails."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from core.access.door_io import DoorIo, guarded, lock_output_on, not_as_written
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault

log = logging.getLogger(__name__)

FaultListener = Callable[[str | None], None]
"""Told, on the hold's thread, why the lock could not be set (None: it is locked);
must return at once."""


class LockHold:
    """Exists because a kiosk killed while the door was unlocked leaves a plain coil or
    relay on until something sets it again, and the door controller only starts once
    the database is open and the models loaded, seconds later or never. The hold
    forces the output locked on a thread of its own at once, tries again after
    ``retry_s`` then at doubling waits up to ``retry_max_s`` while the hardware does
    not answer, and, once locked, reads the output back every ``retry_max_s`` and sets
    it again if the module restarted with it on.

    Each write is read back where the adapter can (``DoorIo.read_lock_output``): a
    module that acknowledges the lock without carrying it out is a fault, not "locked".

    ``handover`` stops the thread and returns the adapter, for the controller (the
    adapter is used by one thread at a time); ``stop`` locks one last time and closes it;
    ``let_go`` closes it without a write: another kiosk holds this kiosk's id, and its
    door is that kiosk's to drive. Each waits for an adapter call under way, which
    returns within the adapter's own time-out (the DoorIo contract): call them off the
    GUI thread (the kiosk's start-up thread does), where that wait freezes nothing a
    person sees.
    """

    def __init__(
        self, io: DoorIo, settings: DoorIoSettings, on_fault: FaultListener = lambda _f: None
    ) -> None:
        self._io = io
        self._settings = settings
        self._on_fault = on_fault
        self._locked_level = lock_output_on(False, settings)
        self._stopping = threading.Event()
        self._first_try = threading.Event()
        self._fault_lock = threading.Lock()
        self._fault: str | None = None
        self._started = False
        self._let_go = False
        self._thread = threading.Thread(target=self._run, name="lock-hold", daemon=True)

    @property
    def fault(self) -> str | None:
        """Why the lock is not known to be locked; None once the hardware took it."""
        with self._fault_lock:
            return self._fault

    def start(self) -> None:
        """Safe to call more than once: the kiosk's entry point starts the hold before
        Qt, and the window's controller would start one it made itself."""
        with self._fault_lock:
            if self._started:
                return
            self._started = True
        self._thread.start()

    @property
    def first_try_done(self) -> bool:
        return self._first_try.is_set()

    def wait_first_try(self, timeout_s: float) -> bool:
        """Wait until the first attempt to lock succeeded or failed; False if it had not
        within ``timeout_s`` (the hardware hangs beyond its own time-out)."""
        return self._first_try.wait(timeout_s)

    def handover(self) -> DoorIo:
        """Stop holding and return the adapter, still open, for the door controller."""
        self._end()
        return self._io

    def let_go(self) -> None:
        """Stop holding and close the adapter, the output left as it is: this kiosk
        lost its id to another running kiosk, which drives the door (two holders would
        fight over the output). ``stop`` does nothing after it."""
        self._end()
        self._let_go = True
        log.warning("door %s let go: another kiosk holds this kiosk's id", self._io.name)
        with contextlib.suppress(DoorFault):  # an adapter's bug, logged by guarded
            guarded(self._io, self._io.close)

    def stop(self) -> None:
        """Lock once more and close the adapter: the kiosk is leaving without a door
        controller (its start-up failed or never finished)."""
        self._end()
        if self._let_go:
            return
        try:
            guarded(self._io, lambda: self._io.set_lock_output(self._locked_level))
        except DoorFault as error:
            log.error("could not lock the door on stop (%s): %s", self._io.name, error)
        with contextlib.suppress(DoorFault):  # an adapter's bug, logged by guarded
            guarded(self._io, self._io.close)

    def _end(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        retry_wait = self._settings.retry_s
        while not self._stopping.is_set():
            try:
                self._lock()
            except DoorFault as error:
                self._report(str(error))
                wait = retry_wait
                retry_wait = min(retry_wait * 2, self._settings.retry_max_s)
            else:
                self._report(None)
                retry_wait = self._settings.retry_s
                wait = self._settings.retry_max_s  # locked: only look again now and then
            self._first_try.set()
            self._stopping.wait(wait)

    def _lock(self) -> None:
        """Set the output locked unless it reads back locked, and read it back after.
        Raises DoorFault, also when the hardware took the write but reads back unlocked."""
        if self.fault is None and self._first_try.is_set():
            level = guarded(self._io, self._io.read_lock_output)
            if level is None or level == self._locked_level:
                return  # locked, or the adapter cannot read it back: leave it
            log.warning("door lock output found %s while held locked: setting it again", level)
        guarded(self._io, lambda: self._io.set_lock_output(self._locked_level))
        level = guarded(self._io, self._io.read_lock_output)
        if level is not None and level != self._locked_level:
            raise DoorFault(not_as_written(self._io.name, self._locked_level, level))

    def _report(self, fault: str | None) -> None:
        with self._fault_lock:
            # The first try is always told: the screen learns the door is locked.
            changed = fault != self._fault or not self._first_try.is_set()
            self._fault = fault
        if not changed:
            return
        if fault is None:
            log.info("door %s held locked until the kiosk has started", self._io.name)
        else:
            log.error("door hardware %s fault while holding it locked: %s", self._io.name, fault)
        try:
            self._on_fault(fault)
        except Exception:  # a listener's bug must not stop the hold
            log.exception("lock hold listener failed")
