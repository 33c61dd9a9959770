"""Driving one door: the control logic (core.access.door_control) on a thread of its
own, over the door hardware (core.access.door_io.DoorIo)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from core.access import door_requests
from core.access.door_control import DoorControl
from core.access.door_events import (
    DoorEvent,
    DoorFaultCleared,
    DoorFaulted,
    LockConfirmed,
    Unlocked,
    UnlockRefused,
)
from core.access.door_io import DebouncedInput, DoorIo, door_is_open, guarded, lock_output_on
from core.access.door_requests import CommandResult, DoorCommand
from core.access.door_status import CONTROL_FAILED, DoorStatus
from core.access.lock_output import WriteOutcome, write_lock_output
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision

log = logging.getLogger(__name__)

DoorListener = Callable[[DoorEvent], None]
"""Told of each door event on the door's thread: must return at once."""


_STOP = object()


class DoorController:
    """Exists so that the lock, the door contact and the exit button are driven and
    watched on a thread of their own: a slow or absent module never holds
    recognition, and the relock and the held-open alarm come on time without a
    frame arriving.

    The lock is forced locked when the thread starts and when it stops cleanly.
    Each write of the lock output is read back where the hardware can
    (core.access.lock_output). A write the hardware does not take is retried, first
    after ``retry_s`` then at doubling waits up to ``retry_max_s``, and reported as a
    fault; an unlock it did not take is given up (never sent late) and the grant told
    so. An unlock or relock whose outcome is unknown (the answer lost, late or
    garbled, the output unreadable), or a relock not taken, leaves the door possibly
    unlocked: the output is written locked every ``retry_s``, never at longer waits,
    until it reads back locked (LockConfirmed), and such an unlock is reported as
    unconfirmed (UnlockUnconfirmed), never as "did not open". Requests (``consume``,
    ``lockdown``...) may come from any thread; their producers wait for each one, so
    the command queue stays short.

    ``stand_down`` ends all driving for good: this kiosk lost its id to another
    running kiosk, whose door it would otherwise fight over.
    """

    def __init__(
        self,
        io: DoorIo,
        settings: DoorIoSettings,
        *,
        listeners: Sequence[DoorListener] = (),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._io = io
        self._settings = settings
        self._listeners = tuple(listeners)
        self._clock = clock
        self._wall_clock = wall_clock
        self._control = DoorControl(settings)
        self._commands: queue.Queue[object] = queue.Queue()
        self._contact = DebouncedInput(settings.debounce_s)
        self._exit_button = DebouncedInput(settings.debounce_s)
        self._written: bool | None = None
        """The lock output level the hardware last took; None: unknown (a fault)."""
        self._maybe_unlocked = False
        """A write's outcome, or the hardware lost while it was unlocked, left the door
        possibly unlocked: written every retry_s until it reads back as wanted."""
        self._unlock_level = lock_output_on(True, settings)
        self._stood_down: str | None = None
        """Why this kiosk no longer drives the door (its id taken by another kiosk)."""
        self._fault: str | None = None
        self._retry_at = 0.0
        self._retry_wait = settings.retry_s
        self._status_lock = threading.Lock()
        self._status = DoorStatus(adapter=io.name, state=self._control.state, fault=None)
        self.listener_failures = 0
        self._thread = threading.Thread(target=self._run, name="door", daemon=True)

    @property
    def status(self) -> DoorStatus:
        with self._status_lock:
            return self._status

    def start(self) -> None:
        # An exit nobody planned (SystemExit in a Qt slot) still relocks the door.
        atexit.register(self.stop)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Relock, release the hardware and end the thread; safe to call more than once."""
        atexit.unregister(self.stop)
        if self._thread.is_alive():
            self._commands.put(_STOP)
            self._thread.join(timeout_s)

    # ---- requests, from any thread ---------------------------------------------------------

    def consume(self, decision: AccessDecision) -> None:
        """A decision consumer: a grant unlocks. Waits up to ``command_timeout_s``;
        raises DoorFault when the lock did not take the unlock (the person is told by
        the UnlockFailed event)."""
        if not decision.granted:
            return
        command = self.grant(decision)
        result = command.wait(self._settings.command_timeout_s)
        if result is CommandResult.FAILED:
            raise DoorFault(f"the door did not unlock for {decision.event_id}: {command.detail}")
        if result is CommandResult.UNCONFIRMED:
            raise DoorFault(
                f"the door's unlock for {decision.event_id} is not confirmed: {command.detail}"
            )

    def grant(self, decision: AccessDecision) -> DoorCommand:
        return self._send(door_requests.grant_request(decision, self._wall_clock))

    def unlock_for(
        self,
        seconds: float,
        *,
        operator: str,
        reason: str,
        age_s: float = 0.0,
        command_id: int | None = None,
    ) -> DoorCommand:
        """Unlock until ``seconds`` from now: taken later, it lasts only what is left,
        and nothing once its time has passed. ``age_s``: how long ago it was asked for
        (a door command from the database); refused as stale past command_max_age_s,
        counting its wait here too."""
        return self._send(
            door_requests.timed_unlock_request(
                self._clock(),
                seconds,
                operator=operator,
                reason=reason,
                age_s=age_s,
                command_id=command_id,
            )
        )

    def stand_down(self, why: str) -> DoorCommand:
        """Never drive the door again: the adapter is closed with the output as it is,
        every later request is refused with ``why`` (this kiosk lost its id to another
        running kiosk, which drives the door now)."""

        def apply(_control: DoorControl, now: float) -> list[DoorEvent]:
            self._stood_down = why
            log.error("door %s no longer driven: %s", self._io.name, why)
            with contextlib.suppress(DoorFault):  # an adapter's bug, logged by guarded
                guarded(self._io, self._io.close)
            self._fault = why
            return [DoorFaulted(at_s=now, detail=why)]

        return self._send(DoorCommand(apply))

    def lockdown(self, *, operator: str, reason: str) -> DoorCommand:
        return self._send(door_requests.lockdown_request(operator=operator, reason=reason))

    def release(self, *, operator: str, reason: str) -> DoorCommand:
        return self._send(door_requests.release_request(operator=operator, reason=reason))

    def _send(self, command: DoorCommand) -> DoorCommand:
        if not self._thread.is_alive():
            command.fail("the door control is not running")
            return command
        self._commands.put(command)
        return command

    # ---- the door's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._drive_until_stopped()
        except BaseException:  # even a listener's SystemExit
            # A bug must not leave the door possibly unlocked: relocked below until it takes.
            log.critical("the door control failed; the lock is driven locked", exc_info=True)
            self._fault = CONTROL_FAILED
        finally:
            self._shut_down()

    def _drive_until_stopped(self) -> None:
        now = self._clock()
        self._publish(self._drive(now, None, self._control.start(now)))
        next_poll = now
        while True:
            command = self._next_command(next_poll)
            if command is _STOP:
                break
            now = self._clock()
            if self._stood_down is not None:  # nothing driven, nothing more recorded
                if isinstance(command, DoorCommand):
                    self._publish(door_requests.refuse(command, now, self._stood_down))
                    command.done.set()
                continue
            request = command if isinstance(command, DoorCommand) else None
            with door_requests.answered(request):
                events = self._applied(request, now) if request is not None else []
                events += self._control.tick(now)
                self._publish(self._drive(now, request, events))
            if now >= next_poll:
                next_poll = now + self._settings.poll_interval_s
                if self._fault is None or now >= self._retry_at:
                    self._poll(now)

    def _applied(self, command: DoorCommand, now: float) -> list[DoorEvent]:
        """``command``'s events; a request the control cannot carry out (a bug, a
        malformed request) fails alone, and the door goes on as it was."""
        try:
            return command.apply(self._control, now)
        except BaseException as error:
            log.exception("a door request failed and was not carried out")
            command.result = CommandResult.FAILED
            command.detail = f"the door could not carry out the request ({type(error).__name__})"
            return []

    def _next_command(self, next_poll: float) -> object:
        due = [next_poll]
        deadline = self._control.next_deadline()
        if deadline is not None:
            due.append(deadline)
        try:
            return self._commands.get(timeout=max(0.0, min(due) - self._clock()))
        except queue.Empty:
            return None

    def _drive(
        self, now: float, command: DoorCommand | None, events: Sequence[DoorEvent]
    ) -> list[DoorEvent]:
        """Bring the lock output to what the control wants, after ``events``; returns
        the events to publish. An unlock asked for now (an Unlocked in ``events``)
        that the hardware did not take is reported as UnlockFailed instead, one whose
        outcome is unknown as UnlockUnconfirmed, and either is given up: never sent
        late. Any other write that fails (the relock when the time is up, an unlock
        taken before the link went down) leaves the control's state as it is, and
        that state is written again when the hardware answers. A command is worth a
        try even while the hardware is faulted: someone is waiting at the door."""
        if command is not None and any(isinstance(e, UnlockRefused) for e in events):
            command.result = CommandResult.REFUSED
        if self._stood_down is not None:
            return list(events)
        unlocking = self._control.state.unlocked
        wanted = lock_output_on(unlocking, self._settings)
        due = command is not None or self._fault is None or now >= self._retry_at
        if wanted == self._written or not due:
            return list(events)
        before = self._written
        write = write_lock_output(self._io, wanted)
        published = list(events)
        if write.outcome is WriteOutcome.TAKEN:
            self._written = wanted
            if self._maybe_unlocked and not unlocking:
                published.append(LockConfirmed(at_s=now))
            self._maybe_unlocked = False
            if write.fault is None:
                self._cleared(now)
            else:  # it took, but an answer was lost: the link is faulty
                self._faulted(now, write.fault)
            return published
        unlocks = [e for e in events if isinstance(e, Unlocked)]
        detail = write.fault or "the door hardware did not take the lock output"
        if write.outcome is WriteOutcome.NOT_TAKEN:
            # The output is where it reads back, else where it was (the write never
            # reached the hardware): at the unlock level, the door is unlocked.
            level = write.read_back if write.read_back is not None else before
            self._written = level
            maybe = self._maybe_unlocked if level is None else level == self._unlock_level
            self._possibly_unlocked(now, maybe, detail)
            if unlocks:
                return door_requests.give_up_unlock(self._control, now, command, events, detail)
            return published
        self._written = None
        what = "unlock" if unlocking else "relock"
        detail = f"{what} not confirmed, the door may be unlocked: {detail}"
        self._possibly_unlocked(now, True, detail)
        if unlocks:
            return door_requests.give_up_unlock(
                self._control, now, command, events, detail, confirmed=False
            )
        return published

    def _possibly_unlocked(self, now: float, maybe: bool, detail: str) -> None:
        """A write did not take, or its outcome is unknown; ``maybe``: the door may be
        unlocked now, against the control's state. Becoming so is audited even while
        the hardware is already faulted."""
        newly = maybe and not self._maybe_unlocked and self._fault is not None
        self._maybe_unlocked = maybe
        self._faulted(now, detail)
        if newly:
            self._publish([DoorFaulted(at_s=now, detail=detail)])

    def _poll(self, now: float) -> None:
        try:
            inputs = guarded(self._io, self._io.read_inputs)
        except DoorFault as error:
            if self._written == self._unlock_level:  # out of reach while unlocked
                self._maybe_unlocked = True
            self._written = None  # it may restart meanwhile: set again once it answers
            # While the door may be unlocked, that stays the fault shown.
            self._faulted(now, self._fault if self._maybe_unlocked and self._fault else str(error))
            self._update_status()
            return
        if inputs.lock_output is not None and inputs.lock_output != self._written:
            if self._written is not None:
                log.warning(
                    "door lock output found %s, not as set: setting it again", inputs.lock_output
                )
            self._written = None
        wanted = lock_output_on(self._control.state.unlocked, self._settings)
        if self._fault is not None and self._written == wanted:
            self._cleared(now)  # else cleared once the output is written and read back
        events: list[DoorEvent] = []
        if inputs.contact is not None and self._contact.update(inputs.contact, now):
            is_open = door_is_open(inputs.contact, self._settings)
            events += self._control.door_contact(now, is_open=is_open)
        if inputs.exit_button is not None:
            seen_before = self._exit_button.level is not None  # held at start: not a press
            changed = self._exit_button.update(inputs.exit_button, now)
            if changed and seen_before and self._exit_button.level:
                events += self._control.request_exit(now)
        self._publish(self._drive(now, None, events))

    def _faulted(self, now: float, detail: str) -> None:
        if self._fault is None:
            log.error("door hardware %s fault: %s", self._io.name, detail)
            self._fault = detail
            self._retry_wait = self._settings.retry_s
            self._publish([DoorFaulted(at_s=now, detail=detail)])
        else:
            self._fault = detail
            self._retry_wait = min(self._retry_wait * 2, self._settings.retry_max_s)
        if self._maybe_unlocked:
            self._retry_wait = self._settings.retry_s  # never wait long with the door open
        self._retry_at = now + self._retry_wait

    def _cleared(self, now: float) -> None:
        if self._fault is None:
            return
        log.warning("door hardware %s answers again", self._io.name)
        self._fault = None
        self._publish([DoorFaultCleared(at_s=now)])

    def _shut_down(self) -> None:
        now = self._clock()
        if self._stood_down is None:  # else the door is the other kiosk's to drive
            try:
                self._publish(self._control.stop(now))
            except BaseException:  # the lock is written locked all the same, just below
                log.exception("the door control could not record its stop")
            write = write_lock_output(self._io, lock_output_on(False, self._settings))
            while write.outcome is not WriteOutcome.TAKEN and self._fault == CONTROL_FAILED:
                if door_requests.stop_arrives(self._commands, self._settings.retry_s, _STOP):
                    break  # no thread is left to try again: whoever stops it is told
                write = write_lock_output(self._io, lock_output_on(False, self._settings))
            if write.outcome is not WriteOutcome.TAKEN:
                log.error(
                    "the door lock is not confirmed locked on stop (%s): %s",
                    self._io.name,
                    write.fault,
                )
                self._fault = self._fault if self._fault == CONTROL_FAILED else write.fault
            with contextlib.suppress(DoorFault):  # an adapter's bug, logged by guarded
                guarded(self._io, self._io.close)
        self._update_status()
        door_requests.fail_waiting(self._commands, "the door control stopped")

    def _update_status(self) -> None:
        with self._status_lock:
            self._status = DoorStatus(
                adapter=self._io.name, state=self._control.state, fault=self._fault
            )

    def _publish(self, events: Sequence[DoorEvent]) -> None:
        self._update_status()
        for event in events:
            for listener in self._listeners:
                try:
                    listener(event)
                except BaseException:  # a listener's bug must not stop the door
                    self.listener_failures += 1
                    log.exception("door listener failed on %s", type(event).__name__)
