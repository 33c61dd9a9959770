"""Driving one door: the control logic (core.access.door_control) on a thread of its
own, over the door hardware (core.access.door_io.DoorIo)."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from core.access.door_control import DoorControl, DoorState
from core.access.door_events import (
    DoorEvent,
    DoorFaultCleared,
    DoorFaulted,
    UnlockCause,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
)
from core.access.door_io import DebouncedInput, DoorIo, door_is_open, guarded, lock_output_on
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision

log = logging.getLogger(__name__)

DoorListener = Callable[[DoorEvent], None]
"""Told of each door event on the door's thread: must return at once."""


@dataclass(frozen=True, kw_only=True)
class DoorStatus:
    adapter: str
    state: DoorState
    fault: str | None
    """Why the hardware is not answering; None while it is."""


class CommandResult(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    """Refused by the door's rules (lockdown, a late grant): not a fault."""
    FAILED = "failed"
    """The hardware did not take it."""


@dataclass(eq=False)
class DoorCommand:
    """One request to the door; ``done`` is set once it was carried out or failed."""

    apply: Callable[[DoorControl, float], list[DoorEvent]]
    event_id: uuid.UUID | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: CommandResult = CommandResult.DONE
    detail: str = ""

    def wait(self, timeout_s: float) -> CommandResult:
        """Raises DoorFault if it was not carried out within ``timeout_s``."""
        if not self.done.wait(timeout_s):
            raise DoorFault(
                f"the door hardware did not answer within {timeout_s:g} s; "
                "check its power and connection (door_io settings)"
            )
        return self.result


_STOP = object()


class DoorController:
    """Exists so that the lock, the door contact and the exit button are driven and
    watched on a thread of their own: a slow or absent module never holds
    recognition, and the relock and the held-open alarm come on time without a
    frame arriving.

    The lock is forced locked when the thread starts and when it stops cleanly.
    A command the hardware does not take is retried, first after ``retry_s`` then
    at doubling waits up to ``retry_max_s``, and reported as a fault; an unlock it
    did not take is given up (never sent late) and the grant told so. Requests
    (``consume``, ``lockdown``...) may come from any thread; their producers wait
    for each one, so the command queue stays short.
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
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Relock, release the hardware and end the thread; safe to call more than once."""
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
        if command.wait(self._settings.command_timeout_s) is CommandResult.FAILED:
            raise DoorFault(f"the door did not unlock for {decision.event_id}: {command.detail}")

    def grant(self, decision: AccessDecision) -> DoorCommand:
        def apply(control: DoorControl, now: float) -> list[DoorEvent]:
            # Aged when the door's thread takes it, not when it was sent: a grant that
            # waited behind a slow hardware call is refused, never opened late.
            age_s = (self._wall_clock() - decision.occurred_at).total_seconds()
            return control.grant(now, event_id=decision.event_id, age_s=age_s)

        return self._send(DoorCommand(apply, event_id=decision.event_id))

    def unlock_for(self, seconds: float, *, operator: str, reason: str) -> DoorCommand:
        """Unlock until ``seconds`` from now: taken later, it lasts only what is left,
        and nothing once its time has passed."""
        until = self._clock() + seconds
        return self._send(
            DoorCommand(
                lambda control, now: control.unlock_for(
                    now, seconds=until - now, operator=operator, reason=reason
                )
            )
        )

    def lockdown(self, *, operator: str, reason: str) -> DoorCommand:
        return self._send(
            DoorCommand(
                lambda control, now: control.lockdown(now, operator=operator, reason=reason)
            )
        )

    def release(self, *, operator: str, reason: str) -> DoorCommand:
        return self._send(
            DoorCommand(lambda control, now: control.release(now, operator=operator, reason=reason))
        )

    def _send(self, command: DoorCommand) -> DoorCommand:
        if not self._thread.is_alive():
            command.result, command.detail = CommandResult.FAILED, "the door control is not running"
            command.done.set()
            return command
        self._commands.put(command)
        return command

    # ---- the door's thread -----------------------------------------------------------------

    def _run(self) -> None:
        now = self._clock()
        self._publish(self._drive(now, None, self._control.start(now)))
        next_poll = now
        while True:
            command = self._next_command(next_poll)
            if command is _STOP:
                break
            now = self._clock()
            events: list[DoorEvent] = []
            if isinstance(command, DoorCommand):
                events += command.apply(self._control, now)
            events += self._control.tick(now)
            self._publish(
                self._drive(now, command if isinstance(command, DoorCommand) else None, events)
            )
            if isinstance(command, DoorCommand):
                command.done.set()
            if now >= next_poll:
                next_poll = now + self._settings.poll_interval_s
                if self._fault is None or now >= self._retry_at:
                    self._poll(now)
        self._shut_down()

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
        the events to publish. An unlock asked for now (an Unlocked in ``events``) that
        the hardware did not take is reported as UnlockFailed instead, and given up:
        never sent late. Any other write that fails (the relock when the time is up,
        an unlock taken before the link went down) leaves the control's state as it
        is, and that state is written again when the hardware answers. A command is
        worth a try even while the hardware is faulted: someone is waiting at the door."""
        if command is not None and any(isinstance(e, UnlockRefused) for e in events):
            command.result = CommandResult.REFUSED
        wanted = lock_output_on(self._control.state.unlocked, self._settings)
        due = command is not None or self._fault is None or now >= self._retry_at
        if wanted == self._written or not due:
            return list(events)
        try:
            guarded(self._io, lambda: self._io.set_lock_output(wanted))
        except DoorFault as error:
            self._written = None
            self._faulted(now, str(error))
            unlocks = [e for e in events if isinstance(e, Unlocked)]
            if unlocks:
                return self._give_up_unlock(now, command, events, unlocks, str(error))
            return list(events)
        self._written = wanted
        self._cleared(now)
        return list(events)

    def _give_up_unlock(
        self,
        now: float,
        command: DoorCommand | None,
        events: Sequence[DoorEvent],
        unlocks: Sequence[Unlocked],
        detail: str,
    ) -> list[DoorEvent]:
        self._control.abandon_unlock(now)
        if command is not None:
            command.result, command.detail = CommandResult.FAILED, detail
        grant = next((e.event_id for e in unlocks if e.cause is UnlockCause.GRANT), None)
        kept = [e for e in events if not isinstance(e, Unlocked)]
        return [*kept, UnlockFailed(at_s=now, event_id=grant, detail=detail)]

    def _poll(self, now: float) -> None:
        try:
            inputs = guarded(self._io, self._io.read_inputs)
        except DoorFault as error:
            self._written = None
            self._faulted(now, str(error))
            self._update_status()
            return
        if self._fault is not None:
            self._cleared(now)  # it may have restarted: the output is set again below
        if inputs.lock_output is not None and inputs.lock_output != self._written:
            if self._written is not None:
                log.warning(
                    "door lock output found %s, not as set: setting it again", inputs.lock_output
                )
            self._written = None
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
            self._retry_wait = min(self._retry_wait * 2, self._settings.retry_max_s)
        self._retry_at = now + self._retry_wait

    def _cleared(self, now: float) -> None:
        if self._fault is None:
            return
        log.warning("door hardware %s answers again", self._io.name)
        self._fault = None
        self._publish([DoorFaultCleared(at_s=now)])

    def _shut_down(self) -> None:
        now = self._clock()
        self._publish(self._control.stop(now))
        try:
            locked = lock_output_on(False, self._settings)
            guarded(self._io, lambda: self._io.set_lock_output(locked))
        except DoorFault as error:
            log.error("could not lock the door on stop (%s): %s", self._io.name, error)
        with contextlib.suppress(DoorFault):  # an adapter's bug, logged by guarded
            guarded(self._io, self._io.close)
        self._update_status()
        while True:  # anyone still waiting is told, not left hanging
            try:
                pending = self._commands.get_nowait()
            except queue.Empty:
                break
            if isinstance(pending, DoorCommand):
                pending.result, pending.detail = CommandResult.FAILED, "the door control stopped"
                pending.done.set()

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
                except Exception:  # a listener's bug must not stop the door
                    self.listener_failures += 1
                    log.exception("door listener failed on %s", type(event).__name__)
